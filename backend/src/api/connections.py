"""HTTP connection limits uvicorn does not have, on uvicorn's own httptools protocol.

uvicorn (0.54, httptools/llhttp) bounds neither the size of a request head nor the time a client may take to
send it: a 32 MB header line is buffered whole (and the memory stays with the process), and a socket that
dribbles its headers is kept open for ever. Its ``limit_concurrency`` counts *open connections*, so 70
sockets that never finish a request made every request, ``/health`` included, a plain-text 503. The h11
protocol has a head limit (``h11_max_incomplete_event_size``) but no read timeout either, and parses in
Python, which holds the GIL the event loop answers ``/health`` with (the README has the measurement).

:func:`bounded_http_protocol` subclasses uvicorn's httptools protocol and adds, per connection:

- a **head limit**: once the request line and headers pass ``max_head_bytes`` the request is answered 431
  (JSON, ``Connection: close``) before the rest is read; memory held per connection stays below the limit
  plus one socket read;
- a **read timeout**: the request (line, headers and body) must arrive within ``read_timeout_s`` of the
  connection opening or of its first byte; otherwise 408 and the connection is closed (uvicorn's
  ``timeout_keep_alive`` already closes connections idle between requests);
- a **connection cap** that never locks anyone out: beyond ``max_connections``, a new connection closes the
  oldest connection that is idle or still sending its head, so a health probe always gets in while slow
  clients make room.

Admission of requests (how many run at once, JSON 503 with ``Retry-After``, ``/health`` and ``/ready`` never
refused) is the application's job: :class:`factmem.api.middleware.RequestContextMiddleware`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may cost the server."""

    max_head_bytes: int = 16_384
    read_timeout_s: float = 5.0
    max_connections: int = 1_024


def json_error_bytes(status: int, detail: str, request_id: str, extra_headers: str = "") -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 error response in the API's JSON error format."""
    body = json.dumps({"detail": detail, "request_id": request_id}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        f"{extra_headers}"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _ThrottledLog:
    """At most one warning per kind per ``interval_s``, with how many were not logged: an attacker opening
    thousands of sockets must not also fill the disk with log lines."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -self.interval_s) < self.interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        logger.warning(message + " (%d more like it not logged)", *args, suppressed)


_log = _ThrottledLog()


class _HeadTooLarge(Exception):
    """Raised inside the parser's callback to stop parsing a request whose head is over the limit."""


def bounded_http_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with ``limits`` applied (pass it as uvicorn's ``http=``)."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        #: connections not running a request (reading a head, or idle between requests), oldest first
        _evictable: dict[BoundedHttpToolsProtocol, None] = {}  # noqa: RUF012 (shared by the server on purpose)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._reading_head = True
            self._head_bytes = 0
            self._head_too_large = False
            self._read_deadline: asyncio.TimerHandle | None = None

        # --- connection lifetime ---

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._make_room()
            self._evictable[self] = None
            self._arm_read_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._evictable.pop(self, None)
            self._disarm_read_deadline()
            super().connection_lost(exc)

        def _make_room(self) -> None:
            excess = len(self.connections) - limits.max_connections
            for victim in list(self._evictable)[: max(0, excess)]:
                self._evictable.pop(victim, None)
                logger.warning(
                    "connection cap %d reached: closing an idle connection", limits.max_connections
                )
                victim.transport.close()

        # --- the read timeout ---

        def _arm_read_deadline(self) -> None:
            if self._read_deadline is None:
                self._read_deadline = self.loop.call_later(limits.read_timeout_s, self._read_timed_out)

        def _disarm_read_deadline(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
                self._read_deadline = None

        def _read_timed_out(self) -> None:
            self._read_deadline = None
            if self.transport.is_closing():
                return
            if self._reading_head:
                self._refuse(408, f"request head not received within {limits.read_timeout_s:g} s")
            else:  # the body is late: the app is already waiting for it and sees a disconnect
                self.transport.close()

        # --- parser callbacks ---

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._reading_head = True
            self._head_bytes = 0
            self._evictable[self] = None
            self._arm_read_deadline()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > limits.max_head_bytes:
                self._head_too_large = True
                raise _HeadTooLarge

        def on_headers_complete(self) -> None:
            head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if head > limits.max_head_bytes:
                self._head_too_large = True
                raise _HeadTooLarge
            self._reading_head = False
            self._evictable.pop(self, None)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm_read_deadline()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._reading_head:
                self._evictable[self] = None  # idle until the next request (uvicorn's keep-alive timer runs)

        # --- input ---

        def data_received(self, data: bytes) -> None:
            super().data_received(data)  # parses; a parser error (ours included) ends in send_400_response
            if self.transport.is_closing() or not self._reading_head:
                return
            self._head_bytes += len(data)
            if self._head_bytes > limits.max_head_bytes:
                self._head_too_large = True
                self.send_400_response("")

        def send_400_response(self, msg: str) -> None:
            if self._head_too_large:
                self._refuse(
                    431,
                    f"request line and headers over {limits.max_head_bytes} bytes; send a smaller request",
                )
            else:
                self._refuse(400, "invalid HTTP request")

        def _refuse(self, status: int, detail: str) -> None:
            request_id = uuid.uuid4().hex
            _log.warning(
                str(status), "refused request status=%d request_id=%s reason=%s", status, request_id, detail
            )
            self._disarm_read_deadline()
            self.transport.write(json_error_bytes(status, detail, request_id))
            self.transport.close()

    return BoundedHttpToolsProtocol

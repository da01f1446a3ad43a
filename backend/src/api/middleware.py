"""ASGI middleware: a request id on every request, response and error log line; a hard cap on body size;
a cap on requests in flight that never refuses the health probes.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so it adds microseconds, streams bodies without buffering
them, and can refuse an oversized body before the application reads it into memory.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factmem.logging_setup import request_id_var

logger = logging.getLogger(__name__)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


#: Never refused for load: what platforms and monitors poll to decide whether to restart the service.
ALWAYS_ADMITTED_PATHS = frozenset({"/health", "/ready", "/metrics"})


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, object],
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(HTTPException):
    """Raised while the app reads the body; an HTTPException so FastAPI's body parsing passes it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body over {limit} bytes")


class RequestContextMiddleware:
    """Assigns the request id (a sane incoming ``X-Request-ID`` is kept), enforces ``max_body_bytes``, and
    admits at most ``max_in_flight`` requests at once.

    The in-flight cap replaces uvicorn's ``limit_concurrency``, which counts open connections (idle ones
    included) and answers a plain-text 503 without ``Retry-After`` to every path: here only requests being
    served count, the answer is the API's JSON 503 with ``Retry-After``, and ``ALWAYS_ADMITTED_PATHS`` are
    never refused (they are cheap, and a refused health check gets a healthy service restarted).
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, max_in_flight: int = 64, retry_after_s: int = 5
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0  # touched only on the event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        too_large = {"detail": f"request body over {self.max_body_bytes} bytes", "request_id": request_id}
        admitted = False
        try:
            if scope.get("path") not in ALWAYS_ADMITTED_PATHS:
                if self.in_flight >= self.max_in_flight:
                    busy = {
                        "detail": f"server busy: {self.in_flight} requests in progress; retry shortly",
                        "request_id": request_id,
                    }
                    retry = [(b"retry-after", str(self.retry_after_s).encode())]
                    await _send_json(send, 503, busy, request_id, retry)
                    return
                self.in_flight += 1
                admitted = True
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await _send_json(send, 413, too_large, request_id)
                return

            received = 0
            response_started = False

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge(self.max_body_bytes)
                return message

            async def send_with_id(message: Message) -> None:
                nonlocal response_started
                if message["type"] == "http.response.start":
                    response_started = True
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
                await send(message)

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                if not response_started:
                    await _send_json(send, 413, too_large, request_id)
            except Exception:
                # Handled here, not in Starlette's outermost error middleware, so the log line and the
                # response both carry this request's id; the client sees no internals.
                logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                if response_started:
                    raise
                body = {
                    "detail": "internal error; quote the request_id when reporting it",
                    "request_id": request_id,
                }
                await _send_json(send, 500, body, request_id)
        finally:
            if admitted:
                self.in_flight -= 1
            request_id_var.reset(token)

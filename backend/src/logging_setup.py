"""Log lines as ``key=value`` pairs with the request id, so an operator can grep one request end to end."""

from __future__ import annotations

import contextvars
import logging
from urllib.parse import urlsplit, urlunsplit

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "info") -> None:
    """Idempotent: uvicorn and tests may both call it."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(getattr(h, "_factmem", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s")
    )
    handler.addFilter(_RequestIdFilter())
    handler._factmem = True  # type: ignore[attr-defined]
    root.addHandler(handler)


def redact_url(url: str | None) -> str | None:
    """Drop credentials from a URL before it is logged or shown."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

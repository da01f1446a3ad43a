"""Log lines with the request id, readable ``key=value`` text by default or one JSON object per line.

Text is what an operator greps on a terminal; ``LOG_FORMAT=json`` is what log platforms (Render's log
streams, Loki, Datadog) parse into fields. Either way every record carries the request id, and the values of
configured secrets are masked before a record is written, whatever code logged them.
"""

from __future__ import annotations

import contextvars
import logging
from urllib.parse import urlsplit, urlunsplit

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
#: uvicorn's own loggers; in JSON mode they go through the root handler so every line is JSON.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_MASK = "***"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log record from now on (API keys, tokens; at least 8 characters)."""
    if value and len(value) >= 8:
        _secrets.add(value)


class _RequestContextFilter(logging.Filter):
    """Adds the request id and masks secrets (the message is rendered here, once, so args are masked too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if _secrets:
            message = record.getMessage()
            masked = message
            for secret in _secrets:
                masked = masked.replace(secret, _MASK)
            if masked != message:
                record.msg, record.args = masked, None
        return True


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """Idempotent: uvicorn, the app factory and tests may all call it; the last format asked for wins."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler = next((h for h in root.handlers if getattr(h, "_factmem", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.addFilter(_RequestContextFilter())
        handler._factmem = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(_formatter(log_format))
    if log_format == "json":
        for name in _UVICORN_LOGGERS:
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True


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

"""Starts factmem with uvicorn, one worker: ``python backend/api_server.py``.

One worker on purpose: the embedded Qdrant Edge shard belongs to one process, and a second worker would
load a second copy of the model. Scale out with more instances sharing a Qdrant server (``QDRANT_URL``).

Start it this way, not with the ``uvicorn`` command: the command line cannot pass the HTTP protocol that
bounds request heads, slow clients and connections (:mod:`factmem.api.connections`).
"""

from __future__ import annotations

import sys

import uvicorn

from factmem.api.app import create_app
from factmem.api.connections import ConnectionLimits, bounded_http_protocol
from factmem.memory.allocator import configure_allocator
from factmem.settings import get_settings

# Before any worker thread exists: the model's large activation buffers go back to the OS when freed.
configure_allocator(get_settings())

app = create_app(stop_on_startup_failure=True)

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        log_level=settings.log_level,
        http=bounded_http_protocol(
            ConnectionLimits(
                max_head_bytes=settings.max_header_bytes,
                read_timeout_s=settings.request_read_timeout_s,
                max_connections=settings.max_connections,
            )
        ),
        # requests in flight are capped by the app (JSON 503 + Retry-After, never /health), not by
        # uvicorn's count of open connections
        limit_concurrency=None,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        access_log=False,
        # The app reads X-Forwarded-For itself, only from TRUSTED_PROXIES (factmem.api.client_address);
        # uvicorn's own handling would believe it from any loopback peer.
        proxy_headers=False,
        # JSON logs: leave logging to the app, whose root handler then formats uvicorn's lines too.
        **({"log_config": None} if settings.log_format == "json" else {}),
    )
    service = getattr(app.state, "service", None)
    if service is not None and service.startup_error is not None:
        sys.exit(f"factmem did not start: {service.startup_error}")

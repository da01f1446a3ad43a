"""The FastAPI application: routers, middleware, error handlers, and the service's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from factmem import __version__
from factmem.api import claim_store, observability, operations, verify
from factmem.api.errors import install_error_handlers
from factmem.api.middleware import RequestContextMiddleware
from factmem.api.observability import MetricsMiddleware
from factmem.api.service import Service
from factmem.logging_setup import configure_logging
from factmem.memory.readings import log_memory_usage
from factmem.metrics import Metrics
from factmem.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; heavy resources are created in the lifespan, once, not at import."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_memory_usage("startup", logger, limit_mb=settings.memory_limit_mb)
        # Sync routes run on AnyIO's thread pool (40 threads by default). Verifications beyond the slot limit
        # are refused anyway, so a few more threads than slots serve the other sync routes; fewer threads
        # mean fewer stacks and less GIL contention with the event loop that answers /health.
        to_thread.current_default_thread_limiter().total_tokens = settings.max_concurrent_requests + 4
        metrics = Metrics(
            memory_limit_mb=settings.memory_limit_mb,
            store_backend="qdrant-server" if settings.uses_remote_qdrant else "qdrant-edge",
        )
        app.state.metrics = metrics
        service = Service(settings, observer=metrics)
        app.state.service = service
        metrics.watch(service)
        service.open()
        try:
            yield
        finally:
            service.close()
            log_memory_usage("shutdown", logger, limit_mb=settings.memory_limit_mb)

    app = FastAPI(
        title="factmem",
        version=__version__,
        description="Fact verification with a persistent memory of verified claims, sized for 512 MB.",
        lifespan=lifespan,
    )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_in_flight=settings.max_in_flight_requests,
        retry_after_s=settings.retry_after_s,
    )
    app.add_middleware(MetricsMiddleware)  # outermost: also times the 413s answered by the one above
    install_error_handlers(app)
    app.include_router(operations.router)
    app.include_router(observability.router)
    app.include_router(verify.router)
    app.include_router(claim_store.router)
    return app

"""The FastAPI application: routers, middleware, error handlers, and the service's lifespan."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from factmem import __version__
from factmem.api import claim_store, observability, operations, page, verify
from factmem.api.access import ClientAccess
from factmem.api.client_address import ProxyTrust
from factmem.api.errors import install_error_handlers
from factmem.api.middleware import RequestContextMiddleware
from factmem.api.observability import MetricsMiddleware
from factmem.api.service import Service
from factmem.logging_setup import configure_logging, redact_url, register_secret
from factmem.memory.readings import log_memory_usage
from factmem.metrics import Metrics
from factmem.outbound import Outbound
from factmem.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def open_outbound(settings: Settings) -> Outbound | None:
    """The process's one HTTP client and usage totals, when a remote provider is configured.

    Imported only then: httpx and the provider code cost ~4 MB of RSS a local-only deployment never pays.
    """
    if not settings.providers_configured:
        return None
    from factmem.outbound.http import open_http_client
    from factmem.outbound.usage import ProviderUsage

    logger.info(
        "remote providers: llm=%s model=%s web_search=%s url=%s",
        redact_url(settings.llm_base_url),
        settings.llm_model,
        settings.web_search_provider,
        redact_url(settings.web_search_url),
    )
    return Outbound(http=open_http_client(settings), usage=ProviderUsage())


def create_app(settings: Settings | None = None, *, stop_on_startup_failure: bool = False) -> FastAPI:
    """Build the app; heavy resources are created in the lifespan, once, not at import.

    ``stop_on_startup_failure``: a failed warm-up shuts the server down (``backend/api_server.py`` then
    exits non-zero so the platform restarts it); in-process tests keep serving to inspect the failure.
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    secrets = (
        settings.admin_api_key,
        settings.qdrant_api_key,
        settings.llm_api_key,
        settings.web_search_api_key,
    )
    for secret in secrets:
        register_secret(secret.get_secret_value() if secret else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format)  # again: uvicorn.run configures its own
        log_memory_usage("startup", logger, limit_mb=settings.memory_limit_mb)
        # Sync routes run on AnyIO's thread pool (40 threads by default). Verifications beyond the slot limit
        # are refused anyway, so a few more threads than slots serve the other sync routes; fewer threads
        # mean fewer stacks and less GIL contention with the event loop that answers /health.
        to_thread.current_default_thread_limiter().total_tokens = settings.cpu_slots + 4
        metrics = Metrics(
            memory_limit_mb=settings.memory_limit_mb,
            store_backend="qdrant-server" if settings.uses_remote_qdrant else "qdrant-edge",
        )
        app.state.metrics = metrics
        outbound = open_outbound(settings)
        service = Service(settings, observer=metrics, outbound=outbound)
        app.state.service = service
        if stop_on_startup_failure:
            # a graceful shutdown (stores flushed and closed), then api_server.py exits with 3
            service.on_startup_failure = lambda _reason: os.kill(os.getpid(), signal.SIGTERM)
        metrics.watch(service)
        service.open()
        try:
            yield
        finally:
            service.close()
            if outbound is not None:
                await outbound.http.aclose()
            log_memory_usage("shutdown", logger, limit_mb=settings.memory_limit_mb)

    app = FastAPI(
        title="factmem",
        version=__version__,
        description="Fact verification with a persistent memory of verified claims, sized for 512 MB.",
        lifespan=lifespan,
    )
    app.state.client_access = ClientAccess.from_settings(settings)
    app.state.proxy_trust = ProxyTrust(settings.trusted_proxy_list)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_in_flight=settings.in_flight_limit,
        retry_after_s=settings.retry_after_s,
    )
    if settings.cors_origin_list:
        # Around the request-id layer, so its 413s and 500s carry CORS headers too: a browser shows a
        # response without them as "Failed to fetch", hiding the error the API worded.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware)  # outermost: also times the 413s answered by the one above
    install_error_handlers(app)
    app.include_router(operations.router)
    app.include_router(observability.router)
    app.include_router(verify.router)
    app.include_router(claim_store.router)
    app.include_router(page.router)
    return app

"""Operational endpoints: what the service is, liveness with memory figures, and readiness.

``/health`` is what Render polls (a failing check for 60 s restarts the service, a check times out after
5 s). It is an ``async`` route so it runs on the event loop, never waits behind busy worker threads, and it
never loads a model: it reads ``/proc`` and the cgroup files, nothing more.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from factmem import __version__
from factmem.api.deps import ServiceDep
from factmem.memory_monitor import get_memory_usage

router = APIRouter(tags=["operations"])


@router.get("/")
async def index(service: ServiceDep) -> dict[str, Any]:
    """What this service is and where to start."""
    return {
        "service": "factmem",
        "version": __version__,
        "description": "Fact verification with a persistent memory of verified claims.",
        "store_backend": service.claim_store.backend if service.claim_store else None,
        "endpoints": {
            "verify": 'POST /verify {"raw_text": "..."}',
            "health": "GET /health",
            "ready": "GET /ready",
            "stats": "GET /stats",
            "claim": "GET /claims/{id}",
            "ingest": "POST /claims, POST /evidence (admin)",
            "docs": "GET /docs",
        },
    }


@router.get("/health")
async def health(service: ServiceDep) -> dict[str, Any]:
    """Liveness and memory: 200 whenever the process can answer; ``degraded`` when it is under pressure."""
    settings = service.settings
    usage = get_memory_usage(settings.memory_limit_mb)
    anon = usage.rss_anon_mb if usage.rss_anon_mb is not None else usage.rss_mb
    pressured = usage.limit_mb is not None and anon > settings.memory_soft_fraction * usage.limit_mb
    degraded = pressured or service.startup_error is not None
    return {
        "status": "degraded" if degraded else "healthy",
        "memory_mb": round(usage.rss_mb, 1),
        "memory_percent": round(usage.percent, 1) if usage.percent is not None else None,
        "memory_limit_mb": usage.limit_mb,
        "rss_anon_mb": usage.rss_anon_mb,
        "rss_file_mb": usage.rss_file_mb,
        "peak_rss_mb": usage.peak_rss_mb,
        "limit_source": usage.limit_source,
        "container_usage_mb": usage.container_usage_mb,
        "ready": service.ready.is_set(),
        "model_loaded": service.model_loaded,
        "store_backend": service.claim_store.backend if service.claim_store else None,
        "uptime_s": round(service.uptime_s, 1),
        "requests_admitted": service.guard.requests_admitted,
        "requests_shed": service.guard.requests_shed,
        "cleanups": service.guard.cleanups,
        "version": __version__,
    }


@router.get("/ready")
async def ready(service: ServiceDep) -> JSONResponse:
    """Readiness: 200 once the model and the store are loaded, 503 before (or if startup failed)."""
    if service.startup_error is not None:
        return JSONResponse({"ready": False, "reason": "startup failed; see the server log"}, 503)
    if not service.ready.is_set():
        return JSONResponse({"ready": False, "reason": "loading the embedding model and the memory"}, 503)
    return JSONResponse({"ready": True})

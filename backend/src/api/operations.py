"""Operational endpoints: what the service is, liveness with memory figures, and readiness.

``/health`` is what Render polls (a failing check for 60 s restarts the service, a check times out after
5 s). It is an ``async`` route so it runs on the event loop, never waits behind busy worker threads, and it
never loads a model: it reads ``/proc`` and the cgroup files, nothing more.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from factmem import __version__
from factmem.api import page
from factmem.api.deps import ServiceDep
from factmem.api.schemas import HealthOut, NotReadyOut, StorageOut, error_responses

router = APIRouter(tags=["operations"])


@router.get("/", response_model=None, responses=error_responses(503))
async def index(request: Request, service: ServiceDep) -> dict[str, Any] | Response:
    """What this service is and where to start: the web page for a browser, this JSON for API clients."""
    if page.wants_html(request):
        return page.page_response(request)
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
            "page": "GET / with Accept: text/html",
        },
    }


@router.get("/health", response_model=HealthOut, responses=error_responses())
async def health(service: ServiceDep) -> Response:
    """Liveness and memory: 200 whenever the process can answer; ``degraded`` when it is under pressure.

    The body is built as a ``HealthOut`` (checked against its schema) and written by pydantic's serializer
    in one step; FastAPI then has no dict to walk and validate again on the event loop.
    """
    check = service.guard.check()
    usage = check.usage
    storage = service.storage_status()
    degraded = check.over_soft or check.over_hard or service.startup_error is not None or not storage.writable
    body = HealthOut(
        status="degraded" if degraded else "healthy",
        memory_mb=round(usage.rss_mb, 1),
        memory_percent=round(usage.percent, 1) if usage.percent is not None else None,
        memory_limit_mb=check.limit_mb,
        **{k: v for k, v in usage.as_dict().items() if k not in {"rss_mb", "percent", "limit_mb"}},
        started=service.ready.is_set(),
        ready=service.ready.is_set() and not check.over_hard,
        shedding=check.over_hard,
        model_loaded=service.model_loaded,
        store_backend=service.claim_store.backend if service.claim_store else None,
        storage=StorageOut(**storage.as_dict()),
        uptime_s=round(service.uptime_s, 1),
        requests_admitted=service.admission.admitted,
        requests_shed=service.admission.refused_total,
        cleanups=service.guard.cleanups,
        version=__version__,
    )
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/ready", responses={503: {"model": NotReadyOut, "description": "Not ready: the reason says why."}}
)
async def ready(service: ServiceDep) -> JSONResponse:
    """Readiness: 200 once the model and the store are loaded, 503 before (or if startup failed)."""
    if service.startup_error is not None:
        return JSONResponse({"ready": False, "reason": "startup failed; see the server log"}, 503)
    if not service.ready.is_set():
        return JSONResponse({"ready": False, "reason": "loading the embedding model and the memory"}, 503)
    if service.guard.check().over_hard:
        return JSONResponse({"ready": False, "reason": "shedding load: memory above the hard threshold"}, 503)
    return JSONResponse({"ready": True})


# Monitors and load balancers often probe with HEAD: same answer, no body (separate routes, so each has its
# own OpenAPI operation id).
router.add_api_route("/health", health, methods=["HEAD"], name="health_head", responses=error_responses())
router.add_api_route(
    "/ready",
    ready,
    methods=["HEAD"],
    name="ready_head",
    responses={503: {"model": NotReadyOut, "description": "Not ready: the reason says why."}},
)

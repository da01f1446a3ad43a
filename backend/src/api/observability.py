"""``GET /metrics`` for Prometheus, and the ASGI middleware that counts and times every request.

The metrics object lives on ``app.state.metrics`` (created in the lifespan). Labels stay bounded: ``route``
is the route *template* (``/claims/{claim_id}``, never the raw path; ``unmatched`` for unknown paths),
``method`` one of the usual verbs or ``other``, and ``outcome`` one of a handful of words.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factmem.metrics import Metrics

router = APIRouter(tags=["operations"])

UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics", response_class=Response)
async def scrape(request: Request) -> Response:
    """Prometheus metrics: memory, requests, sheds, cleanups and the size of the memory."""
    metrics: Metrics = request.app.state.metrics
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    if metrics.store_backend == "qdrant-server":
        # Counting points is a network call to the Qdrant server: keep it off the event loop.
        body = await run_in_threadpool(encode, metrics.registry)
    else:
        body = encode(metrics.registry)  # a few /proc reads and an in-process count: microseconds
    return Response(body, media_type=content_type)


def outcome_of(status: int, marked: str | None) -> str:
    """``shed`` (503), ``error`` (other 5xx), ``bad_request`` (4xx), else what the route marked, or ``ok``."""
    if status == 503:
        return "shed"
    if status >= 500:
        return "error"
    if status >= 400:
        return "bad_request"
    return marked or "ok"


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, else ``unmatched``.

    ``unmatched`` covers unknown paths and answers given before routing (a 413 from the body-size limit).
    With FastAPI 0.165 ``scope["route"].path`` leaves out an ``include_router(prefix=...)``; factmem's
    routers have no prefix.
    """
    return str(getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE)


class MetricsMiddleware:
    """Counts and times every HTTP request, ``/metrics`` and ``/health`` included (plain ASGI).

    The time runs until the last byte of the response is sent, so background tasks that run afterwards
    (the periodic memory cleanup) do not count against the request. A route can mark its outcome with
    ``request.state.outcome`` (``/verify`` marks ``cache_hit`` or ``cache_miss``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics: Metrics | None = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        observed = False

        def observe() -> None:
            nonlocal observed
            observed = True
            method = scope["method"] if scope["method"] in _METHODS else "other"
            outcome = outcome_of(status, scope.get("state", {}).get("outcome"))
            metrics.observe_request(
                route_template(scope), method, status, outcome, time.perf_counter() - started
            )

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                observe()

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            if not observed:  # an exception before the response ended: the server answers 500
                observe()

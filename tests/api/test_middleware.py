"""The request-context middleware around small ASGI apps of its own: request ids, the body cap, the cap on
requests in flight, and errors answered without internals. The full app is covered by ``test_errors.py``."""

from __future__ import annotations

import asyncio
import logging

import pytest
from app_harness import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from factmem.api.middleware import RequestContextMiddleware
from factmem.logging_setup import request_id_var

LIMIT = 1_024


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"bytes": len(body), "seen_id": request_id_var.get()})


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that fails before it answers (Starlette's own error middleware would answer first)."""
    raise RuntimeError("secret internal detail")


def client(app: ASGIApp | None = None) -> TestClient:
    app = app or Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    wrapped = RequestContextMiddleware(app, max_body_bytes=LIMIT, max_in_flight=64, retry_after_s=7)
    return TestClient(wrapped, raise_server_exceptions=False)


def test_every_answer_carries_a_fresh_request_id_the_handler_sees() -> None:
    with client() as http:
        first, second = http.post("/echo", content=b"x"), http.post("/echo", content=b"x")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 32
    assert first.json()["seen_id"] == first.headers["x-request-id"]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("trace-42.a_b", True), ("has spaces", False), ("x" * 65, False), ("a/b", False)],
)
def test_a_sane_incoming_request_id_is_kept_and_any_other_replaced(incoming: str, kept: bool) -> None:
    with client() as http:
        response = http.post("/echo", content=b"x", headers={"X-Request-ID": incoming})
    assert (response.headers["x-request-id"] == incoming) is kept


def test_a_declared_body_over_the_limit_is_413_before_the_app_reads_it() -> None:
    with client() as http:
        response = http.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body over {LIMIT} bytes",
        "request_id": response.headers["x-request-id"],
    }


def test_a_streamed_body_over_the_limit_is_413_too() -> None:
    def chunks():  # no content-length: the cap counts what arrives
        for _ in range(4):
            yield b"x" * 512

    with client() as http:
        response = http.post("/echo", content=chunks())
        within = http.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == 413
    assert within.status_code == 200 and within.json()["bytes"] == LIMIT


def test_an_unhandled_error_is_a_500_with_the_request_id_and_no_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    http = client(failing_app)  # not entered: this app has no lifespan to run
    with caplog.at_level(logging.ERROR, logger="factmem.api.middleware"):
        response = http.get("/fail", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error; quote the request_id when reporting it",
        "request_id": "req-500",
    }
    assert "secret" not in response.text
    assert any("unhandled error" in r.getMessage() and r.exc_info for r in caplog.records)


def test_over_the_in_flight_cap_requests_are_503_but_health_probes_are_not() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(request: Request) -> PlainTextResponse:
        started.set()
        await release.wait()
        return PlainTextResponse("done")

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/slow", slow), Route("/health", health), Route("/other", health)])
    middleware = RequestContextMiddleware(app, max_body_bytes=LIMIT, max_in_flight=1, retry_after_s=7)

    async def call(path: str) -> tuple[int, dict[str, str]]:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
        await middleware(scope, receive, send)
        start = sent[0]
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}

    async def scenario() -> list[tuple[int, dict[str, str]]]:
        holder = asyncio.create_task(call("/slow"))
        await started.wait()
        answers = [await call("/other"), await call("/health")]
        release.set()
        answers.append(await holder)
        answers.append(await call("/other"))  # the place came back
        return answers

    busy, probe, held, after = asyncio.run(scenario())
    assert busy[0] == 503 and busy[1]["retry-after"] == "7"
    assert probe[0] == 200
    assert held[0] == 200 and after[0] == 200
    assert middleware.in_flight == 0

"""Exception handlers: domain errors become clear 4xx/503 answers; anything else a generic 500.

A 500 never shows a stack trace or an engine message: the client gets the request id, the log gets the
details (under the same id), so an operator can find them without leaking internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from factmem.errors import InputError, NotFoundError, OverloadedError, StoreUnavailableError

logger = logging.getLogger(__name__)

#: The store re-reads the disk every flush interval; a client retrying sooner would only be refused again.
_STORE_RETRY_AFTER_S = 10


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def error_response(
    request: Request, status: int, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "request_id": request_id_of(request)}, status, headers=headers)


def is_json_media_type(content_type: str) -> bool:
    """What FastAPI parses as JSON: ``application/json`` or ``application/<anything>+json``."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[int, Any]:
    """422 with field paths and messages, never echoing the (possibly huge) input back."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, 'request body is not valid JSON; send {"raw_text": "<claim>"} as application/json'
    described = []
    for e in errors:
        location = [str(part) for part in e.get("loc", ()) if part != "body"]
        message = e.get("msg", "invalid value")
        if e.get("type") == "missing":
            message = "field required"
        described.append({"field": ".".join(location) or "body", "message": message})
    return 422, described


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        content_type = request.headers.get("content-type", "")
        body_error = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
        if body_error and not is_json_media_type(content_type):
            # FastAPI parses a body as JSON only when it is declared so (``text/json`` is not): say that,
            # not "not a dictionary".
            got = content_type or "no content type"
            detail = f"send the body as JSON with 'Content-Type: application/json' (got {got!r})"
            return error_response(request, 415, detail)
        status, detail = _describe_validation(errors)
        return error_response(request, status, detail)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return error_response(request, 400, str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(request, 404, str(exc))

    @app.exception_handler(OverloadedError)
    async def _overloaded(request: Request, exc: OverloadedError) -> JSONResponse:
        return error_response(request, 503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(StoreUnavailableError)
    async def _store_unavailable(request: Request, exc: StoreUnavailableError) -> JSONResponse:
        # nothing was written; 507 says "make room", 503 "the disk is failing"; both retry by themselves
        status = 507 if exc.disk_full else 503
        return error_response(request, status, str(exc), headers={"Retry-After": str(_STORE_RETRY_AFTER_S)})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, exc.detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error; quote the request_id when reporting it")

"""Dependencies shared by the routes: the service object and admin authentication.

Every dependency here is ``async def`` although none awaits anything: FastAPI runs a plain ``def``
dependency in the worker thread pool, so ``/health`` (an async route) would queue behind busy
``/verify`` threads just to fetch the service object, and each ``/verify`` would pay an extra thread hop
(the README's table of what moved the numbers has the effect).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from factmem.api.access import ClientAccess
from factmem.api.client_address import ProxyTrust
from factmem.api.service import Service
from factmem.pipeline import VerificationPipeline


async def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_ready_pipeline(service: ServiceDep) -> VerificationPipeline:
    """The pipeline, once warm-up is done; before that a 503 the client can retry."""
    if service.startup_error is not None:
        raise service.admission.refuse("startup_failed", "service failed to start; see the server log")
    if not service.ready.is_set() or service.pipeline is None:
        raise service.admission.refuse("warming_up", "service is warming up (loading the model)")
    return service.pipeline


PipelineDep = Annotated[VerificationPipeline, Depends(get_ready_pipeline)]

_bearer = HTTPBearer(auto_error=False)


async def require_admin(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin writes need ``Authorization: Bearer <ADMIN_API_KEY>``; without a configured key they are off."""
    configured = service.settings.admin_api_key
    if configured is None:
        raise HTTPException(
            403,
            "admin writes are disabled: set ADMIN_API_KEY on the server to enable them, "
            "then send 'Authorization: Bearer <key>'",
        )
    supplied = credentials.credentials if credentials else ""
    if not hmac.compare_digest(supplied.encode(), configured.get_secret_value().encode()):
        raise HTTPException(401, "missing or wrong admin key", headers={"WWW-Authenticate": "Bearer"})


AdminDep = Depends(require_admin)


def _supplied_client_key(request: Request) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, read by hand: declaring a security scheme
    would tell OpenAPI clients that every call needs a key, while keys are off unless configured."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


async def require_client(request: Request) -> str | None:
    """``/verify``'s gate for the public: a known client key when keys are configured, then its rate limit.

    Answers 401 for a missing or unknown key and 429 + ``Retry-After`` over the limit, before the request
    takes a verification slot; returns the key's name (None without keys).
    """
    access: ClientAccess = request.app.state.client_access
    key_name = None
    if access.keys is not None:
        key_name = access.keys.identify(_supplied_client_key(request))
        if key_name is None:
            raise HTTPException(
                401,
                "missing or unknown API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
    if access.limits is not None:
        proxies: ProxyTrust = request.app.state.proxy_trust
        refusal = access.limits.hit(key_name, proxies.client_of(request.scope))
        if refusal is not None:
            who = "this API key" if key_name else "this address"
            raise HTTPException(
                429,
                f"rate limit of {refusal.limit} exceeded for {who}; retry in {refusal.retry_after_s} s",
                headers={"Retry-After": str(refusal.retry_after_s)},
            )
    return key_name


ClientDep = Depends(require_client)

"""The process's one HTTP client for remote providers: a bounded pool of keep-alive connections."""

from __future__ import annotations

import logging

import httpx

from factmem import __version__
from factmem.settings import Settings

#: A pooled connection unused this long is closed (providers close idle ones themselves after ~60-120 s).
KEEPALIVE_EXPIRY_S = 30.0


def open_http_client(settings: Settings) -> httpx.AsyncClient:
    """One client for every provider of the process; the app's lifespan closes it (``aclose``) at shutdown.

    Connections are bounded (``HTTP_MAX_CONNECTIONS``; a request beyond waits for one, within its time
    budget) and kept alive between calls, so a verification does not pay a TLS handshake each time. Each
    call passes its own timeout (cut to what is left of the request's budget). Redirects are not followed: an
    API that redirects is misconfigured, and following it could send the key elsewhere.
    """
    # httpx logs every request line at INFO; those lines would carry search queries (users' claims) and say
    # nothing the provider metrics do not.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    limits = httpx.Limits(
        max_connections=settings.http_max_connections,
        max_keepalive_connections=settings.http_max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    return httpx.AsyncClient(
        limits=limits,
        timeout=httpx.Timeout(settings.llm_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": f"factmem/{__version__}"},
    )

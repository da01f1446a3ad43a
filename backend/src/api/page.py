"""The web page at ``/``: one HTML file, a script and a style sheet, served from memory with no build step.

Browsers asking for HTML at ``/`` get the page; API clients (``Accept: */*`` or JSON, like the replaced
front end's health probe) keep getting the JSON description. The page talks only to this server
(``/verify``, ``/stats``, ``/health``), loads nothing from elsewhere, and is served with a strict
Content-Security-Policy: no inline script, no third-party origin.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from factmem.errors import NotFoundError

router = APIRouter(tags=["page"], include_in_schema=False)

_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _load_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of ``factmem.web`` with its ETag (a few KB in all, read once at import)."""
    assets = {}
    for entry in resources.files("factmem.web").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in _MEDIA_TYPES:
            body = entry.read_bytes()
            assets[entry.name] = (body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return assets


_ASSETS = _load_assets()


def _asset_response(name: str, request: Request) -> Response:
    if name not in _ASSETS:
        raise NotFoundError(f"no page asset {name!r}")
    body, etag = _ASSETS[name]
    headers = {"ETag": etag, "Cache-Control": "no-cache", **_SECURITY_HEADERS}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_MEDIA_TYPES["." + name.rsplit(".", 1)[-1]], headers=headers)


def wants_html(request: Request) -> bool:
    """A browser navigating to the page says ``text/html``; ``fetch()`` and curl send ``*/*``."""
    return "text/html" in request.headers.get("accept", "")


def page_response(request: Request) -> Response:
    response = _asset_response("index.html", request)
    response.headers["Vary"] = "Accept"
    return response


@router.get("/ui/{name}")
async def asset(name: str, request: Request) -> Response:
    """The page's script and style sheet."""
    return _asset_response(name, request)

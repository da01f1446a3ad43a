"""Remote providers a verification may call: an LLM over the chat-completions protocol, web search.

Nothing here is imported unless a provider is configured: a deployment on the embedded defaults never loads
httpx or opens a socket. When one is, the app's lifespan opens one ``httpx.AsyncClient`` for the process
(``open_http_client``) and every provider shares it and the process's ``ProviderUsage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from factmem.outbound.usage import ProviderUsage


@dataclass(frozen=True)
class Outbound:
    """What the providers of one process share: the HTTP client (owned by the app's lifespan) and the
    usage totals (read by ``/metrics`` and by a spend cap)."""

    http: httpx.AsyncClient
    usage: ProviderUsage

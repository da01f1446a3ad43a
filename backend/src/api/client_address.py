"""Who is calling: the client's address, taken from ``X-Forwarded-For`` only when the peer is a trusted proxy.

Anyone can send ``X-Forwarded-For``; believing it from everyone would let a client pick the address its rate
limit is counted under. So the header is read only when the connection comes from a proxy the operator
named in ``TRUSTED_PROXIES``. Each proxy appends the address it saw, so the list is read from the right:
trusted proxies are skipped and the first address that is not one of them is the client. ``*`` means
"whatever connects is the proxy" (a platform like Render, where the service is reachable only through its
proxy): then only the last entry, the one that proxy appended, is believed.

uvicorn has its own proxy-header handling (on by default for 127.0.0.1); the server starts uvicorn with it
off so that this module is the one place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:4711" (RFC 7239 style)
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:4711"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ProxyTrust:
    """Which peers may tell us the client's address, and the rule that reads it."""

    def __init__(self, trusted: Iterable[str]) -> None:
        entries = [entry.strip() for entry in trusted if entry.strip()]
        self.any_peer = "*" in entries
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"
        )

    @property
    def enabled(self) -> bool:
        return self.any_peer or bool(self.networks)

    def is_trusted(self, address: str) -> bool:
        parsed = _parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address for a connection from ``peer`` carrying ``forwarded_for`` (may be None)."""
        peer = peer or "unknown"
        if not forwarded_for or not (self.any_peer or self.is_trusted(peer)):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if self.any_peer:
            hops = hops[-1:]
        for hop in reversed(hops):
            parsed = _parse_address(hop)
            if parsed is None:
                return peer  # a garbled header from a trusted proxy: count the proxy, not a made-up name
            if not self.is_trusted(hop):
                return str(parsed)
        return str(_parse_address(hops[0])) if hops else peer

    def client_of(self, scope: Scope) -> str:
        """The client's address of an ASGI request."""
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded = None
        if self.enabled:
            for key, value in scope.get("headers", ()):
                if key == b"x-forwarded-for":
                    # Several headers are one list, in order (RFC 9110 §5.3).
                    part = value.decode("latin-1")
                    forwarded = part if forwarded is None else f"{forwarded},{part}"
        return self.client_address(peer, forwarded)

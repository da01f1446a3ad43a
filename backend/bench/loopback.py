"""Load and soak runs target loopback only: a load tool pointed at someone else's server is an attack.

Names other than ``localhost`` are never trusted to be local (no DNS lookup): a name can resolve anywhere.
``--allow-remote`` exists for a server the user owns.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class UsageError(Exception):
    """A problem the user can fix (bad option, unreachable server): reported plainly, exit code 2."""


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z). No DNS lookup: names other than
    ``localhost`` are never trusted to be local."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def check_target(url: str, allow_remote: bool = False) -> str:
    """Return the base URL without a trailing slash, or raise ``UsageError`` for a non-loopback target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url must look like http://127.0.0.1:8000, got {url!r}")
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing to load-test {parts.hostname!r}: only loopback targets (127.0.0.0/8, localhost, ::1) "
            "unless you pass --allow-remote for a server you own"
        )
    return url.rstrip("/")

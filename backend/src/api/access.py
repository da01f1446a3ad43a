"""Who may call ``/verify`` and how often: optional client API keys and per-key / per-address rate limits.

Both are off by default (a local service needs neither). A public deployment turns them on with
``CLIENT_API_KEYS`` / ``CLIENT_API_KEYS_FILE`` and ``RATE_LIMIT_PER_KEY`` / ``RATE_LIMIT_PER_ADDRESS``.

Keys are kept only as SHA-256 digests: a file of hashes can sit next to the service without being a
password file, and a supplied key is compared by its digest. Rate limits use the ``limits`` library
(in-memory sliding-window counters: ~1.4 MB to import, ~0.3 KB per client seen in the last window; measured
in the README), keyed by the key's name when a key was given, else by the client's address as
``factmem.api.client_address`` resolves it behind a trusted proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from factmem.errors import FactmemError
from factmem.logging_setup import register_secret
from factmem.settings import Settings

logger = logging.getLogger(__name__)

HASH_PREFIX = "sha256:"


def hash_key(key: str) -> str:
    """The form a key is stored in: ``sha256:<hex digest>``."""
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


class AccessConfigError(FactmemError):
    """The key file or key list cannot be read; the service refuses to start rather than run open."""


class ClientKeys:
    """Accepted client keys (as digests), each with a name used for its rate limit and in logs."""

    def __init__(self, names_by_digest: dict[str, str]) -> None:
        self._names_by_digest = names_by_digest

    def __len__(self) -> int:
        return len(self._names_by_digest)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientKeys | None:
        """The configured keys, or None when ``/verify`` is open (neither setting given)."""
        entries: list[str] = []
        if settings.client_api_keys is not None:
            entries += [e.strip() for e in settings.client_api_keys.get_secret_value().split(",")]
        if settings.client_api_keys_file is not None:
            entries += _read_key_file(settings.client_api_keys_file)
        if settings.client_api_keys is None and settings.client_api_keys_file is None:
            return None
        names: dict[str, str] = {}
        for entry in (e for e in entries if e):
            name, digest = _parse_entry(entry)
            names[digest] = name
        if not names:
            raise AccessConfigError("client keys are configured but none was given; refusing to run open")
        return cls(names)

    def identify(self, supplied: str | None) -> str | None:
        """The name of the key ``supplied`` is, or None."""
        if not supplied:
            return None
        digest = hash_key(supplied)[len(HASH_PREFIX) :]
        for known, name in self._names_by_digest.items():
            if hmac.compare_digest(known, digest):
                return name
        return None


def _parse_entry(entry: str) -> tuple[str, str]:
    """``name:sha256:<hex>``, ``sha256:<hex>`` or a plain key -> (name, hex digest)."""
    name = ""
    if ":" in entry and not entry.startswith(HASH_PREFIX):
        head, rest = entry.split(":", 1)
        if rest.startswith(HASH_PREFIX):
            name, entry = head.strip(), rest
    if entry.startswith(HASH_PREFIX):
        digest = entry[len(HASH_PREFIX) :].strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise AccessConfigError(f"not a SHA-256 hex digest: {entry[:16]}…")
    else:
        register_secret(entry)  # a plain key in the environment: never let it reach a log line
        digest = hash_key(entry)[len(HASH_PREFIX) :]
    return name or f"key-{digest[:8]}", digest


def _read_key_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AccessConfigError(f"cannot read CLIENT_API_KEYS_FILE {path}: {exc.strerror}") from exc
    entries = [line.split("#", 1)[0].strip() for line in lines]
    plain = [e for e in entries if e and HASH_PREFIX not in e]
    if plain:
        raise AccessConfigError(f"{path}: every line must be 'sha256:<hex>' or 'name:sha256:<hex>'")
    return entries


@dataclass(frozen=True)
class Refusal:
    """A request over its rate limit: what to tell the client."""

    limit: str
    retry_after_s: int


class RateLimits:
    """Per-key and per-address limits over one in-memory store (one instance: see the README for several)."""

    def __init__(self, per_key: str | None, per_address: str | None) -> None:
        from limits import parse_many, storage, strategies

        self._limiter = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())
        self._per_key = parse_many(per_key) if per_key else []
        self._per_address = parse_many(per_address) if per_address else []

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits | None:
        if not (settings.rate_limit_per_key or settings.rate_limit_per_address):
            return None
        return cls(settings.rate_limit_per_key, settings.rate_limit_per_address)

    def hit(self, key_name: str | None, address: str) -> Refusal | None:
        """Count one request; a ``Refusal`` when it is over a limit (then it is not served)."""
        items, identity = (self._per_key, f"key:{key_name}") if key_name else (self._per_address, address)
        for item in items:
            if not self._limiter.hit(item, identity):
                reset_at = self._limiter.get_window_stats(item, identity).reset_time
                wait = max(1, math.ceil(reset_at - time.time()))
                return Refusal(limit=str(item), retry_after_s=wait)
        return None


@dataclass
class ClientAccess:
    """The keys and limits of one service; None parts are off."""

    keys: ClientKeys | None
    limits: RateLimits | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientAccess:
        access = cls(ClientKeys.from_settings(settings), RateLimits.from_settings(settings))
        logger.info(
            "client access keys=%s rate_limit_per_key=%s rate_limit_per_address=%s",
            len(access.keys) if access.keys else "off",
            settings.rate_limit_per_key or "off",
            settings.rate_limit_per_address or "off",
        )
        return access

"""Per-key mutual exclusion in constant memory, for the memory update and the embedded store."""

from __future__ import annotations

import threading
import zlib

DEFAULT_STRIPES = 64


class StripedLocks:
    """A fixed pool of locks addressed by key: two keys share a lock only when their hashes collide.

    One lock for everything would make every writer wait for every other; under load a holder that is
    waiting for the GIL keeps the lock that long too, so unrelated writes queue behind it.
    """

    def __init__(self, stripes: int = DEFAULT_STRIPES) -> None:
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    def for_key(self, key: str) -> threading.Lock:
        return self._locks[zlib.crc32(key.encode()) % len(self._locks)]

"""How many distinct points were written to an embedded shard since its last index build.

Qdrant Edge does not change a point of an indexed segment in place: its first write after a build (a new
claim, or a cache hit's ``seen_count`` update of an old one) puts a copy in the appendable segment, which
is searched by brute force and keeps its structures in RAM until the next build. The engine's totals
still count the old copies, so a backlog computed from them misses every claim seen again (the README's
"claims seen again" gives the numbers). This module counts the points written instead.

The count is a HyperLogLog sketch of the written ids: a fixed 1 KB whatever the number of points (a set of
ids would grow with every claim, which is what the count is there to catch), within a few percent of the
true number, which is all a build threshold needs. It is kept beside the shard as ``<shard>.backlog`` so
that a restart knows what the previous run wrote; the index build empties it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

#: 2**10 registers: a standard error of 1.04 / sqrt(1024) ≈ 3 %.
_INDEX_BITS = 10
_REGISTERS = 1 << _INDEX_BITS
_HASH_BITS = 64


def backlog_path(shard: Path) -> Path:
    return shard.with_name(shard.name + ".backlog")


class DistinctCounter:
    """A HyperLogLog sketch: ``add`` ids, ``estimate`` how many distinct ones were added."""

    def __init__(self, registers: bytes | None = None) -> None:
        self._registers = bytearray(registers if registers is not None else _REGISTERS)
        if len(self._registers) != _REGISTERS:
            raise ValueError(f"a sketch has {_REGISTERS} registers, not {len(self._registers)}")

    def add(self, item: str) -> bool:
        """Count ``item``; True when the sketch changed (so it needs saving)."""
        value = int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "big")
        index = value >> (_HASH_BITS - _INDEX_BITS)
        rest = value & ((1 << (_HASH_BITS - _INDEX_BITS)) - 1)
        rank = (_HASH_BITS - _INDEX_BITS) - rest.bit_length() + 1  # position of the first 1 bit
        if rank <= self._registers[index]:
            return False
        self._registers[index] = rank
        return True

    def estimate(self) -> int:
        zeros = self._registers.count(0)
        if zeros == _REGISTERS:
            return 0
        alpha = 0.7213 / (1 + 1.079 / _REGISTERS)
        raw = alpha * _REGISTERS**2 / sum(2.0**-r for r in self._registers)
        if raw <= 2.5 * _REGISTERS and zeros:  # few items: linear counting is the better estimate
            return round(_REGISTERS * math.log(_REGISTERS / zeros))
        return round(raw)

    def to_bytes(self) -> bytes:
        return bytes(self._registers)


class WriteBacklog:
    """The distinct points written to one shard since its last index build, saved beside it."""

    def __init__(self, shard: Path) -> None:
        self._path = backlog_path(shard)
        self._lock = threading.Lock()
        self._changed = False
        self._counter = DistinctCounter(self._read())

    def _read(self) -> bytes | None:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("could not read %s (%s): counting the backlog from now on", self._path, exc)
            return None
        if len(data) != _REGISTERS:
            logger.warning("%s is not a backlog sketch: counting the backlog from now on", self._path)
            return None
        return data

    def wrote(self, point_ids: list[str]) -> None:
        with self._lock:
            for point_id in point_ids:
                self._changed |= self._counter.add(point_id)

    def points(self) -> int:
        with self._lock:
            return self._counter.estimate()

    def save(self) -> None:
        """Write the sketch if it changed since the last save (after a flush: the points it counts are on
        disk). A failed write is only logged: the count is advice for when to build the index."""
        with self._lock:
            if not self._changed:
                return
            data = self._counter.to_bytes()
            self._changed = False
        tmp = self._path.with_name(self._path.name + ".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self._path)
        except OSError as exc:
            logger.warning("could not save %s: %s", self._path, exc)
            with self._lock:
                self._changed = True

    def reset(self) -> None:
        """The index was just built: every point is in an indexed segment again."""
        with self._lock:
            self._counter = DistinctCounter()
            self._changed = False
        try:
            self._path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not remove %s: %s", self._path, exc)

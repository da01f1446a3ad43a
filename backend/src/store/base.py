"""The storage contract: one ``ClaimStore`` interface, two real backends (Qdrant Edge, qdrant-client).

The same interface serves the claim memory and the evidence collection (different payloads, same
operations). Implementations translate their engine's exceptions into ``StoreError`` at this boundary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from factmem.store.durability import StorageStatus
from factmem.store.lexical import Fusion

#: Payload fields with an index on a Qdrant server: keyword filters and ordering/range queries stay cheap at
#: 100k points.
KEYWORD_INDEXES: tuple[str, ...] = ("verdict", "source")
INTEGER_INDEXES: tuple[str, ...] = ("seen_count",)
FLOAT_INDEXES: tuple[str, ...] = ("first_seen_ts",)
#: The claim memory's ordered fields: ``top_by_seen_count`` needs a range index to order by, and the
#: "first seen in the last 24 h" count reads one. The embedded store indexes only these (each index of a
#: Qdrant Edge segment maps ~3 MB of pages whatever its size; a verdict filter is cheap without one).
RANGE_INDEXES: dict[str, str] = {"seen_count": "integer", "first_seen_ts": "float"}
#: Payload field holding the version token of conditional writes, and how many recent tokens are kept
#: beside it (``revs``) so a writer can tell that its own write took effect after another one followed it.
REV_FIELD = "rev"
REVS_FIELD = "revs"
REVS_KEPT = 8

#: Points searched by brute force before an embedded store's segment is worth an HNSW index: the store's
#: optimizer threshold and the server's "index at startup" decision both derive from this one number.
INDEXING_THRESHOLD_POINTS = 20_000


@dataclass(frozen=True)
class PointWrite:
    """A point to insert or replace."""

    id: str
    vector: np.ndarray
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    """A point read back from a store (``score``, the cosine similarity, only for searches).

    A hybrid search also gives ``lexical_score`` (BM25 with IDF; 0.0 when the point was not among the
    lexical candidates) and ``fused_score`` (reciprocal rank fusion of the two rankings). ``vector`` (the
    stored dense vector, float32) only when it was asked for.
    """

    id: str
    payload: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    lexical_score: float | None = None
    fused_score: float | None = None
    vector: np.ndarray | None = None


class ClaimStore(Protocol):
    """A named vector collection with payloads."""

    backend: str
    name: str
    dim: int
    #: Whether points carry a BM25 sparse vector (``factmem.store.lexical``) and ``hybrid_search`` fuses it.
    hybrid: bool

    def upsert(self, points: Sequence[PointWrite]) -> None:
        """Insert or replace points (same id: replaced, so a retried write cannot duplicate)."""
        ...

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        *,
        verdict: str | None = None,
        score_threshold: float | None = None,
    ) -> list[StoredPoint]:
        """Nearest points by cosine similarity, best first, optionally filtered by verdict."""
        ...

    def hybrid_search(self, vector: np.ndarray, text: str, fusion: Fusion) -> list[StoredPoint]:
        """Dense and BM25 candidates fused by reciprocal rank, best first, each with its cosine similarity.

        A store without sparse vectors (``hybrid`` False) answers with a dense search.
        """
        ...

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        """Points by id (with their dense vectors if asked); missing ids are simply absent from the result."""
        ...

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        """Merge fields into a point's payload."""
        ...

    def insert_if_absent(self, point: PointWrite) -> bool:
        """Create the point unless one with its id exists; True when this call created it.

        Several processes may insert the same new claim at once (instances sharing a Qdrant server): only
        one creates it, the others learn it exists and count themselves in with
        :meth:`compare_and_set_payload` instead of overwriting its count.
        """
        ...

    def compare_and_set_payload(self, point_id: str, seen: dict[str, Any], update: dict[str, Any]) -> bool:
        """Merge ``update`` into the payload only if it is still the version ``seen`` was read at; True
        when this call's write took effect (read again and retry otherwise).

        The version is the payload's ``rev`` (a random token each conditional write sets), so a
        read-modify-write such as ``seen_count + 1`` loses no increment even between processes that share
        no lock.
        """
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove points by id; unknown ids are ignored."""
        ...

    def count(self, *, first_seen_since: float | None = None) -> int:
        """Number of points, optionally only those first seen at or after a Unix time."""
        ...

    def top_by_seen_count(self, limit: int) -> list[StoredPoint]:
        """Points with the highest ``seen_count``."""
        ...

    def iter_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        """Every point with its payload, in id order, ``batch`` at a time (export; bounded memory)."""
        ...

    def build_index(self) -> bool:
        """Build pending vector indexes; blocking and costly, so never called from a request."""
        ...

    def check_integrity(self) -> None:
        """Before serving: raise ``StoreCorruptError`` (with how to recover) when the store's data cannot
        be trusted or read."""
        ...

    def unindexed_points(self) -> int:
        """Points searched by brute force until this process builds an index (0 where the engine indexes
        by itself, as a Qdrant server does)."""
        ...

    def build_index_out_of_process(self, timeout_s: float = 1800.0) -> bool:
        """``build_index()`` in a child process, so this process's GIL stays free (``/health`` keeps
        answering); True if it changed anything."""
        ...

    def require_writable(self, *, probe: bool = False) -> None:
        """Raise ``StoreUnavailableError`` when a write now would be refused (disk full, failing flushes);
        ``probe`` also checks the filesystem takes a write. Writes raise it themselves, changing nothing."""
        ...

    def storage_status(self, *, fresh: bool = False) -> StorageStatus:
        """Whether the store takes writes, and why not (for ``/health`` and ``/metrics``); ``fresh`` reads
        the disk now instead of using the reading of the last flush interval."""
        ...

    def flush(self) -> None:
        """Make every write so far durable (otherwise a write is durable within the flush interval)."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...

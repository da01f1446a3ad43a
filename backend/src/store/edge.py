"""The embedded backend: a Qdrant Edge shard on local disk (the default; no server, no network).

Qdrant Edge is the Qdrant engine inside this process: WAL, segments, HNSW, mmap storage. The shard is
configured to keep RAM small: original vectors and payloads stay on disk (``Memory.Cold``, file-backed pages
the kernel may drop), only int8 scalar-quantized vectors are pinned in RAM, and searches rescore with the
originals so similarity thresholds see exact cosines. One process owns a shard (a second open fails on the
WAL lock), so several API instances must share a Qdrant server instead (``QDRANT_URL``).

Building the HNSW index (``optimize()``) holds the GIL for its whole run; ``build_index()`` is therefore only
called before the server reports ready and from the ingest command, never from a request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from factmem.errors import StoreError
from factmem.store.base import FLOAT_INDEXES, INTEGER_INDEXES, KEYWORD_INDEXES, PointWrite, StoredPoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EdgeIndexConfig:
    """Bounds on index building: what keeps an HNSW build from spiking memory."""

    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    full_scan_threshold_kb: int = 10_000
    indexing_threads: int = 1
    indexing_threshold_kb: int = 20_000
    max_segment_size_kb: int = 200_000


@contextlib.contextmanager
def _engine_errors(operation: str) -> Iterator[None]:
    """Qdrant Edge raises plain exceptions from Rust; give callers one type with the operation named."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"qdrant-edge {operation} failed: {exc}") from exc


def _shard_config(dim: int, index: EdgeIndexConfig) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=dim,
            distance=qe.Distance.Cosine,
            memory=qe.Memory.Cold,
            quantization_config=qe.ScalarQuantizationConfig(
                type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned
            ),
        ),
        payload_memory=qe.Memory.Cold,
        hnsw_config=qe.HnswIndexConfig(
            m=index.hnsw_m,
            ef_construct=index.hnsw_ef_construct,
            full_scan_threshold=index.full_scan_threshold_kb,
            max_indexing_threads=index.indexing_threads,
            memory=qe.Memory.Cold,
        ),
        optimizers=qe.EdgeOptimizersConfig(
            indexing_threshold=index.indexing_threshold_kb,
            max_segment_size=index.max_segment_size_kb,
        ),
    )


_RESCORE = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True))


class EdgeClaimStore:
    """A ``ClaimStore`` on a Qdrant Edge shard directory."""

    backend = "qdrant-edge"

    def __init__(self, path: Path, *, name: str, dim: int, index: EdgeIndexConfig | None = None) -> None:
        self.path = Path(path)
        self.name = name
        self.dim = dim
        self._closed = False
        self._close_lock = threading.Lock()
        index = index or EdgeIndexConfig()
        with _engine_errors("open"):
            if self.path.is_dir() and any(self.path.iterdir()):
                self._shard = qe.EdgeShard.load(str(self.path))
                logger.info("opened qdrant-edge shard path=%s points=%d", self.path, self.count())
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._shard = qe.EdgeShard.create(str(self.path), _shard_config(dim, index))
                self._create_payload_indexes()
                logger.info("created qdrant-edge shard path=%s dim=%d", self.path, dim)

    def _create_payload_indexes(self) -> None:
        for key in KEYWORD_INDEXES:
            self._shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
        for key in INTEGER_INDEXES:
            self._shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Integer))
        for key in FLOAT_INDEXES:
            self._shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Float))

    def upsert(self, points: Sequence[PointWrite]) -> None:
        if not points:
            return
        edge_points = []
        for point in points:
            if point.vector.shape != (self.dim,):
                raise StoreError(f"vector of shape {point.vector.shape} for a {self.dim}-d store")
            edge_points.append(qe.Point(id=point.id, vector=point.vector.tolist(), payload=point.payload))
        with _engine_errors("upsert"):
            self._shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        *,
        verdict: str | None = None,
        score_threshold: float | None = None,
    ) -> list[StoredPoint]:
        query_filter = None
        if verdict is not None:
            query_filter = qe.Filter(must=[qe.FieldCondition(key="verdict", match=qe.MatchValue(verdict))])
        request = qe.SearchRequest(
            query=qe.Query.Nearest(vector.tolist()),
            limit=limit,
            filter=query_filter,
            params=_RESCORE,
            with_payload=True,
            score_threshold=score_threshold,
        )
        with _engine_errors("search"):
            hits = self._shard.search(request)
        return [StoredPoint(id=str(hit.id), payload=dict(hit.payload or {}), score=hit.score) for hit in hits]

    def retrieve(self, ids: Sequence[str]) -> list[StoredPoint]:
        if not ids:
            return []
        with _engine_errors("retrieve"):
            records = self._shard.retrieve(list(ids), True, False)
        return [StoredPoint(id=str(r.id), payload=dict(r.payload or {})) for r in records]

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        with _engine_errors("set_payload"):
            self._shard.update(qe.UpdateOperation.set_payload([point_id], payload))

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with _engine_errors("delete"):
            self._shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def count(self, *, first_seen_since: float | None = None) -> int:
        query_filter = None
        if first_seen_since is not None:
            query_filter = qe.Filter(
                must=[qe.FieldCondition(key="first_seen_ts", range=qe.RangeFloat(gte=first_seen_since))]
            )
        with _engine_errors("count"):
            return self._shard.count(qe.CountRequest(exact=True, filter=query_filter))

    def top_by_seen_count(self, limit: int) -> list[StoredPoint]:
        request = qe.ScrollRequest(
            limit=limit, with_payload=True, order_by=qe.OrderBy("seen_count", direction=qe.Direction.Desc)
        )
        with _engine_errors("scroll"):
            records, _ = self._shard.scroll(request)
        return [StoredPoint(id=str(r.id), payload=dict(r.payload or {})) for r in records]

    def unindexed_points(self) -> int:
        """Points searched by brute force until the next index build."""
        with _engine_errors("info"):
            info = self._shard.info()
        return max(0, info.points_count - info.indexed_vectors_count)

    def build_index(self) -> bool:
        with _engine_errors("optimize"):
            changed = self._shard.optimize()
            self._shard.flush()
        return changed

    def flush(self) -> None:
        with _engine_errors("flush"):
            self._shard.flush()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            with _engine_errors("close"):
                self._shard.flush()
                self._shard.close()

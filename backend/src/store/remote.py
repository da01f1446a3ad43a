"""The server backend: a Qdrant server, cluster or Qdrant Cloud through ``qdrant-client``.

This is how factmem scales past one machine: several API instances share one collection. The module imports
``qdrant_client`` only when it is constructed, because the import alone costs more RSS than the whole
embedded store (the README says how much): an embedded deployment must never pay it.
``location=":memory:"`` runs qdrant-client's in-process mode, which speaks the same client API (used by the
tests); that mode is not thread-safe, so calls are serialised there.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from factmem.errors import StoreError
from factmem.store import lexical
from factmem.store.base import (
    FLOAT_INDEXES,
    INTEGER_INDEXES,
    KEYWORD_INDEXES,
    REV_FIELD,
    REVS_FIELD,
    REVS_KEPT,
    PointWrite,
    StoredPoint,
)
from factmem.store.durability import StorageStatus

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

logger = logging.getLogger(__name__)


def _new_rev() -> str:
    return uuid.uuid4().hex[:12]


def _dense(vector: Any) -> Any:
    """The unnamed dense vector of a point read back with ``with_vector=[""]``."""
    return vector.get("", vector) if isinstance(vector, dict) else vector


class QdrantServerClaimStore:
    """A ``ClaimStore`` on a collection of a Qdrant server (or qdrant-client's local mode)."""

    backend = "qdrant-server"

    def __init__(
        self,
        *,
        name: str,
        dim: int,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        timeout_s: float = 10.0,
        client: QdrantClient | None = None,
        lexical: bool = False,
    ) -> None:
        from qdrant_client import QdrantClient, models

        self._models = models
        self.name = name
        self.dim = dim
        self._lexical = lexical
        self.hybrid = False
        local = location is not None and client is None
        # The local mode mutates numpy arrays without locking; a real server needs no lock.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if local else contextlib.nullcontext()
        )
        with self._errors("connect"):
            if client is not None:
                self._client = client
            elif local:
                self._client = QdrantClient(location=location)
            else:
                self._client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))
            self._ensure_collection()

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """One place where qdrant-client's many exception types become ``StoreError``."""
        try:
            with self._lock:
                yield
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"qdrant {operation} on {self.name!r} failed: {type(exc).__name__}") from exc

    def _ensure_collection(self) -> None:
        models = self._models
        if self._client.collection_exists(self.name):
            info = self._client.get_collection(self.name)
            vectors = info.config.params.vectors
            size = getattr(vectors, "size", None)
            if size is not None and size != self.dim:
                raise StoreError(
                    f"collection {self.name!r} holds {size}-d vectors; this model makes {self.dim}"
                )
            self.hybrid = lexical.SPARSE_VECTOR in (info.config.params.sparse_vectors or {})
            return
        sparse = None
        if self._lexical:
            sparse = {lexical.SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)}
        self._client.create_collection(
            self.name,
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE),
            sparse_vectors_config=sparse,
        )
        self.hybrid = self._lexical
        schemas = (
            [(k, models.PayloadSchemaType.KEYWORD) for k in KEYWORD_INDEXES]
            + [(k, models.PayloadSchemaType.INTEGER) for k in INTEGER_INDEXES]
            + [(k, models.PayloadSchemaType.FLOAT) for k in FLOAT_INDEXES]
        )
        for key, schema in schemas:
            self._client.create_payload_index(self.name, key, field_schema=schema)
        logger.info("created qdrant collection name=%s dim=%d", self.name, self.dim)

    def upsert(self, points: Sequence[PointWrite]) -> None:
        if not points:
            return
        for point in points:
            if point.vector.shape != (self.dim,):
                raise StoreError(f"vector of shape {point.vector.shape} for a {self.dim}-d store")
        structs = [
            self._models.PointStruct(id=p.id, vector=self._vectors(p), payload=p.payload) for p in points
        ]
        with self._errors("upsert"):
            self._client.upsert(self.name, points=structs, wait=True)

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        *,
        verdict: str | None = None,
        score_threshold: float | None = None,
    ) -> list[StoredPoint]:
        models = self._models
        query_filter = None
        if verdict is not None:
            query_filter = models.Filter(
                must=[models.FieldCondition(key="verdict", match=models.MatchValue(value=verdict))]
            )
        with self._errors("search"):
            response = self._client.query_points(
                self.name,
                query=vector.tolist(),
                limit=limit,
                query_filter=query_filter,
                with_payload=True,
                score_threshold=score_threshold,
            )
        return [
            StoredPoint(id=str(p.id), payload=dict(p.payload or {}), score=p.score) for p in response.points
        ]

    def _vectors(self, point: PointWrite) -> Any:
        dense = point.vector.tolist()
        if not self.hybrid:
            return dense
        sparse = lexical.document_vector(lexical.lexical_text(point.payload))
        return {"": dense, lexical.SPARSE_VECTOR: self._sparse(sparse)}

    def _sparse(self, vector: lexical.SparseVector) -> Any:
        return self._models.SparseVector(indices=list(vector.indices), values=list(vector.values))

    def hybrid_search(self, vector: np.ndarray, text: str, fusion: lexical.Fusion) -> list[StoredPoint]:
        sparse = lexical.query_vector(text)
        if not self.hybrid or not sparse:
            return self.search(vector, fusion.candidates)
        models = self._models
        sparse_query = self._sparse(sparse)
        fused = models.QueryRequest(
            prefetch=[
                models.Prefetch(query=vector.tolist(), limit=fusion.candidates),
                models.Prefetch(query=sparse_query, using=lexical.SPARSE_VECTOR, limit=fusion.candidates),
            ],
            query=models.RrfQuery(
                rrf=models.Rrf(k=fusion.rrf_k, weights=[fusion.dense_weight, fusion.lexical_weight])
            ),
            limit=fusion.candidates,
            with_payload=True,
            with_vector=[""],
        )
        lexical_only = models.QueryRequest(
            query=sparse_query, using=lexical.SPARSE_VECTOR, limit=fusion.candidates
        )
        with self._errors("hybrid search"):
            hits, lexical_hits = self._client.query_batch_points(self.name, requests=[fused, lexical_only])
        lexical_scores = {str(p.id): p.score for p in lexical_hits.points}
        return [
            StoredPoint(
                id=str(p.id),
                payload=dict(p.payload or {}),
                score=float(np.dot(vector, np.asarray(_dense(p.vector), dtype=np.float32))),
                lexical_score=lexical_scores.get(str(p.id), 0.0),
                fused_score=p.score,
            )
            for p in hits.points
        ]

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        if not ids:
            return []
        with self._errors("retrieve"):
            records = self._client.retrieve(
                self.name, ids=list(ids), with_payload=True, with_vectors=with_vectors
            )
        return [
            StoredPoint(
                id=str(r.id),
                payload=dict(r.payload or {}),
                vector=np.asarray(_dense(r.vector), dtype=np.float32) if with_vectors else None,
            )
            for r in records
        ]

    def insert_if_absent(self, point: PointWrite) -> bool:
        token = _new_rev()
        payload = point.payload | {REV_FIELD: token, REVS_FIELD: [token]}
        struct = self._models.PointStruct(id=point.id, vector=point.vector.tolist(), payload=payload)
        with self._errors("insert"):
            self._client.upsert(
                self.name, points=[struct], wait=True, update_mode=self._models.UpdateMode.INSERT_ONLY
            )
        return self._took_effect(point.id, token)

    def compare_and_set_payload(self, point_id: str, seen: dict[str, Any], update: dict[str, Any]) -> bool:
        models = self._models
        token = _new_rev()
        expected = seen.get(REV_FIELD)
        version = (
            models.FieldCondition(key=REV_FIELD, match=models.MatchValue(value=expected))
            if expected is not None
            else models.IsEmptyCondition(is_empty=models.PayloadField(key=REV_FIELD))
        )
        selector = models.Filter(must=[models.HasIdCondition(has_id=[point_id]), version])
        revs = [token, *list(seen.get(REVS_FIELD) or [])][:REVS_KEPT]
        with self._errors("conditional set_payload"):
            self._client.set_payload(
                self.name, payload=update | {REV_FIELD: token, REVS_FIELD: revs}, points=selector, wait=True
            )
        return self._took_effect(point_id, token)

    def _took_effect(self, point_id: str, token: str) -> bool:
        """Whether the write that set ``token`` applied: the server says nothing, so read it back (another
        writer may already have followed it, hence the list of recent tokens)."""
        found = self.retrieve([point_id])
        return bool(found) and token in (found[0].payload.get(REVS_FIELD) or [])

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        with self._errors("set_payload"):
            self._client.set_payload(self.name, payload=payload, points=[point_id], wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        selector = self._models.PointIdsList(points=list(ids))
        with self._errors("delete"):
            self._client.delete(self.name, points_selector=selector, wait=True)

    def count(self, *, first_seen_since: float | None = None) -> int:
        models = self._models
        count_filter = None
        if first_seen_since is not None:
            count_filter = models.Filter(
                must=[models.FieldCondition(key="first_seen_ts", range=models.Range(gte=first_seen_since))]
            )
        with self._errors("count"):
            return self._client.count(self.name, count_filter=count_filter, exact=True).count

    def top_by_seen_count(self, limit: int) -> list[StoredPoint]:
        order = self._models.OrderBy(key="seen_count", direction=self._models.Direction.DESC)
        with self._errors("scroll"):
            records, _ = self._client.scroll(self.name, limit=limit, order_by=order, with_payload=True)
        return [StoredPoint(id=str(r.id), payload=dict(r.payload or {})) for r in records]

    def iter_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        offset = None
        while True:
            with self._errors("scroll"):
                records, offset = self._client.scroll(
                    self.name, limit=batch, offset=offset, with_payload=True, with_vectors=False
                )
            for r in records:
                yield StoredPoint(id=str(r.id), payload=dict(r.payload or {}))
            if offset is None or not records:
                return

    def check_integrity(self) -> None:
        """A read probe: the collection answers a search and a page of payloads (the server keeps its
        own files whole; an error here is the server's, reported as is)."""
        probe = np.ones(self.dim, dtype=np.float32) / np.sqrt(self.dim)
        self.search(probe, 1)
        next(iter(self.iter_points(batch=16)), None)

    def require_writable(self, *, probe: bool = False) -> None:
        """A Qdrant server refuses writes itself (an error on the write); nothing to check here."""

    def storage_status(self, *, fresh: bool = False) -> StorageStatus:
        """The server's disk is the server's: its writes fail with an error, never a crash here."""
        return StorageStatus(writable=True)

    def build_index(self) -> bool:
        """A Qdrant server builds its indexes itself, in its own process."""
        return False

    def unindexed_points(self) -> int:
        """Nothing waits for this process to index it: the server indexes by itself."""
        return 0

    def build_index_out_of_process(self, timeout_s: float = 1800.0) -> bool:
        """A Qdrant server builds its indexes itself, in its own process."""
        return False

    def flush(self) -> None:
        """A Qdrant server acknowledges a write once its own WAL holds it; nothing to do here."""

    def close(self) -> None:
        with self._errors("close"):
            self._client.close()

"""The embedded backend: a Qdrant Edge shard on local disk (the default; no server, no network).

Qdrant Edge is the Qdrant engine inside this process: segments, HNSW, mmap storage. The shard is configured
to keep RAM small: original vectors and payloads stay on disk (``Memory.Cold``, file-backed pages the kernel
may drop), only int8 scalar-quantized vectors of indexed segments are pinned in RAM, and searches rescore
with the originals so similarity thresholds see exact cosines. One process owns a shard (a second open fails
on the lock file beside it), so several API instances must share a Qdrant server instead (``QDRANT_URL``).

Three choices keep the shard's own pages few (the README has what each saves at 10k claims):

- new shards have no write-ahead log (its mmap'd segment is read whole at every open and grows with every
  write, in RSS and in anonymous memory); a background thread flushes pending
  writes every ``flush_interval_s`` instead, so a crash loses at most that many seconds of writes (cached
  verdicts the next request recomputes), and curated writes call :meth:`EdgeClaimStore.flush` before
  answering;
- only the range fields the service orders and counts by are indexed (each payload index of a segment maps
  its pages whatever the point count);
- original vectors are stored as float16: the pages a search scans or rescores are halved, and cosines
  differ from float32 by ~1e-4, far below any threshold's resolution.

Building the HNSW index (``optimize()``) holds the GIL for its whole run; the server therefore builds it in
a child process before it reports ready (:meth:`EdgeClaimStore.build_index_out_of_process`, so ``/health``
keeps answering), and the ingest command builds it in-process; never from a request.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from factmem.errors import StoreCorruptError, StoreError
from factmem.store import lexical
from factmem.store.base import (
    INDEXING_THRESHOLD_POINTS,
    RANGE_INDEXES,
    REV_FIELD,
    PointWrite,
    StoredPoint,
)
from factmem.store.builder_lock import stop_stale_builder
from factmem.store.durability import StorageStatus, WriteGate
from factmem.store.integrity import check_against_manifest, damaged, write_manifest
from factmem.store.write_backlog import WriteBacklog
from factmem.striped_locks import StripedLocks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EdgeIndexConfig:
    """Bounds on index building: what keeps an HNSW build from spiking memory."""

    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    full_scan_threshold_kb: int = 10_000
    indexing_threads: int = 1
    #: Qdrant counts this threshold in KB of vector storage; ``_shard_config`` converts it (float16 vectors)
    indexing_threshold_points: int = INDEXING_THRESHOLD_POINTS
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


_FLOAT16_BYTES = 2


def dense_vector(stored: Any) -> np.ndarray:
    """The unnamed dense vector of a record read with its vectors (a dict when the shard also has sparse
    ones), as float32."""
    return np.asarray(stored.get("", stored) if isinstance(stored, dict) else stored, dtype=np.float32)


def _shard_config(dim: int, index: EdgeIndexConfig, *, wal: bool, sparse: bool) -> qe.EdgeConfig:
    sparse_vectors = None
    if sparse:
        # the inverted index on disk like the payloads (Pinned would keep every posting list in RAM)
        sparse_vectors = {
            lexical.SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=qe.Memory.Cold)
        }
    return qe.EdgeConfig(
        sparse_vectors=sparse_vectors,
        vectors=qe.EdgeVectorParams(
            size=dim,
            distance=qe.Distance.Cosine,
            memory=qe.Memory.Cold,
            # half the pages of float32 for every scan and rescore; cosines move by ~1e-4 (a test checks)
            datatype=qe.VectorStorageDatatype.Float16,
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
            indexing_threshold=max(1, index.indexing_threshold_points * dim * _FLOAT16_BYTES // 1024),
            max_segment_size=index.max_segment_size_kb,
        ),
        wal_enabled=wal,
    )


def _range_index_params(key: str) -> qe.IntegerIndexParams | qe.FloatIndexParams:
    kind = RANGE_INDEXES.get(key)
    if kind == "integer":
        # range only: ordering and counts never look a single value up
        return qe.IntegerIndexParams(lookup=False, range=True)
    if kind == "float":
        return qe.FloatIndexParams()
    raise ValueError(f"no range index kind for payload field {key!r}")


def _lock_exclusively(lock_file: Path) -> int:
    """Hold an exclusive lock beside the shard for the store's lifetime; a second opener gets ``StoreError``.

    A shard without a WAL has no lock of its own, and two processes writing one shard would corrupt it.
    ``flock`` locks belong to an open file, so a second open in the same process is refused too, and the
    kernel drops the lock when the process dies (no stale lock after a crash).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise StoreError(
            f"qdrant-edge shard {lock_file.with_suffix('')} is open in another store or process; one "
            "process owns a shard (share a Qdrant server through QDRANT_URL to run several)"
        ) from exc
    return fd


_RESCORE = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True))


def _has_sparse_vectors(path: Path) -> bool:
    """Whether a shard on disk was created with the BM25 sparse vector (its ``edge_config.json`` says)."""
    try:
        config = json.loads((path / "edge_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return lexical.SPARSE_VECTOR in (config.get("sparse_vectors") or {})


class EdgeClaimStore:
    """A ``ClaimStore`` on a Qdrant Edge shard directory.

    Args:
        path: the shard's directory (created with the settings below when empty; an existing shard keeps
            the settings it was created with).
        name: the collection name, for logs and metrics.
        dim: vector dimension.
        index: bounds on HNSW building.
        range_indexes: payload fields to index for ordering and range counts (``RANGE_INDEXES`` for the
            claim memory; nothing for a collection that is only searched by vector).
        wal: keep a write-ahead log (every write durable at once, at the memory cost above).
        lexical: give a new shard BM25 sparse vectors for hybrid search (an existing shard keeps what it
            was created with: ``hybrid`` says which; ``python -m factmem reindex`` adds them).
        flush_interval_s: how often the background thread flushes pending writes; ``None`` flushes only
            on :meth:`flush` and :meth:`close` (the ingest command, which closes when done).
        disk_reserve_bytes: free space writes need beyond the holes of the shard's sparse files
            (:mod:`factmem.store.durability`); below it, and while flushes fail, writes raise
            ``StoreUnavailableError`` and change nothing.
    """

    backend = "qdrant-edge"

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        dim: int,
        index: EdgeIndexConfig | None = None,
        range_indexes: Sequence[str] = tuple(RANGE_INDEXES),
        wal: bool = False,
        flush_interval_s: float | None = 1.0,
        disk_reserve_bytes: int = 0,
        lexical: bool = False,
    ) -> None:
        self.path = Path(path)
        self._lexical = lexical
        self.name = name
        self.dim = dim
        self._closed = False
        self._close_lock = threading.Lock()
        self._unflushed = False
        self._lock_fd = _lock_exclusively(self.path.with_name(self.path.name + ".lock"))
        try:
            stop_stale_builder(self.path)
            self._handle: qe.EdgeShard | None = self._open(index or EdgeIndexConfig(), range_indexes, wal)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._backlog = WriteBacklog(self.path)
        # one process owns the shard, so a lock per point makes a check and its write one step
        self._point_locks = StripedLocks()
        self._gate = WriteGate(
            self.path,
            disk_reserve_bytes,
            # the shards beside this one (claims and evidence) fill the same disk
            holes_root=self.path.parent,
            # The flusher re-reads the disk, holes included, every interval: a write then walks the files
            # for their holes itself only if the flusher fell behind (a walk is dozens of syscalls, each
            # letting go of the GIL), and a status question between two takes the flusher's reading.
            refresh_s=2 * flush_interval_s if flush_interval_s is not None else WriteGate.REFRESH_S,
            reading_max_age_s=2 * flush_interval_s if flush_interval_s is not None else 0.0,
        )
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_interval_s is not None:
            self._flusher = threading.Thread(
                target=self._flush_periodically,
                args=(flush_interval_s,),
                name=f"flush-{name}",
                daemon=True,
            )
            self._flusher.start()

    @property
    def _shard(self) -> qe.EdgeShard:
        handle = self._handle
        if handle is None:
            raise StoreError(
                f"qdrant-edge shard {self.path} is being indexed by a child process; retry shortly"
            )
        return handle

    def _open(self, index: EdgeIndexConfig, range_indexes: Sequence[str], wal: bool) -> qe.EdgeShard:
        with _engine_errors("open"):
            if self.path.is_dir() and any(self.path.iterdir()):
                shard = qe.EdgeShard.load(str(self.path))
                self.hybrid = _has_sparse_vectors(self.path)
                logger.info("opened qdrant-edge shard path=%s hybrid=%s", self.path, self.hybrid)
                return shard
            self.path.mkdir(parents=True, exist_ok=True)
            self.hybrid = self._lexical
            config = _shard_config(self.dim, index, wal=wal, sparse=self.hybrid)
            shard = qe.EdgeShard.create(str(self.path), config)
            for key in range_indexes:
                shard.update(qe.UpdateOperation.create_field_index(key, _range_index_params(key)))
            shard.flush()
            logger.info("created qdrant-edge shard path=%s dim=%d wal=%s", self.path, self.dim, wal)
            return shard

    def _flush_periodically(self, interval_s: float) -> None:
        """Flush pending writes every ``interval_s`` until closed: what a WAL would give, batched. A failed
        flush leaves the writes pending, so the next round retries them."""
        while not self._stop_flusher.wait(interval_s):
            self._gate.status(fresh=True)  # keeps /health's disk reading current, writes or not
            if not self._unflushed:
                continue
            try:
                self.flush()
            except StoreError:
                logger.exception("periodic flush failed path=%s; retrying in %.1f s", self.path, interval_s)

    def _wrote(self) -> None:
        self._unflushed = True

    def require_writable(self, *, probe: bool = False) -> None:
        """Raise ``StoreUnavailableError`` (nothing written) unless the disk and the flushes allow a write."""
        self._gate.require_writable(probe=probe)

    def storage_status(self, *, fresh: bool = False) -> StorageStatus:
        return self._gate.status(fresh=fresh)

    def upsert(self, points: Sequence[PointWrite]) -> None:
        if not points:
            return
        self._gate.require_writable()
        edge_points = []
        for point in points:
            if point.vector.shape != (self.dim,):
                raise StoreError(f"vector of shape {point.vector.shape} for a {self.dim}-d store")
            vector: Any = point.vector.tolist()
            if self.hybrid:
                sparse = lexical.document_vector(lexical.lexical_text(point.payload))
                vector = {
                    "": vector,
                    lexical.SPARSE_VECTOR: qe.SparseVector(list(sparse.indices), list(sparse.values)),
                }
            edge_points.append(qe.Point(id=point.id, vector=vector, payload=point.payload))
        with _engine_errors("upsert"):
            self._shard.update(qe.UpdateOperation.upsert_points(edge_points))
        self._backlog.wrote([point.id for point in points])
        self._wrote()

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
        # Ranked without payloads, then the hits' payloads read by id: a search that returns payloads holds
        # the GIL longer than the two calls together (the README's memory profile has the numbers).
        request = qe.SearchRequest(
            query=qe.Query.Nearest(vector.tolist()),
            limit=limit,
            filter=query_filter,
            params=_RESCORE,
            with_payload=False,
            score_threshold=score_threshold,
        )
        with _engine_errors("search"):
            hits = self._shard.search(request)
            records = self._shard.retrieve([hit.id for hit in hits], True, False) if hits else []
            payloads = {str(record.id): record.payload for record in records}
        return [
            StoredPoint(id=point_id, payload=dict(payloads[point_id] or {}), score=hit.score)
            for hit in hits
            if (point_id := str(hit.id)) in payloads  # deleted between the calls: gone
        ]

    def hybrid_search(self, vector: np.ndarray, text: str, fusion: lexical.Fusion) -> list[StoredPoint]:
        """Fused candidates with payloads, each with its exact cosine and BM25 score.

        The engine holds the GIL through every call, so each step is the cheapest that does the job: both
        rankings run once without payloads (a query that loads payloads costs about twice the brute-force
        scan), they are fused here (:func:`factmem.store.lexical.fuse`, the engine's RRF), then only the
        chosen candidates' payloads are read by id, and the vectors of the few that only the lexical side
        found, for their cosine.
        """
        sparse = lexical.query_vector(text)
        if not self.hybrid or not sparse:
            return self.search(vector, fusion.candidates)
        by_meaning = qe.QueryRequest(
            limit=fusion.candidates, query=qe.Query.Nearest(vector.tolist()), params=_RESCORE
        )
        by_words = qe.QueryRequest(
            limit=fusion.candidates,
            query=qe.Query.Nearest(
                qe.SparseVector(list(sparse.indices), list(sparse.values)), using=lexical.SPARSE_VECTOR
            ),
        )
        with _engine_errors("hybrid search"):
            dense_hits, lexical_hits = self._shard.query_batch(qe.QueryBatchRequest([by_meaning, by_words]))
            cosines = {str(hit.id): hit.score for hit in dense_hits}
            lexical_scores = {str(hit.id): hit.score for hit in lexical_hits}
            fused = lexical.fuse(list(cosines), list(lexical_scores), fusion)
            missing = [point_id for point_id in fused if point_id not in cosines]
            for record in self._shard.retrieve(missing, False, True) if missing else ():
                cosines[str(record.id)] = float(np.dot(vector, dense_vector(record.vector)))
            payloads = {str(r.id): r.payload for r in self._shard.retrieve(list(fused), True, False)}
        return [
            StoredPoint(
                id=point_id,
                payload=dict(payloads[point_id] or {}),
                score=cosines.get(point_id, 0.0),
                lexical_score=lexical_scores.get(point_id, 0.0),
                fused_score=fused_score,
            )
            for point_id, fused_score in fused.items()
            if point_id in payloads  # deleted between the calls: gone
        ]

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        if not ids:
            return []
        with _engine_errors("retrieve"):
            records = self._shard.retrieve(list(ids), True, with_vectors)
        return [
            StoredPoint(
                id=str(r.id),
                payload=dict(r.payload or {}),
                vector=dense_vector(r.vector) if with_vectors else None,
            )
            for r in records
        ]

    def insert_if_absent(self, point: PointWrite) -> bool:
        with self._point_locks.for_key(point.id):
            if self.retrieve([point.id]):
                return False
            self.upsert([point])
            return True

    def compare_and_set_payload(self, point_id: str, seen: dict[str, Any], update: dict[str, Any]) -> bool:
        with self._point_locks.for_key(point_id):
            current = self.retrieve([point_id])
            if not current or current[0].payload.get(REV_FIELD) != seen.get(REV_FIELD):
                return False
            self.set_payload(point_id, update | {REV_FIELD: uuid.uuid4().hex[:12]})
            return True

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        self._gate.require_writable()
        with _engine_errors("set_payload"):
            self._shard.update(qe.UpdateOperation.set_payload([point_id], payload))
        self._backlog.wrote([point_id])  # a point of an indexed segment moves to the appendable one
        self._wrote()

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        self._gate.require_writable()
        with _engine_errors("delete"):
            self._shard.update(qe.UpdateOperation.delete_points(list(ids)))
        self._wrote()

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

    def iter_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        offset = None
        while True:
            with _engine_errors("scroll"):
                records, offset = self._shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=batch, with_payload=True, with_vector=False)
                )
            for r in records:
                yield StoredPoint(id=str(r.id), payload=dict(r.payload or {}))
            if offset is None or not records:
                return

    def unindexed_points(self) -> int:
        """Points whose dense vector is searched by brute force until the next index build.

        The engine's ``indexed_vectors_count`` sums over every named vector, and a BM25 sparse vector is
        indexed as it is written: in a hybrid shard the points that have one are subtracted, or the dense
        backlog would read as zero and the startup build would never run.

        The engine's totals keep counting the indexed copy of a point written again after the build (its
        new copy is in the appendable segment), so the distinct points written since the build
        (:mod:`factmem.store.write_backlog`) are counted too, and the larger of the two is the backlog.
        """
        with _engine_errors("info"):
            info = self._shard.info()
            sparse = 0
            if self.hybrid:
                has_sparse = qe.Filter(must=[qe.HasVectorCondition(lexical.SPARSE_VECTOR)])
                sparse = self._shard.count(qe.CountRequest(exact=True, filter=has_sparse))
        from_totals = info.points_count - (info.indexed_vectors_count - sparse)
        return max(0, from_totals, min(self._backlog.points(), int(info.points_count)))

    def build_index(self) -> bool:
        with _engine_errors("optimize"):
            changed = self._shard.optimize()
            self._shard.flush()
        self._backlog.reset()
        return changed

    def build_index_out_of_process(self, timeout_s: float = 1800.0) -> bool:
        """``build_index()`` in a child process, so this process's GIL stays free; True if it changed.

        The shard is closed here meanwhile (its operations raise ``StoreError``) and this store keeps the
        lock file, so nothing else can open it. The child's memory is its own and is returned to the OS
        when it exits; the shard is reopened here whatever happened to the child.

        Raises:
            StoreError: the child failed or timed out (the shard is reopened, unindexed points stay
                searchable by brute force).
        """
        with self._close_lock:
            if self._closed:
                raise StoreError(f"qdrant-edge shard {self.path} is closed")
            with _engine_errors("close for indexing"):
                self._shard.flush()
                self._shard.close()
            self._handle = None
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "factmem.store.edge_optimize", str(self.path), str(os.getpid())],
                    capture_output=True,
                    text=True,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise StoreError(f"indexing {self.path} took longer than {timeout_s:.0f} s") from exc
            finally:
                with _engine_errors("reopen after indexing"):
                    self._handle = qe.EdgeShard.load(str(self.path))
                    self._flush_and_record()  # the build replaced segments: record the new files
        if done.returncode != 0:
            raise StoreError(f"indexing {self.path} failed: {done.stderr.strip()[-500:]}")
        self._backlog.reset()
        return bool(json.loads(done.stdout.strip().splitlines()[-1])["changed"])

    def flush(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            # cleared before the flush: a write landing during it marks the store again; restored when the
            # flush fails, so the writes stay pending and the next flush retries them
            self._unflushed = False
            try:
                self._flush_and_record()
            except StoreError as exc:
                self._unflushed = True
                self._gate.flush_failed(str(exc.__cause__ or exc))
                raise
            self._gate.flush_succeeded()

    def _flush_and_record(self) -> None:
        """Flush, then write the manifest the next open checks against (:mod:`factmem.store.integrity`).

        Points are counted *before* the flush: everything counted is then on disk (a write landing in
        between only makes the disk hold more than recorded, which the check accepts).
        """
        with _engine_errors("flush"):
            points = self._points_held()
            self._shard.flush()
        try:
            write_manifest(self.path, points)
        except OSError as exc:  # the previous manifest still holds (it records fewer points): only log
            logger.warning("could not write the manifest of %s: %s", self.path, exc)
        self._backlog.save()

    def _points_held(self) -> int:
        """Points in the shard's segments, from its metadata: 0.02 ms at 100k points, where an exact count
        holds the GIL for 7.5 ms (this runs at every flush, every second under writes)."""
        return int(self._shard.info().points_count)

    def check_integrity(self) -> None:
        """Before serving: the shard holds what its last flush recorded, and it can be read (a search,
        which reads vectors, and a page of payloads). Raises ``StoreCorruptError`` saying how to recover."""
        with _engine_errors("info"):
            check_against_manifest(self.path, self._points_held())
        probe = np.ones(self.dim, dtype=np.float32) / np.sqrt(self.dim)
        try:
            self.search(probe, 10)
            next(iter(self.iter_points(batch=256)), None)
        except StoreError as exc:
            raise StoreCorruptError(damaged(self.path, f"reading it fails ({exc})")) from exc

    def close(self) -> None:
        self._stop_flusher.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._flush_and_record()
                with _engine_errors("close"):
                    self._shard.close()
            finally:
                os.close(self._lock_fd)

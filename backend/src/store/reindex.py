"""Give a claim memory made before hybrid retrieval its BM25 sparse vectors (``python -m factmem reindex``),
or make every stored sparse vector again after the way they are made changed (``reindex --recompute``).

A Qdrant Edge shard cannot gain a vector after it is created (the engine refuses a changed config), so the
shard is copied: every point, with its stored vector and payload unchanged, goes into a new shard that has
the sparse vector (computed from the payload by ``factmem.store.lexical``), which then takes the old one's
place. The old shard is kept beside it as ``<name>.dense-<time>`` (``<name>.hybrid-<time>`` when it had
sparse vectors) until the operator deletes it. Until this runs, a dense-only memory is searched by meaning
only, and a hybrid one by the sparse vectors it was stored with: nothing breaks.

Stop the server first: a shard belongs to one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import qdrant_edge as qe

from factmem.errors import StoreError
from factmem.store.base import PointWrite
from factmem.store.edge import EdgeClaimStore, dense_vector
from factmem.store.write_backlog import backlog_path

logger = logging.getLogger(__name__)

_PAGE = 256


def _edge_points(store: EdgeClaimStore) -> Iterator[list[PointWrite]]:
    """Every point of a shard, a page at a time, with its dense vector and payload."""
    offset = None
    while True:
        request = qe.ScrollRequest(limit=_PAGE, offset=offset, with_payload=True, with_vector=True)
        records, offset = store._shard.scroll(request)
        page = []
        for record in records:
            page.append(PointWrite(str(record.id), dense_vector(record.vector), dict(record.payload or {})))
        if page:
            yield page
        if offset is None or not records:
            return


def reindex_edge_shard(
    path: Path,
    *,
    name: str,
    dim: int,
    progress: Callable[[int], None] | None = None,
    recompute: bool = False,
) -> tuple[int, Path | None]:
    """Copy a dense-only shard into a hybrid one in its place; (points copied, where the old one went).

    A shard that already has sparse vectors is left alone, (its point count, None), unless ``recompute``:
    then it is copied too, each sparse vector made again by ``factmem.store.lexical`` as it is today.
    """
    old = EdgeClaimStore(path, name=name, dim=dim, flush_interval_s=None)
    was_hybrid = old.hybrid
    if was_hybrid and not recompute:
        count = old.count()
        old.close()
        return count, None
    staging = path.with_name(path.name + ".reindex")
    if staging.exists():
        raise StoreError(f"{staging} exists: a reindex was interrupted; delete it and run reindex again")
    new = EdgeClaimStore(staging, name=name, dim=dim, flush_interval_s=None, lexical=True)
    copied = 0
    try:
        for page in _edge_points(old):
            new.upsert(page)
            copied += len(page)
            if progress:
                progress(len(page))
        if new.count() != old.count():
            raise StoreError(f"reindex copied {new.count()} of {old.count()} points; {path} is unchanged")
        new.build_index()
    finally:
        new.close()
        old.close()
    kind = "hybrid" if was_hybrid else "dense"
    backup = path.with_name(f"{path.name}.{kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(backup)
    staging.rename(path)
    Path(str(staging) + ".lock").unlink(missing_ok=True)
    backlog_path(path).unlink(missing_ok=True)  # the old shard's; the new one was just indexed
    logger.info("reindexed %s: %d points with sparse vectors; the old shard is at %s", path, copied, backup)
    return copied, backup

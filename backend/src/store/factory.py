"""Builds the claim and evidence stores the settings ask for."""

from __future__ import annotations

from factmem.settings import Settings
from factmem.store.base import ClaimStore


def open_store(settings: Settings, collection: str, dim: int) -> ClaimStore:
    """Qdrant server when ``QDRANT_URL`` is set, else a Qdrant Edge shard under ``DATA_DIR``."""
    # the claim memory is searched by meaning and by words; evidence only by meaning
    lexical = settings.hybrid_retrieval and collection == settings.claims_collection
    if settings.qdrant_url:
        from factmem.store.remote import QdrantServerClaimStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        if settings.qdrant_url == ":memory:":
            return QdrantServerClaimStore(name=collection, dim=dim, location=":memory:", lexical=lexical)
        return QdrantServerClaimStore(
            name=collection,
            dim=dim,
            url=settings.qdrant_url,
            api_key=api_key,
            timeout_s=settings.qdrant_timeout_s,
            lexical=lexical,
        )
    from factmem.store.base import RANGE_INDEXES
    from factmem.store.edge import EdgeClaimStore

    return EdgeClaimStore(
        settings.data_dir / "qdrant-edge" / collection,
        name=collection,
        dim=dim,
        # evidence is only ever searched by vector; the claim memory is also ordered and counted
        range_indexes=tuple(RANGE_INDEXES) if collection == settings.claims_collection else (),
        wal=settings.edge_wal,
        flush_interval_s=settings.edge_flush_interval_s,
        disk_reserve_bytes=settings.disk_reserve_mb * 1024 * 1024,
        lexical=lexical,
    )

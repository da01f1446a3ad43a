"""Vector storage of claims and evidence: one interface, Qdrant Edge (embedded) and Qdrant server backends."""

from factmem.store.base import ClaimStore, PointWrite, StoredPoint
from factmem.store.factory import open_store

__all__ = ["ClaimStore", "PointWrite", "StoredPoint", "open_store"]

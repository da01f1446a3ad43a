"""A restart on a memory whose brute-force part has grown large builds the index before ready, in a child
process, and serves the indexed shard afterwards."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from app_harness import running_app

from factmem.embeddings import MINILM_INT8
from factmem.store.base import PointWrite
from factmem.store.edge import EdgeClaimStore, EdgeIndexConfig
from factmem.store.ids import claim_point_id


def _unindexed_memory(data_dir: Path, points: int) -> None:
    vectors = np.random.default_rng(3).normal(size=(points, MINILM_INT8.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = EdgeClaimStore(
        data_dir / "qdrant-edge" / "factmem_claims",
        name="factmem_claims",
        dim=MINILM_INT8.dim,
        index=EdgeIndexConfig(indexing_threshold_points=10),  # persisted: 300 points are worth an index
    )
    try:
        store.upsert(
            [PointWrite(claim_point_id(f"c{i}"), v, {"seen_count": 1}) for i, v in enumerate(vectors)]
        )
    finally:
        store.close()


def test_restart_builds_a_large_unindexed_memory_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _unindexed_memory(tmp_path, 300)
    monkeypatch.setattr("factmem.api.service.INDEX_BUILD_MIN_UNINDEXED", 100)
    caplog.set_level(logging.INFO, logger="factmem.api.service")
    with running_app(tmp_path) as (client, service):
        assert isinstance(service.claim_store, EdgeClaimStore)
        assert service.claim_store.unindexed_points() == 0
        assert service.claim_store.count() == 300
        assert client.get("/ready").status_code == 200
    assert "child process, before ready" in caplog.text


def test_restart_leaves_a_small_unindexed_memory_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unindexed_memory(tmp_path, 50)
    monkeypatch.setattr("factmem.api.service.INDEX_BUILD_MIN_UNINDEXED", 100)
    with running_app(tmp_path) as (_, service):
        assert isinstance(service.claim_store, EdgeClaimStore)
        assert service.claim_store.unindexed_points() == 50

"""The index-build backlog counts claims written again after a build, which the engine's totals miss."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import numpy as np
import pytest

from factmem.store.base import PointWrite
from factmem.store.edge import EdgeClaimStore, EdgeIndexConfig
from factmem.store.write_backlog import DistinctCounter, WriteBacklog, backlog_path


def test_the_sketch_counts_distinct_ids_within_a_few_percent() -> None:
    counter = DistinctCounter()
    assert counter.estimate() == 0
    ids = [str(uuid.uuid4()) for _ in range(20_000)]
    for point_id in ids[:10]:
        counter.add(point_id)
    assert counter.estimate() == 10
    for point_id in ids:
        counter.add(point_id)
    assert abs(counter.estimate() - 20_000) < 0.08 * 20_000
    estimate = counter.estimate()
    assert not any(counter.add(point_id) for point_id in ids)  # the same ids again change nothing
    assert counter.estimate() == estimate


def test_the_backlog_survives_a_restart_and_a_build_empties_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shard = tmp_path / "claims"
    backlog = WriteBacklog(shard)
    backlog.wrote([f"id-{i}" for i in range(300)])
    backlog.save()
    assert WriteBacklog(shard).points() == backlog.points()
    assert abs(backlog.points() - 300) <= 15
    backlog.reset()
    assert backlog.points() == 0 and not backlog_path(shard).exists()
    backlog_path(shard).write_bytes(b"not a sketch")
    with caplog.at_level(logging.WARNING):
        assert WriteBacklog(shard).points() == 0
    assert "not a backlog sketch" in caplog.text


def _points(count: int, rng: np.random.Generator) -> list[PointWrite]:
    points = []
    for i in range(count):
        vector = rng.standard_normal(384).astype(np.float32)
        payload = {"claim_text": f"claim number {i}", "seen_count": 1, "first_seen_ts": float(i)}
        points.append(PointWrite(str(uuid.uuid4()), vector / np.linalg.norm(vector), payload))
    return points


def test_claims_seen_again_after_a_build_count_as_unindexed(tmp_path: Path) -> None:
    """The engine copies a point of an indexed segment into the appendable one on its first update; its
    totals still count the old copy, so without the written-ids count the backlog read 0 here."""
    path = tmp_path / "claims"
    index = EdgeIndexConfig(indexing_threshold_points=1_000, full_scan_threshold_kb=10)
    store = EdgeClaimStore(path, name="claims", dim=384, lexical=True, index=index)
    points = _points(3_000, np.random.default_rng(0))
    for start in range(0, len(points), 500):
        store.upsert(points[start : start + 500])
    assert store.unindexed_points() == pytest.approx(3_000, rel=0.08)
    store.build_index()
    assert store.unindexed_points() == 0
    for point in points[:2_000]:
        store.set_payload(point.id, {"seen_count": 2})  # a cache hit on each
    assert store.unindexed_points() == pytest.approx(2_000, rel=0.08)
    store.close()
    store = EdgeClaimStore(path, name="claims", dim=384, index=index)
    assert store.unindexed_points() == pytest.approx(2_000, rel=0.08)  # a restart still knows
    store.build_index()
    assert store.unindexed_points() == 0 and not backlog_path(path).exists()
    store.close()

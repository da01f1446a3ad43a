"""One owner per shard: the index-build child dies with its server, and a stale builder is stopped before
a shard is opened."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from factmem.embeddings import MINILM_INT8
from factmem.store.base import PointWrite
from factmem.store.builder_lock import build_lock_path
from factmem.store.edge import EdgeClaimStore, EdgeIndexConfig
from factmem.store.ids import claim_point_id

pytestmark = [pytest.mark.reliability]


def _unindexed_shard(path: Path, points: int = 6_000) -> None:
    vectors = np.random.default_rng(7).normal(size=(points, MINILM_INT8.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = EdgeClaimStore(
        path, name="claims", dim=MINILM_INT8.dim, index=EdgeIndexConfig(indexing_threshold_points=10)
    )
    try:
        for start in range(0, points, 1_000):
            store.upsert(
                [
                    PointWrite(claim_point_id(f"c{i}"), vectors[i], {"seen_count": 1})
                    for i in range(start, min(points, start + 1_000))
                ]
            )
    finally:
        store.close()


def _builders(shard: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"factmem.store.edge_optimize" in cmdline and str(shard).encode() in cmdline:
            found.append(int(entry.name))
    return found


def _wait_for(condition, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    return None


def test_the_index_builder_dies_with_a_killed_server(tmp_path: Path) -> None:
    shard = tmp_path / "claims"
    _unindexed_shard(shard)
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from factmem.store.edge import EdgeClaimStore; "
            "EdgeClaimStore(sys.argv[1], name='claims', dim=384).build_index_out_of_process()",
            str(shard),
        ]
    )
    try:
        builders = _wait_for(lambda: _builders(shard), timeout=30)
        assert builders, "the parent never started its index builder"
        lock = build_lock_path(shard)  # the builder writes its pid there once it is building
        assert _wait_for(lambda: lock.exists() and lock.read_text() == str(builders[0]), timeout=30)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: not _builders(shard), timeout=10), "the builder outlived its server"
    finally:
        if parent.poll() is None:
            parent.kill()
    # the shard opens cleanly afterwards, and still unindexed: the builder was killed, it did not finish
    # (judged by the shard, not by how soon the process went, which a busy machine can delay)
    store = EdgeClaimStore(shard, name="claims", dim=MINILM_INT8.dim)
    try:
        assert store.unindexed_points() > 0, "the build finished: the builder was not stopped with its server"
    finally:
        store.close()


def test_a_stale_builder_is_stopped_before_the_shard_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A builder whose server is gone but which still runs (no death signal, e.g. another kernel): the
    next store to open the shard stops it first instead of writing beside it."""
    shard = tmp_path / "claims"
    _unindexed_shard(shard)
    builder = subprocess.Popen(
        [sys.executable, "-m", "factmem.store.edge_optimize", str(shard), str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = build_lock_path(shard)
        assert _wait_for(lambda: lock.exists() and lock.read_text() == str(builder.pid), timeout=30)
        caplog.set_level(logging.WARNING, logger="factmem.store.builder_lock")
        store = EdgeClaimStore(shard, name="claims", dim=MINILM_INT8.dim)
        try:
            assert builder.wait(timeout=5) == -signal.SIGKILL
            assert store.count() == 6_000
        finally:
            store.close()
        assert "stale index builder" in caplog.text
    finally:
        if builder.poll() is None:
            builder.kill()

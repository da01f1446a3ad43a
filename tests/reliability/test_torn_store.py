"""Torn and corrupted store files: the server refuses to serve them, says what is wrong and how to recover,
and the recovery (export what is readable, move aside, import) works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO_ROOT, start_server

from factmem.store.integrity import manifest_path

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory written by a real server: the seed plus 60 verified claims, stopped cleanly."""
    base = tmp_path_factory.mktemp("golden")
    server = start_server(base / "data", base / "server.log", SEED_ON_EMPTY="true")
    try:
        with server.client() as http:
            for i in range(60):
                http.post(
                    "/verify", json={"raw_text": f"The lighthouse number {i} of Ardmore is painted red"}
                )
            count = http.get("/stats").json()["claims_count"]
    finally:
        server.stop()
    (base / "count").write_text(str(count))
    return base / "data"


def _shard(data_dir: Path) -> Path:
    return data_dir / "qdrant-edge" / "factmem_claims"


def _one(shard: Path, pattern: str) -> Path:
    (found,) = list(shard.glob(f"segments/*/{pattern}"))
    return found


def _tear_the_id_tracker(data_dir: Path) -> None:
    path = _one(_shard(data_dir), "mutable_id_tracker.mappings")
    os.truncate(path, path.stat().st_size // 2)


def _truncate_the_vectors_and_lose_the_manifest(data_dir: Path) -> None:
    """No manifest to compare with (a shard from before manifests): only the read probe can tell."""
    os.truncate(_one(_shard(data_dir), "vector_storage/vectors/chunk_0.mmap"), 4096)
    manifest_path(_shard(data_dir)).unlink()


def _zero_the_payload_pages(data_dir: Path) -> None:
    path = _one(_shard(data_dir), "payload_storage/page_0.dat")
    with path.open("r+b") as handle:
        handle.write(b"\0" * 256 * 1024)


@pytest.mark.parametrize(
    "damage", [_tear_the_id_tracker, _truncate_the_vectors_and_lose_the_manifest, _zero_the_payload_pages]
)
def test_a_damaged_store_is_refused_with_the_way_back(
    golden: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(golden, data_dir, symlinks=True)
    damage(data_dir)
    with pytest.raises(RuntimeError) as refused:
        start_server(data_dir, tmp_path / "server.log", wait_for="up")
    message = str(refused.value)
    assert "exited with code 3" in message and "is damaged" in message, message[-3000:]
    assert "python -m factmem export" in message and "python -m factmem import" in message


def test_a_torn_store_is_recovered_by_export_move_aside_import(golden: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(golden, data_dir, symlinks=True)
    total = int((golden.parent / "count").read_text())
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    backup = tmp_path / "backup.jsonl"
    subprocess.run(
        [sys.executable, "-m", "factmem", "export", "--output", str(backup)],
        env=env,
        cwd=REPO_ROOT,
        check=True,
    )
    _tear_the_id_tracker(data_dir)
    salvage = tmp_path / "salvage.jsonl"
    salvaged = subprocess.run(
        [sys.executable, "-m", "factmem", "export", "--output", str(salvage)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 < json.loads(salvaged.stderr.strip().splitlines()[-1])["exported"]["claims"] < total
    aside = data_dir / "qdrant-edge.damaged"
    (data_dir / "qdrant-edge").rename(aside)
    subprocess.run(
        [sys.executable, "-m", "factmem", "import", str(backup)], env=env, cwd=REPO_ROOT, check=True
    )
    server = start_server(data_dir, tmp_path / "server.log")
    try:
        with server.client() as http:
            assert http.get("/stats").json()["claims_count"] == total
    finally:
        server.stop()

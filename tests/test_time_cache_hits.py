"""The in-process cache-hit timer runs on a real memory and reports every step it times."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "time_cache_hits.py"
SEED = ROOT / "backend" / "src" / "data" / "seed_claims.jsonl"


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.rglob("*") if p.is_file()}


@pytest.mark.e2e  # a fresh interpreter loads the model and seeds a memory: seconds
def test_times_hits_and_misses_on_a_copy_of_the_memory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ingest = subprocess.run(
        [sys.executable, "-m", "factmem", "ingest", "--no-index", str(SEED)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATA_DIR": str(data_dir)},
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    before = snapshot(data_dir)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(data_dir), "--warm", "40", "--requests", "12", "--profile", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cache hits   n=") and "p50" in lines[0]
    assert lines[1].startswith("cache misses n=")
    steps = " ".join(line for line in lines[2:] if " ms per hit " in line)
    # no "embed": a hit's claim is held by the memory, whose stored vector is searched with
    for step in ("candidates", "comparing the closest matches", "memory update", "normalize"):
        assert step in steps
    # --profile: the costliest functions of the hits and of the misses, each under its own heading
    assert any(line.startswith("cProfile of the") and "hites" not in line for line in lines)
    assert "ncalls" in done.stdout
    assert int(lines[0].split("n=")[1].split()[0]) > 0  # noisy seed claims are found in the seeded memory
    assert snapshot(data_dir) == before  # the memory it was given is copied, never written

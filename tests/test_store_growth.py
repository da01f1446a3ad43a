"""The store-growth study runs every case in a fresh process and prints one row per case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "store_growth.py"


@pytest.mark.e2e  # six fresh interpreters, each opening a real Qdrant Edge shard
def test_prints_a_row_per_case_from_real_shards(tmp_path: Path) -> None:
    claims = tmp_path / "vclaims.jsonl"
    topics = ("vaccines", "elections", "bridges", "rivers", "taxes", "wildfires")
    rows = [
        {"claim": f"Officials said {topics[i % 6]} rose {i} percent in region {i % 13}."} for i in range(90)
    ]
    claims.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    argv = ["--claims-file", str(claims), "--base", "60", "--added", "30", "--runs", "1"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.splitlines()[2:]
    assert [line.split()[:2] for line in table] == [
        ["real", "on"],
        ["synthetic", "on"],
        ["long", "on"],
        ["real", "off"],
        ["synthetic", "off"],
        ["long", "off"],
    ]
    for line in table:
        float(line.split()[2])  # each run's growth in MB is a number
    too_few = subprocess.run(  # 80 + 30 real claims asked of a file with 90
        [sys.executable, str(SCRIPT), *argv[:2], "--base", "80", "--added", "30", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert too_few.returncode == 1
    assert "the real case failed" in too_few.stderr and "has 90 usable claims" in too_few.stderr


def test_refuses_a_missing_claims_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--claims-file", str(tmp_path / "absent.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "no claims file" in done.stderr

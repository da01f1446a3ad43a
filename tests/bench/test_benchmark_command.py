"""The benchmark's command (``backend/benchmark.py``): its arguments, its summary, one tiny real run.

No timing is asserted: the benchmark is a measurement, not a test.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factmem.settings import Settings
from factmem.store.base import PointWrite
from factmem.store.factory import open_store
from factmem.store.ids import claim_point_id
from factmem.store.integrity import manifest_path
from factmem_bench.bench_config import FULL, QUICK, resolve_counts
from factmem_bench.bench_report import render
from factmem_bench.benchmark_command import build_parser, main
from factmem_bench.phases import claims_held
from factmem_bench.server import REPO_ROOT
from factmem_bench.targets import TARGETS, evaluate_targets

SCRIPT = REPO_ROOT / "backend" / "benchmark.py"


def _counts(*argv: str):
    return resolve_counts(build_parser().parse_args(list(argv)))


def test_default_counts_are_the_full_run() -> None:
    counts = _counts()
    assert counts == FULL
    assert (counts.claims, counts.requests, counts.warm_requests, counts.concurrency) == (
        10_000,
        20_000,
        1_000,
        8,
    )
    assert counts.throughput_levels == (1, 4, 8)
    assert counts.big_claims == 100_000


def test_quick_scales_down_and_explicit_options_win() -> None:
    assert _counts("--quick") == QUICK
    counts = _counts("--quick", "--claims", "300", "--requests", "100", "--throughput-levels", "1,2")
    assert (counts.claims, counts.requests, counts.throughput_levels) == (300, 100, (1, 2))
    assert counts.warm_requests == 100  # never more than the requests
    assert counts.obvious_claims == 300  # the same memory on both sides
    assert _counts("--claims", "300", "--obvious-claims", "50").obvious_claims == 50
    assert _counts("--claims", "5000", "--big-claims", "1000").big_claims == 5000


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv in (["--requests", "0"], ["--throughput-levels", "1,x"], ["--throughput-levels", ","]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    capsys.readouterr()
    assert main(["--max-minutes", "0"]) == 2


def test_render_marks_unmeasured_targets() -> None:
    report = {
        "meta": {"git_commit": "abc1234", "git_status": [], "cpus": 2},
        "args": {"quick": False},
        "counts": dataclasses.asdict(FULL),
        "targets": evaluate_targets({"steady_rss_mb": 150.0}),
        "failures": ["100k: not run"],
    }
    text = render(report)
    assert "MET" in text and "NOT MEASURED" in text
    assert "FAILED: 100k: not run" in text


def test_claims_held_reads_what_the_servers_claim_store_recorded(tmp_path: Path) -> None:
    """The benchmark reads the claim count from the manifest a real store writes where the server keeps it
    (no request to the server between two memory readings)."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert claims_held(tmp_path) is None  # nothing flushed yet
    store = open_store(settings, settings.claims_collection, dim=4)
    try:
        store.upsert([_point(i) for i in range(3)])
        store.flush()
        assert claims_held(tmp_path) == 3
    finally:
        store.close()
    manifest_path(tmp_path / "qdrant-edge" / settings.claims_collection).write_text("{not json", "utf-8")
    assert claims_held(tmp_path) is None


def _point(i: int) -> PointWrite:
    vector = np.zeros(4, dtype=np.float32)
    vector[i % 4] = 1.0
    return PointWrite(id=claim_point_id(f"claim {i}"), vector=vector, payload={"claim_text": f"claim {i}"})


def test_render_gives_the_growth_per_claim_stored() -> None:
    latency = {"p50": 30.0, "p95": 60.0, "p99": 90.0, "count": 19_000}
    load = {
        "requests": 20_000,
        "peak_rss_mb": 183.0,
        "peak_rss_sampled_mb": 182.0,
        "peak_rss_anon_mb": 106.0,
        "server_peak_rss_mb": 184.0,
        "anon_after_warm_mb": 100.0,
        "anon_end_mb": 105.0,
        "anon_growth_mb": 5.0,
        "claims_stored": 7_500,
        "health_latency_ms": {"p50": 7.0, "p99": 25.0, "samples": 760},
        "throughput_rps": 75.0,
        "latency_ms": {"ok": latency},
        "outcomes": {"ok": 19_000},
    }
    report = {
        "meta": {"git_commit": "abc1234", "git_status": [], "cpus": 2},
        "args": {"quick": False},
        "counts": dataclasses.asdict(FULL),
        "steady": {
            "after_requests": 1_000,
            "rss_mb": 159.0,
            "rss_anon_mb": 100.0,
            "peak_during": {"rss_mb": 160.0},
        },
        "load": load,
        "targets": evaluate_targets({"anon_growth_mb": 5.0}),
        "failures": [],
    }
    assert "(growth 5.0 MB while storing 7,500 claims: 0.67 MB per 1,000)" in render(report)
    assert "while storing" not in render(report | {"load": load | {"claims_stored": None}})


@pytest.mark.e2e
def test_quick_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "report" / "benchmark.json"
    argv = [
        "--quick",
        "--claims", "300",
        "--requests", "100",
        "--latency-requests", "10",
        "--throughput-requests", "30",
        "--skip-100k",
        "--skip-obvious",
        "--provider-bursts", "1",
        "--burst-misses", "6",
        "--provider-delay-s", "0.3",
        "--provider-quiet-s", "0.5",
        "--max-minutes", "3",
        "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["complete"] is True and report["failures"] == []
    for key in ("meta", "args", "counts", "data", "startup", "steady", "load", "latency_c1", "throughput"):
        assert key in report, key
    providers = report["providers"]
    [burst] = providers["with_providers"]["bursts"]
    assert burst["statuses"] == {"200": 6}
    assert burst["verdict_by"] == {"llm:scripted-bench-model": 6}, "every miss judged by the loopback LLM"
    assert burst["meanwhile"]["cache_hit_ms"]["count"] > 0
    assert providers["local"]["bursts"][0]["verdict_by"] == {"local": 6}
    assert providers["rss_above_local_mb"] is not None
    assert "claims_100k" not in report and "obvious_stack" not in report
    assert report["data"]["points"] >= 300
    assert report["startup"]["to_health_s"] <= report["startup"]["to_ready_s"]
    assert report["steady"]["rss_mb"] > 0 and report["steady"]["rss_anon_mb"] > 0
    assert report["steady"]["claims_held"] >= report["data"]["points"]  # read from the shard's manifest
    assert report["load"]["requests"] == 100
    assert report["load"]["errors"] == 0
    assert set(report["throughput"]) == {"c1", "c4", "c8"}
    assert [row["key"] for row in report["targets"]] == [t.key for t in TARGETS]
    statuses = {row["key"]: row["status"] for row in report["targets"]}
    assert statuses["big_rss_mb"] == statuses["anon_growth_mb"] == "NOT MEASURED"
    assert statuses["steady_rss_mb"] in {"MET", "NOT MET"}
    assert "target" in done.stdout and "report:" in done.stdout
    assert not list(out.parent.glob("*.jsonl"))  # no claims copied next to the report

"""The benchmark's command (``backend/benchmark.py``): its arguments, its summary, one tiny real run.

No timing is asserted: the benchmark is a measurement, not a test.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from factmem_bench.bench_config import FULL, QUICK, resolve_counts
from factmem_bench.bench_report import render
from factmem_bench.benchmark_command import build_parser, main
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
    assert report["load"]["requests"] == 100
    assert report["load"]["errors"] == 0
    assert set(report["throughput"]) == {"c1", "c4", "c8"}
    assert [row["key"] for row in report["targets"]] == [t.key for t in TARGETS]
    statuses = {row["key"]: row["status"] for row in report["targets"]}
    assert statuses["big_rss_mb"] == statuses["anon_growth_mb"] == "NOT MEASURED"
    assert statuses["steady_rss_mb"] in {"MET", "NOT MET"}
    assert "target" in done.stdout and "report:" in done.stdout
    assert not list(out.parent.glob("*.jsonl"))  # no claims copied next to the report

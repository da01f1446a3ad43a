"""The benchmark command ``backend/benchmark.py``: its pure parts, and one tiny real run (no timing asserted).

Like the load tool, the script is a command, not a package module, so it is imported from its path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factmem.agents.normalizer import Normalizer
from factmem.ingest import CuratedClaim
from tests.conftest import REPO_ROOT, load_backend_script

SCRIPT = REPO_ROOT / "backend" / "benchmark.py"


bench = load_backend_script("benchmark.py", "factmem_benchmark")


# --- targets ---


def _at_limits() -> dict[str, float]:
    return {target.key: float(target.limit) for target in bench.TARGETS}


def test_a_value_at_the_limit_meets_its_target() -> None:
    rows = bench.evaluate_targets(_at_limits())
    assert [row["status"] for row in rows] == ["MET"] * len(bench.TARGETS)


def test_the_wrong_side_of_the_limit_does_not_meet_it() -> None:
    values = _at_limits() | {"steady_rss_mb": 180.1, "throughput_c8_rps": 99.9}
    status = {row["key"]: row["status"] for row in bench.evaluate_targets(values)}
    assert status["steady_rss_mb"] == "NOT MET"
    assert status["throughput_c8_rps"] == "NOT MET"  # a floor, not a ceiling
    assert status["peak_rss_mb"] == "MET"


def test_a_missing_value_is_not_measured_never_met() -> None:
    rows = bench.evaluate_targets({"steady_rss_mb": None})
    assert {row["status"] for row in rows} == {"NOT MEASURED"}
    assert all(row["measured"] is None for row in rows)


def test_the_targets_are_the_ones_of_the_issue() -> None:
    limits = {t.key: (t.op, t.limit) for t in bench.TARGETS}
    assert limits == {
        "steady_rss_mb": ("<=", 180),
        "peak_rss_mb": ("<=", 250),
        "anon_growth_mb": ("<=", 5),
        "health_p99_ms": ("<=", 20),
        "hit_p50_ms": ("<=", 15),
        "throughput_c8_rps": (">=", 100),
        "big_rss_mb": ("<=", 300),
        "big_anon_mb": ("<=", 200),
    }


def test_target_values_are_read_from_their_phases() -> None:
    report = {
        "steady": {"rss_mb": 170.0},
        "load": {"peak_rss_mb": 240.0, "anon_growth_mb": 1.5, "health_latency_ms": {"p99": 8.0}},
        "latency_c1": {"cache_hit": {"p50": 12.0}},
        "throughput": {"c8": {"throughput_rps": 120.0}},
        "claims_100k": {
            "at_ready": {"rss_mb": 250.0, "rss_anon_mb": 150.0},
            "steady": {"rss_mb": 280.0, "rss_anon_mb": 140.0},
        },
    }
    assert bench.target_values(report) == {
        "steady_rss_mb": 170.0,
        "peak_rss_mb": 240.0,
        "anon_growth_mb": 1.5,
        "health_p99_ms": 8.0,
        "hit_p50_ms": 12.0,
        "throughput_c8_rps": 120.0,
        "big_rss_mb": 280.0,  # the worse of the two steady states
        "big_anon_mb": 150.0,
    }
    assert set(bench.target_values({}).values()) == {None}


# --- ratios and peaks ---


def test_ratio_is_ours_over_theirs() -> None:
    assert bench.ratio(100.0, 400.0) == 0.25
    assert bench.ratio(2.0, 3.0) == 0.667
    assert bench.ratio(None, 1.0) is None
    assert bench.ratio(1.0, None) is None
    assert bench.ratio(1.0, 0.0) is None


def test_compare_stacks_gives_one_ratio_per_headline_number() -> None:
    ours = {"peak_rss_mb": 200.0, "steady_rss_mb": 150.0, "throughput_rps": 90.0, "p50_ms": 50.0}
    theirs = {"peak_rss_mb": 800.0, "steady_rss_mb": 600.0, "throughput_rps": 15.0, "p50_ms": 400.0}
    assert bench.compare_stacks(ours, theirs) == {
        "peak_rss": 0.25,
        "steady_rss": 0.25,
        "throughput": 6.0,
        "p50": 0.125,
    }
    assert set(bench.compare_stacks({}, theirs).values()) == {None}


def test_peak_uses_the_high_water_mark_only_when_it_rose_during_the_window() -> None:
    assert bench.load_peak(240.0, hwm_before_mb=230.0, hwm_after_mb=260.0) == 260.0
    # the mark is the startup peak: the window stayed below it, the sampled maximum is the figure
    assert bench.load_peak(240.0, hwm_before_mb=300.0, hwm_after_mb=300.0) == 240.0
    assert bench.load_peak(240.0, hwm_before_mb=None, hwm_after_mb=300.0) == 240.0
    assert bench.load_peak(None, hwm_before_mb=None, hwm_after_mb=None) is None


def test_health_latency_leaves_out_the_idle_first_and_last_samples() -> None:
    def sample(index: int, latency: float, rss: float | None = 100.0):
        return bench.load.HealthSample(index, 0.0, rss, 50.0, 120.0, "healthy", latency)

    samples = [sample(0, 1.0), sample(25, 2.0), sample(50, 3.0, rss=None), sample(75, 4.0), sample(100, 5.0)]
    assert bench.health_latency(samples, planned=100) == [2.0, 4.0]


# --- synthetic data ---


def test_synthetic_claims_are_valid_reproducible_and_alternate_verdicts() -> None:
    claims = list(bench.synthetic_claims(50, seed=7))
    assert claims == list(bench.synthetic_claims(50, seed=7))
    assert claims != list(bench.synthetic_claims(50, seed=8))
    parsed = [CuratedClaim.model_validate(row) for row in claims]
    assert [c.verdict for c in parsed[:4]] == ["False", "True", "False", "True"]


def test_synthetic_texts_never_share_an_identity() -> None:
    normalizer = Normalizer()
    keys = {normalizer.normalize(text).comparison_key for text in bench.synthetic_texts(2_000, seed=3)}
    assert len(keys) == 2_000


def test_random_unit_vectors() -> None:
    vectors = bench.random_unit_vectors(64, 384, np.random.default_rng(0))
    assert vectors.shape == (64, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_eval_claims_reads_rows_in_place(tmp_path: Path) -> None:
    rows = [
        {
            "claim": "A viral video shows a giant snake in a river.",
            "title": "Giant snake?",
            "date": "26 May 2015",
        },
        {"claim": "", "title": "empty claim is skipped"},
        {"claim": "Bananas are berries.", "title": None, "date": "sometime"},
        {"claim": "Never read: beyond n.", "title": "x"},
    ]
    path = tmp_path / "vclaims.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    claims = list(bench.eval_claims(path, 2))
    assert [c["claim"] for c in claims] == [rows[0]["claim"], rows[2]["claim"]]
    assert [c["date"] for c in claims] == ["2015-05-26", None]
    assert [CuratedClaim.model_validate(c).verdict for c in claims] == ["False", "True"]


# --- process memory ---


def test_read_process_memory_from_a_proc_directory(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text(
        "Name:\tpython\nVmHWM:\t  307200 kB\nVmRSS:\t  204800 kB\n"
        "RssAnon:\t  102400 kB\nRssFile:\t   92160 kB\n",
        encoding="ascii",
    )
    assert bench.read_process_memory(42, proc=str(tmp_path)) == {
        "rss_mb": 200.0,
        "rss_anon_mb": 100.0,
        "rss_file_mb": 90.0,
        "hwm_mb": 300.0,
    }
    assert set(bench.read_process_memory(43, proc=str(tmp_path)).values()) == {None}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_read_process_memory_of_this_process() -> None:
    memory = bench.read_process_memory(os.getpid())
    assert memory["rss_mb"] is not None and memory["rss_mb"] > 0
    assert memory["hwm_mb"] is not None and memory["hwm_mb"] >= memory["rss_mb"]


# --- arguments ---


def _counts(*argv: str):
    return bench.resolve_counts(bench.build_parser().parse_args(list(argv)))


def test_default_counts_are_the_full_run() -> None:
    counts = _counts()
    assert counts == bench.FULL
    assert (counts.claims, counts.requests, counts.warm_requests, counts.concurrency) == (
        10_000,
        20_000,
        1_000,
        8,
    )
    assert counts.throughput_levels == (1, 4, 8)
    assert counts.big_claims == 100_000


def test_quick_scales_down_and_explicit_options_win() -> None:
    assert _counts("--quick") == bench.QUICK
    counts = _counts("--quick", "--claims", "300", "--requests", "100", "--throughput-levels", "1,2")
    assert (counts.claims, counts.requests, counts.throughput_levels) == (300, 100, (1, 2))
    assert counts.warm_requests == 100  # never more than the requests
    assert counts.obvious_claims == 300  # the same memory on both sides
    assert _counts("--claims", "300", "--obvious-claims", "50").obvious_claims == 50
    assert _counts("--claims", "5000", "--big-claims", "1000").big_claims == 5000


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    parser = bench.build_parser()
    for argv in (["--requests", "0"], ["--throughput-levels", "1,x"], ["--throughput-levels", ","]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    capsys.readouterr()
    assert bench.main(["--max-minutes", "0"]) == 2


def test_render_marks_unmeasured_targets() -> None:
    report = {
        "meta": {"git_commit": "abc1234", "git_status": [], "cpus": 2},
        "args": {"quick": False},
        "counts": dataclasses.asdict(bench.FULL),
        "targets": bench.evaluate_targets({"steady_rss_mb": 150.0}),
        "failures": ["100k: not run"],
    }
    text = bench.render(report)
    assert "MET" in text and "NOT MEASURED" in text
    assert "FAILED: 100k: not run" in text


# --- one tiny real run ---


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
    assert "claims_100k" not in report and "obvious_stack" not in report
    assert report["data"]["points"] >= 300
    assert report["startup"]["to_health_s"] <= report["startup"]["to_ready_s"]
    assert report["steady"]["rss_mb"] > 0 and report["steady"]["rss_anon_mb"] > 0
    assert report["load"]["requests"] == 100
    assert report["load"]["errors"] == 0
    assert set(report["throughput"]) == {"c1", "c4", "c8"}
    assert [row["key"] for row in report["targets"]] == [t.key for t in bench.TARGETS]
    statuses = {row["key"]: row["status"] for row in report["targets"]}
    assert statuses["big_rss_mb"] == statuses["anon_growth_mb"] == "NOT MEASURED"
    assert statuses["steady_rss_mb"] in {"MET", "NOT MET"}
    assert "target" in done.stdout and "report:" in done.stdout
    assert not list(out.parent.glob("*.jsonl"))  # no claims copied next to the report

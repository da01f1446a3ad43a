"""The load-test command ``backend/test_memory.py``: its pure parts, and one real run against the server.

The script is a command, not a package module, so it is imported from its path. The end-to-end test runs
it exactly as a user would (``--start-server``) against the real ``backend/api_server.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, load_backend_script

SCRIPT = REPO_ROOT / "backend" / "test_memory.py"


tool = load_backend_script("test_memory.py", "factmem_load_tool")
BASE = list(tool.BUILTIN_CLAIMS)


def samples(rss_by_index: list[tuple[int, float]], *, anon_offset: float = -50.0, peak: float | None = None):
    return [
        tool.HealthSample(
            request_index=index,
            elapsed_s=index / 10,
            rss_mb=rss,
            rss_anon_mb=rss + anon_offset,
            peak_rss_mb=peak,
            status="healthy",
            latency_ms=2.0,
        )
        for index, rss in rss_by_index
    ]


# --- the mix ---


def test_mix_proportions_are_exact_for_a_fixed_seed() -> None:
    plan = tool.Plan(1000, tool.DEFAULT_MIX, 42, BASE)
    counts = Counter(request.kind for request in plan)
    assert counts == {"repeat": 400, "paraphrase": 250, "new": 250, "long": 50, "bad": 50}


def test_same_seed_same_requests_other_seed_other_order() -> None:
    first = [r.body for r in tool.Plan(200, tool.DEFAULT_MIX, 7, BASE)]
    assert first == [r.body for r in tool.Plan(200, tool.DEFAULT_MIX, 7, BASE)]
    assert first != [r.body for r in tool.Plan(200, tool.DEFAULT_MIX, 8, BASE)]


def test_apportion_sums_to_n_for_awkward_weights() -> None:
    mix = tool.parse_mix("repeat=1,paraphrase=1,new=1")
    counts = tool.apportion(100, mix)
    assert sum(counts.values()) == 100
    assert counts["long"] == counts["bad"] == 0
    assert sorted(counts[k] for k in ("repeat", "paraphrase", "new")) == [33, 33, 34]


def test_parse_mix_normalises_and_rejects_nonsense() -> None:
    assert tool.parse_mix("repeat=3,new=1") == {
        "repeat": 0.75,
        "paraphrase": 0.0,
        "new": 0.25,
        "long": 0.0,
        "bad": 0.0,
    }
    for text in ("repeat", "typo=1", "repeat=x", "repeat=-1", "repeat=0", ""):
        with pytest.raises(ValueError):
            tool.parse_mix(text)


def test_every_bad_input_is_recognised_and_every_other_kind_is_valid() -> None:
    for name, body in tool.BAD_CASES.items():
        assert tool.input_problem(body) is not None, name
    plan = list(tool.Plan(2000, tool.DEFAULT_MIX, 3, BASE))
    assert {r.variant for r in plan if r.kind == "bad"} == set(tool.BAD_CASES)
    assert all(tool.input_problem(r.body) is not None for r in plan if r.kind == "bad")
    assert [r for r in plan if r.kind != "bad" and tool.input_problem(r.body) is not None] == []


def test_long_claims_are_just_under_the_limit_and_new_claims_are_new() -> None:
    plan = list(tool.Plan(2000, tool.DEFAULT_MIX, 4, BASE))
    lengths = [len(json.loads(r.body)["raw_text"]) for r in plan if r.kind == "long"]
    assert lengths and all(1_850 <= n < 2_000 for n in lengths)
    new = [json.loads(r.body)["raw_text"] for r in plan if r.kind == "new"]
    assert len(set(new)) == len(new)
    assert not set(new) & set(BASE)


def test_paraphrases_add_noise_to_a_base_claim() -> None:
    plan = [r for r in tool.Plan(400, tool.DEFAULT_MIX, 5, BASE) if r.kind == "paraphrase"]
    texts = [json.loads(r.body)["raw_text"] for r in plan]
    assert not set(texts) & set(BASE)


# --- judging answers ---


@pytest.mark.parametrize(
    ("kind", "status", "retry_after", "expected"),
    [
        ("bad", 400, True, "expected_4xx"),
        ("bad", 422, True, "expected_4xx"),
        ("bad", 413, True, "expected_4xx"),
        ("bad", 200, True, "unexpected"),
        ("bad", 503, True, "unexpected"),
        ("bad", 500, True, "error"),
        ("repeat", 200, True, "ok"),
        ("new", 503, True, "shed"),
        ("new", 503, False, "unexpected"),
        ("long", 422, True, "unexpected"),
        ("paraphrase", 500, True, "error"),
        ("repeat", None, True, "error"),
    ],
)
def test_classify(kind: str, status: int | None, retry_after: bool, expected: str) -> None:
    assert tool.classify(kind, status, retry_after=retry_after)[0] == expected


def test_a_200_that_breaks_the_contract_is_unexpected() -> None:
    good = {"cache_hit": False, "request_id": "r1", "verification_result": {"verdict": "True"}}
    assert tool.response_problem(good) is None
    assert tool.response_problem(good | {"verification_result": {"verdict": "maybe"}})
    assert tool.response_problem(good | {"cache_hit": "no"})
    assert tool.response_problem([good])
    problem = tool.response_problem({})
    assert tool.classify("repeat", 200, body_problem=problem)[0] == "unexpected"


# --- statistics ---


def test_percentile_interpolates_between_ranks() -> None:
    data = [4.0, 1.0, 3.0, 2.0]
    assert tool.percentile(data, 0) == 1.0
    assert tool.percentile(data, 50) == 2.5
    assert tool.percentile(data, 100) == 4.0
    assert tool.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert tool.percentile([7.0], 99) == 7.0
    assert tool.percentile([], 50) is None


def test_slope_is_least_squares() -> None:
    xs = [0.0, 1.0, 2.0, 3.0]
    assert tool.slope(xs, [1.0, 3.0, 5.0, 7.0]) == pytest.approx(2.0)
    assert tool.slope(xs, [1.0, 2.0, 1.0, 2.0]) == pytest.approx(0.2)
    assert tool.slope([1.0, 1.0], [1.0, 5.0]) is None
    assert tool.slope([1.0], [1.0]) is None


def test_memory_trend_measures_the_second_half_on_anonymous_rss() -> None:
    # warm-up to 300 MB in the first half, then +10 MB per 1,000 requests
    series = [(i, 200.0 + i / 10) for i in range(0, 1000, 100)]
    series += [(i, 300.0 + (i - 1000) / 100) for i in range(1000, 2001, 100)]
    trend = tool.memory_trend(samples(series, anon_offset=-100.0))
    assert trend.series == "rss_anon_mb"
    assert trend.slope_mb_per_1k == pytest.approx(10.0)
    assert trend.growth_mb == pytest.approx(10.0)
    assert (trend.rss_start, trend.rss_end, trend.anon_end) == (200.0, 310.0, 210.0)
    assert trend.second_half_samples == 11


# --- the verdict ---


def test_verdict_passes_a_flat_series() -> None:
    flat = samples([(i, 300.0 + (i % 200) / 100) for i in range(0, 2001, 50)])
    verdict = tool.judge(tool.memory_trend(flat), limit_mb=512, max_growth_mb_per_1k=5.0, outcomes={"ok": 10})
    assert verdict.passed, verdict.reasons
    assert verdict.warnings == []


def test_verdict_fails_a_growing_series() -> None:
    growing = samples([(i, 300.0 + i * 0.02) for i in range(0, 2001, 50)])  # 20 MB per 1,000 requests
    verdict = tool.judge(tool.memory_trend(growing), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed
    assert "grows 20.00 MB per 1,000" in verdict.reasons[0]


def test_verdict_fails_a_peak_above_the_limit() -> None:
    spiky = samples([(i, 300.0) for i in range(0, 2001, 50)], peak=530.0)  # the server's high-water mark
    verdict = tool.judge(tool.memory_trend(spiky), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed
    assert "peak RSS 530.0 MB is above the limit of 512 MB" in verdict.reasons


def test_verdict_fails_on_errors_unexpected_answers_and_early_stops() -> None:
    trend = tool.memory_trend(samples([(i, 300.0) for i in range(0, 2001, 50)]))
    verdict = tool.judge(
        trend,
        limit_mb=512,
        max_growth_mb_per_1k=5.0,
        outcomes={"ok": 5, "error": 2, "unexpected": 1},
        health_failures=1,
        stopped_early="stopped at --max-seconds after 10 of 20 requests",
    )
    assert not verdict.passed
    assert len(verdict.reasons) == 4


def test_verdict_does_not_judge_the_slope_of_a_short_run() -> None:
    short = samples([(i, 300.0 + i) for i in range(0, 61, 10)])  # noisy by nature: 60 requests
    verdict = tool.judge(tool.memory_trend(short), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert verdict.passed
    assert "growth not judged" in verdict.warnings[0]


def test_verdict_fails_without_any_memory_reading() -> None:
    verdict = tool.judge(tool.memory_trend([]), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed


# --- target safety ---


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://localhost:8000/",
        "http://LOCALHOST",
        "http://[::1]:8000",
    ],
)
def test_loopback_targets_are_accepted(url: str) -> None:
    assert tool.check_target(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "http://10.0.0.1:8000",
        "http://192.168.1.2",
        "http://localhost.example.com",
        "ftp://x",
    ],
)
def test_other_targets_are_refused(url: str) -> None:
    with pytest.raises(tool.UsageError):
        tool.check_target(url)


def test_allow_remote_lets_a_remote_target_through() -> None:
    assert tool.check_target("http://10.0.0.1:8000", allow_remote=True) == "http://10.0.0.1:8000"


def test_a_remote_url_exits_with_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--url", "http://10.0.0.1:8000", "-n", "1"]) == 2
    assert "refusing" in capsys.readouterr().err


# --- end to end ---


@pytest.mark.e2e
def test_end_to_end_against_the_real_server(tmp_path: Path) -> None:
    out = tmp_path / "report"
    command = [sys.executable, str(SCRIPT), "--start-server", "-n", "60", "-c", "4", "--health-every", "10"]
    command += ["--max-seconds", "240", "--seed", "1", "--out", str(out)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=290)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    summary = json.loads((out / "summary.json").read_text())
    for key in ("verdict", "requests", "duration_s", "throughput_rps", "status_counts", "shed", "errors"):
        assert key in summary
    for key in ("expected_4xx", "unexpected", "cache_hit_rate", "latency_ms", "health", "memory", "config"):
        assert key in summary
    assert summary["verdict"] == "PASS"
    assert summary["requests"] == 60
    assert summary["expected_4xx"] == 3  # 5 % of 60, each refused
    assert summary["errors"] == summary["unexpected"] == 0
    assert summary["health"]["samples"] >= 3
    assert summary["memory"]["rss_peak"] is not None
    assert len((out / "requests.csv").read_text().splitlines()) == 61
    assert (out / "health.csv").exists() and (out / "memory.png").exists()

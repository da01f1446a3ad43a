"""Memory over a load run and the verdict (``factmem_bench.memory_trend``)."""

from __future__ import annotations

import pytest

from factmem_bench.memory_trend import HealthSample, judge, memory_trend


def samples(rss_by_index: list[tuple[int, float]], *, anon_offset: float = -50.0, peak: float | None = None):
    return [
        HealthSample(
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


def test_memory_trend_measures_the_second_half_on_anonymous_rss() -> None:
    # warm-up to 300 MB in the first half, then +10 MB per 1,000 requests
    series = [(i, 200.0 + i / 10) for i in range(0, 1000, 100)]
    series += [(i, 300.0 + (i - 1000) / 100) for i in range(1000, 2001, 100)]
    trend = memory_trend(samples(series, anon_offset=-100.0))
    assert trend.series == "rss_anon_mb"
    assert trend.slope_mb_per_1k == pytest.approx(10.0)
    assert trend.growth_mb == pytest.approx(10.0)
    assert (trend.rss_start, trend.rss_end, trend.anon_end) == (200.0, 310.0, 210.0)
    assert trend.second_half_samples == 11


def test_verdict_passes_a_flat_series() -> None:
    flat = samples([(i, 300.0 + (i % 200) / 100) for i in range(0, 2001, 50)])
    verdict = judge(memory_trend(flat), limit_mb=512, max_growth_mb_per_1k=5.0, outcomes={"ok": 10})
    assert verdict.passed, verdict.reasons
    assert verdict.warnings == []


def test_verdict_fails_a_growing_series() -> None:
    growing = samples([(i, 300.0 + i * 0.02) for i in range(0, 2001, 50)])  # 20 MB per 1,000 requests
    verdict = judge(memory_trend(growing), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed
    assert "grows 20.00 MB per 1,000" in verdict.reasons[0]


def test_verdict_fails_a_peak_above_the_limit() -> None:
    spiky = samples([(i, 300.0) for i in range(0, 2001, 50)], peak=530.0)  # the server's high-water mark
    verdict = judge(memory_trend(spiky), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed
    assert "peak RSS 530.0 MB is above the limit of 512 MB" in verdict.reasons


def test_verdict_fails_on_errors_unexpected_answers_and_early_stops() -> None:
    trend = memory_trend(samples([(i, 300.0) for i in range(0, 2001, 50)]))
    verdict = judge(
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
    verdict = judge(memory_trend(short), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert verdict.passed
    assert "growth not judged" in verdict.warnings[0]


def test_verdict_fails_without_any_memory_reading() -> None:
    verdict = judge(memory_trend([]), limit_mb=512, max_growth_mb_per_1k=5.0)
    assert not verdict.passed


def test_a_health_answer_without_memory_figures_is_answered_but_measures_nothing() -> None:
    """Another server's /health may say only "ok": the sample counts as answered, not as a memory reading."""
    quiet = [HealthSample(i, i / 10, None, None, None, "ok", 2.0) for i in range(0, 2001, 50)]
    assert all(s.answered and not s.has_memory for s in quiet)
    verdict = judge(memory_trend(quiet), limit_mb=512, max_growth_mb_per_1k=5.0, outcomes={"ok": 10})
    assert not verdict.passed
    assert "--server-pid" in verdict.reasons[0]
    assert not HealthSample(0, 0.0, None, None, None, "http-500", 2.0).answered
    assert not HealthSample(0, 0.0, None, None, None, "unreachable", 2.0).answered

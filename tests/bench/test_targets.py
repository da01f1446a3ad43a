"""The benchmark's targets, the values behind them, and the ratios (``factmem_bench.targets``)."""

from __future__ import annotations

from factmem_bench.targets import TARGETS, compare_stacks, evaluate_targets, load_peak, ratio, target_values


def _at_limits() -> dict[str, float]:
    return {target.key: float(target.limit) for target in TARGETS}


def test_a_value_at_the_limit_meets_its_target() -> None:
    rows = evaluate_targets(_at_limits())
    assert [row["status"] for row in rows] == ["MET"] * len(TARGETS)


def test_the_wrong_side_of_the_limit_does_not_meet_it() -> None:
    values = _at_limits() | {"steady_rss_mb": 180.1, "throughput_c8_rps": 99.9}
    status = {row["key"]: row["status"] for row in evaluate_targets(values)}
    assert status["steady_rss_mb"] == "NOT MET"
    assert status["throughput_c8_rps"] == "NOT MET"  # a floor, not a ceiling
    assert status["peak_rss_mb"] == "MET"


def test_a_missing_value_is_not_measured_never_met() -> None:
    rows = evaluate_targets({"steady_rss_mb": None})
    assert {row["status"] for row in rows} == {"NOT MEASURED"}
    assert all(row["measured"] is None for row in rows)


def test_the_targets_are_the_ones_of_the_issue() -> None:
    limits = {t.key: (t.op, t.limit) for t in TARGETS}
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
    assert target_values(report) == {
        "steady_rss_mb": 170.0,
        "peak_rss_mb": 240.0,
        "anon_growth_mb": 1.5,
        "health_p99_ms": 8.0,
        "hit_p50_ms": 12.0,
        "throughput_c8_rps": 120.0,
        "big_rss_mb": 280.0,  # the worse of the two steady states
        "big_anon_mb": 150.0,
    }
    assert set(target_values({}).values()) == {None}


def test_ratio_is_ours_over_theirs() -> None:
    assert ratio(100.0, 400.0) == 0.25
    assert ratio(2.0, 3.0) == 0.667
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_compare_stacks_gives_one_ratio_per_headline_number() -> None:
    ours = {"peak_rss_mb": 200.0, "steady_rss_mb": 150.0, "throughput_rps": 90.0, "p50_ms": 50.0}
    theirs = {"peak_rss_mb": 800.0, "steady_rss_mb": 600.0, "throughput_rps": 15.0, "p50_ms": 400.0}
    assert compare_stacks(ours, theirs) == {
        "peak_rss": 0.25,
        "steady_rss": 0.25,
        "throughput": 6.0,
        "p50": 0.125,
    }
    assert set(compare_stacks({}, theirs).values()) == {None}


def test_peak_uses_the_high_water_mark_only_when_it_rose_during_the_window() -> None:
    assert load_peak(240.0, hwm_before_mb=230.0, hwm_after_mb=260.0) == 260.0
    # the mark is the startup peak: the window stayed below it, the sampled maximum is the figure
    assert load_peak(240.0, hwm_before_mb=300.0, hwm_after_mb=300.0) == 240.0
    assert load_peak(240.0, hwm_before_mb=None, hwm_after_mb=300.0) == 240.0
    assert load_peak(None, hwm_before_mb=None, hwm_after_mb=None) is None

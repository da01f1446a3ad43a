"""The benchmark's targets (the README's table), the values behind them, and factmem ÷ obvious ratios."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from factmem_bench.stats import max_known


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    op: str  # "<=" or ">="
    limit: float
    unit: str


TARGETS: tuple[Target, ...] = (
    Target("steady_rss_mb", "steady RSS after 1,000 requests, 10k claims", "<=", 180, "MB"),
    Target("peak_rss_mb", "peak RSS during 20,000 mixed requests, c=8", "<=", 250, "MB"),
    Target("anon_growth_mb", "anon RSS growth, request 1,000 → 20,000", "<=", 5, "MB"),
    Target("health_p99_ms", "/health p99 during that load", "<=", 20, "ms"),
    Target("hit_p50_ms", "cache-hit /verify p50 at c=1", "<=", 15, "ms"),
    Target("throughput_c8_rps", "throughput at c=8 (mixed)", ">=", 100, "req/s"),
    Target("big_rss_mb", "RSS with 100k claims", "<=", 300, "MB"),
    Target("big_anon_mb", "anon RSS with 100k claims", "<=", 200, "MB"),
)


def value_at(report: dict[str, Any], *path: str) -> Any:
    """``report[path[0]][path[1]]...``, or ``None`` where a section was not measured."""
    value: Any = report
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def target_values(report: dict[str, Any]) -> dict[str, float | None]:
    """The measured value behind each target, from a report (``None`` where it was not measured)."""
    big = report.get("claims_100k") or {}
    return {
        "steady_rss_mb": value_at(report, "steady", "rss_mb"),
        "peak_rss_mb": value_at(report, "load", "peak_rss_mb"),
        "anon_growth_mb": value_at(report, "load", "anon_growth_mb"),
        "health_p99_ms": value_at(report, "load", "health_latency_ms", "p99"),
        "hit_p50_ms": value_at(report, "latency_c1", "cache_hit", "p50"),
        "throughput_c8_rps": value_at(report, "throughput", "c8", "throughput_rps"),
        # the worse of after startup and after the mixed requests: both are steady states of that store
        "big_rss_mb": max_known(value_at(big, "at_ready", "rss_mb"), value_at(big, "steady", "rss_mb")),
        "big_anon_mb": max_known(
            value_at(big, "at_ready", "rss_anon_mb"), value_at(big, "steady", "rss_anon_mb")
        ),
    }


def evaluate_targets(values: dict[str, float | None]) -> list[dict[str, Any]]:
    """Each target with its measured value and MET / NOT MET (NOT MEASURED when the value is missing)."""
    rows = []
    for target in TARGETS:
        value = values.get(target.key)
        if value is None:
            status = "NOT MEASURED"
        else:
            met = value <= target.limit if target.op == "<=" else value >= target.limit
            status = "MET" if met else "NOT MET"
        rows.append(dataclasses.asdict(target) | {"measured": value, "status": status})
    return rows


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs`` rounded to 3 places; ``None`` when either is unknown or the divisor is 0."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 3)


def compare_stacks(factmem: dict[str, Any], obvious: dict[str, Any]) -> dict[str, float | None]:
    """factmem / obvious for the same requests (below 1 is better, except for throughput)."""
    return {
        "peak_rss": ratio(factmem.get("peak_rss_mb"), obvious.get("peak_rss_mb")),
        "steady_rss": ratio(factmem.get("steady_rss_mb"), obvious.get("steady_rss_mb")),
        "throughput": ratio(factmem.get("throughput_rps"), obvious.get("throughput_rps")),
        "p50": ratio(factmem.get("p50_ms"), obvious.get("p50_ms")),
    }


def load_peak(
    sampled_mb: float | None, hwm_before_mb: float | None, hwm_after_mb: float | None
) -> float | None:
    """The process's peak RSS during a load window.

    The kernel's high-water mark (VmHWM) sees every spike but also the startup peak. If it rose during the
    window, its final value is exactly the window's peak; if not, the window stayed below the earlier mark and
    the sampled maximum is the best figure (the high-water mark is reported beside it).
    """
    if hwm_before_mb is not None and hwm_after_mb is not None and hwm_after_mb > hwm_before_mb + 0.5:
        return max_known(sampled_mb, hwm_after_mb)
    return sampled_mb

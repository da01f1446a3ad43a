"""What a load run leaves: ``summary.json``, ``requests.csv``, ``health.csv`` and the printed report."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from factmem_bench.load_run import LoadRun, RequestResult
from factmem_bench.memory_trend import MemoryTrend, Verdict
from factmem_bench.mix import KINDS
from factmem_bench.stats import latency_stats, percentile


def summarise(run: LoadRun, trend: MemoryTrend, verdict: Verdict, config: dict[str, Any]) -> dict[str, Any]:
    """Everything ``summary.json`` holds: the numbers behind the verdict, and the run's settings."""
    results = run.results
    outcomes = Counter(r.outcome for r in results)
    answered = [r for r in results if r.status is not None]
    cached = [r for r in results if r.kind in ("repeat", "paraphrase") and r.outcome == "ok"]
    hits = [r for r in results if r.outcome == "ok" and r.cache_hit is True]
    misses = [r for r in results if r.outcome == "ok" and r.cache_hit is False]
    health_ok = [s for s in run.samples if s.answered]
    memory = {k: v for k, v in asdict(trend).items() if k not in ("fit_start", "fit_end")}
    return {
        "verdict": "PASS" if verdict.passed else "FAIL",
        "reasons": verdict.reasons,
        "warnings": verdict.warnings,
        "requests": len(results),
        "planned_requests": len(run.plan),
        "stopped_early": run.stopped_early,
        "duration_s": round(run.duration_s, 2),
        "throughput_rps": round(len(results) / run.duration_s, 2) if run.duration_s > 0 else None,
        "status_counts": dict(sorted(Counter(str(r.status or "transport_error") for r in results).items())),
        "outcomes": {
            name: outcomes.get(name, 0) for name in ("ok", "expected_4xx", "shed", "error", "unexpected")
        },
        "shed": outcomes.get("shed", 0),
        "errors": outcomes.get("error", 0),
        "expected_4xx": outcomes.get("expected_4xx", 0),
        "unexpected": outcomes.get("unexpected", 0),
        "unexpected_examples": [
            {"index": r.index, "kind": r.kind, "variant": r.variant, "status": r.status, "detail": r.detail}
            for r in results
            if r.outcome in ("error", "unexpected")
        ][:10],
        "kinds": {kind: sum(r.kind == kind for r in results) for kind in KINDS},
        "cache_hit_rate": {
            "repeat_and_paraphrase": _rate([r.cache_hit is True for r in cached]),
            "repeat": _rate([r.cache_hit is True for r in cached if r.kind == "repeat"]),
            "paraphrase": _rate([r.cache_hit is True for r in cached if r.kind == "paraphrase"]),
        },
        "latency_ms": {
            "all": latency_stats([r.latency_ms for r in answered]),
            "ok": latency_stats([r.latency_ms for r in answered if r.outcome == "ok"]),
            "cache_hit": latency_stats([r.latency_ms for r in hits]),
            "cache_miss": latency_stats([r.latency_ms for r in misses]),
            "by_kind": {
                kind: latency_stats([r.latency_ms for r in answered if r.kind == kind]) for kind in KINDS
            },
        },
        "health": {
            "samples": len(run.samples),
            "failures": len(run.samples) - len(health_ok),
            "degraded": sum(s.status == "degraded" for s in run.samples),
            "latency_ms": {
                "p50": _round(percentile([s.latency_ms for s in health_ok], 50)),
                "p99": _round(percentile([s.latency_ms for s in health_ok], 99)),
            },
        },
        "memory": memory | {"peak_mb": _round(trend.peak), "slope_judged": trend.slope_judged},
        "config": config,
    }


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def write_csvs(run: LoadRun, out: Path) -> None:
    with (out / "requests.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        names = list(RequestResult.__dataclass_fields__)
        writer.writerow(names)
        writer.writerows([getattr(r, name) for name in names] for r in run.results)
    with (out / "health.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["request_index", "elapsed_s", "rss_mb", "rss_anon_mb", "peak_rss_mb", "status", "latency_ms"]
        )
        writer.writerows(
            [s.request_index, s.elapsed_s, s.rss_mb, s.rss_anon_mb, s.peak_rss_mb, s.status, s.latency_ms]
            for s in run.samples
        )


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def render_report(summary: dict[str, Any], out: Path) -> str:
    """The human-readable report printed at the end."""
    memory, latency = summary["memory"], summary["latency_ms"]
    lines = [
        "",
        f"factmem load test: {summary['requests']} requests in {summary['duration_s']:.1f} s "
        f"({_fmt(summary['throughput_rps'])} req/s), concurrency {summary['config']['concurrency']}, "
        f"seed {summary['config']['seed']}",
        f"  status codes   {summary['status_counts']}",
        f"  outcomes       {summary['outcomes']}",
        f"  cache hits     {_fmt(summary['cache_hit_rate']['repeat_and_paraphrase'])} of answered "
        "repeats/paraphrases",
        "  latency ms     p50 / p95 / p99",
    ]
    rows = [
        ("all", latency["all"]),
        ("cache hit", latency["cache_hit"]),
        ("cache miss", latency["cache_miss"]),
    ]
    rows += [(kind, stats) for kind, stats in latency["by_kind"].items()]
    lines += [
        f"    {name:<12} {_fmt(s['p50'])} / {_fmt(s['p95'])} / {_fmt(s['p99'])}  (n={s['count']})"
        for name, s in rows
        if s["count"]
    ]
    health = summary["health"]
    lines += [
        f"  /health        {health['samples']} samples, p50 {_fmt(health['latency_ms']['p50'])} ms, "
        f"p99 {_fmt(health['latency_ms']['p99'])} ms, {health['failures']} failed",
        f"  RSS MB         start {_fmt(memory['rss_start'])}, end {_fmt(memory['rss_end'])}, "
        f"peak {_fmt(memory['rss_peak'])} (server high-water {_fmt(memory['server_peak_rss'])}), "
        f"limit {summary['config']['rss_limit_mb']:g}",
        f"  anon RSS MB    start {_fmt(memory['anon_start'])}, end {_fmt(memory['anon_end'])}, "
        f"peak {_fmt(memory['anon_peak'])}",
        f"  second half    growth {_fmt(memory['growth_mb'], ' MB')}, slope "
        f"{_fmt(memory['slope_mb_per_1k'], ' MB/1k req')} on {memory['series']} "
        f"({memory['second_half_samples']} samples; threshold {summary['config']['max_growth_mb_per_1k']:g})",
    ]
    lines += [f"  warning: {w}" for w in summary["warnings"]]
    lines.append(f"VERDICT: {summary['verdict']}")
    lines += [f"  - {reason}" for reason in summary["reasons"]]
    lines.append(f"reports in {out}")
    return "\n".join(lines)

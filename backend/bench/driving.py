"""Driving a server with the load tool's machinery, and what one run measured, in the benchmark's units."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from factmem_bench.load_run import REQUEST_TIMEOUT_S, LoadRun
from factmem_bench.memory_trend import HealthSample
from factmem_bench.mix import DEFAULT_MIX, Plan, PlannedRequest, make_request
from factmem_bench.stats import latency_stats, percentile


def drive(
    url: str, plan: Sequence[PlannedRequest], concurrency: int, health_every: int, deadline: float
) -> LoadRun:
    """Send ``plan`` with the load tool's ``LoadRun`` (threads, /health sampled from its own thread)."""
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    with httpx.Client(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        run = LoadRun(client, url, plan, concurrency, health_every, deadline)
        run.run()
    if run.stopped_early and run.stopped_early.startswith("interrupted"):
        raise KeyboardInterrupt  # LoadRun absorbs the first Ctrl-C to finish cleanly; end the benchmark too
    return run


def health_latency(samples: Sequence[HealthSample], planned: int) -> list[float]:
    """Latencies of the /health samples taken while requests were in flight (not the idle first and last)."""
    return [s.latency_ms for s in samples if s.answered and 0 < s.request_index < planned]


def run_stats(run: Any) -> dict[str, Any]:
    """What one ``LoadRun`` measured, in the units of the report."""
    results = run.results
    outcomes = Counter(r.outcome for r in results)
    answered = [r.latency_ms for r in results if r.status is not None]
    ok = [r for r in results if r.outcome == "ok"]
    cached = [r for r in ok if r.kind in ("repeat", "paraphrase")]
    health = health_latency(run.samples, len(run.plan))
    return {
        "requests": len(results),
        "planned": len(run.plan),
        "stopped_early": run.stopped_early,
        "duration_s": round(run.duration_s, 2),
        "throughput_rps": round(len(results) / run.duration_s, 1) if run.duration_s > 0 else None,
        "outcomes": {k: outcomes.get(k, 0) for k in ("ok", "expected_4xx", "shed", "error", "unexpected")},
        "status_counts": dict(sorted(Counter(str(r.status or "transport_error") for r in results).items())),
        "error_examples": [
            {"kind": r.kind, "status": r.status, "detail": r.detail[:200]}
            for r in results
            if r.outcome in ("error", "unexpected")
        ][:5],
        "cache_hit_rate": round(sum(r.cache_hit is True for r in cached) / len(cached), 3)
        if cached
        else None,
        "latency_ms": {
            "all": latency_stats(answered),
            "ok": latency_stats([r.latency_ms for r in ok]),
            "cache_hit": latency_stats([r.latency_ms for r in ok if r.cache_hit is True]),
            "cache_miss": latency_stats([r.latency_ms for r in ok if r.cache_hit is False]),
        },
        "health_latency_ms": pcts(health),
    }


def pcts(values: Sequence[float]) -> dict[str, Any]:
    def rounded(q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value, 2)

    return {"samples": len(values), "p50": rounded(50), "p99": rounded(99), "max": rounded(100)}


def mixed_plan(n: int, seed: int, base: Sequence[str]) -> Plan:
    return Plan(n, DEFAULT_MIX, seed, base)


def hit_miss_plan(n_each: int, seed: int, seed_claims: Sequence[str]) -> list[PlannedRequest]:
    """Interleaved: a seed claim with chat noise (expected hit), then a never-seen claim (expected miss)."""
    plan = []
    for i in range(n_each):
        plan.append(make_request(2 * i, "paraphrase", "", seed, seed_claims))
        plan.append(make_request(2 * i + 1, "new", "", seed, seed_claims))
    return plan


def latency_c1(
    url: str, n_each: int, seed: int, seed_claims: Sequence[str], deadline: float
) -> dict[str, Any]:
    """/verify latency at concurrency 1, split by the server's own ``cache_hit`` answer."""
    run = drive(url, hit_miss_plan(n_each, seed, seed_claims), 1, 10**9, deadline)
    stats = run_stats(run)
    ok = [r for r in run.results if r.outcome == "ok"]
    paraphrases = [r for r in ok if r.kind == "paraphrase"]
    return {
        "requests": stats["requests"],
        "stopped_early": stats["stopped_early"],
        "cache_hit": stats["latency_ms"]["cache_hit"],
        "cache_miss": stats["latency_ms"]["cache_miss"],
        "noisy_seed_claims_hit_rate": (
            round(sum(r.cache_hit is True for r in paraphrases) / len(paraphrases), 3)
            if paraphrases
            else None
        ),
        "outcomes": stats["outcomes"],
    }

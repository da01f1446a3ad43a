"""The benchmark's phases on factmem: the memory, startup, steady and peak memory under load, latency,
throughput, and the large store (the obvious stack's phase is in :mod:`factmem_bench.obvious`)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from factmem_bench.bench_config import MEMORY_LIMIT_MB, Counts
from factmem_bench.bench_data import SYNTHETIC_NOTE
from factmem_bench.build_steps import build_in_child
from factmem_bench.driving import drive, latency_c1, mixed_plan, pcts, run_stats
from factmem_bench.load_run import HEALTH_TIMEOUT_S
from factmem_bench.memory_trend import memory_trend
from factmem_bench.process_memory import ProcSampler, read_process_memory
from factmem_bench.server import FACTMEM_SERVER, RunningServer, launch
from factmem_bench.stats import max_known
from factmem_bench.targets import load_peak, value_at

SETTLE_S = 1.0  # idle pause before a "steady" reading, so in-flight cleanup has finished


@dataclass
class Context:
    counts: Counts
    seed: int
    deadline: float
    out_dir: Path
    work_dir: Path
    claims_file: Path | None
    base: list[str]  # the load tool's pool of repeated claims
    seed_claims: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()


@contextmanager
def measured_server(
    name: str, command: Sequence[str], env: Mapping[str, str], log_path: Path, *, timeout_s: float
) -> Iterator[tuple[RunningServer, dict[str, float | None]]]:
    """A server started for a phase, with its peak memory between start and ``/ready``, children included
    (like the index builder it may start: a container's limit applies to all of them); stopped on exit."""
    print(f"[{name}] starting (log: {log_path}) ...", file=sys.stderr)
    server = launch(command, log_path=log_path, env=env, name=name)
    try:
        with ProcSampler(server.pid, with_children=True) as startup:
            server.wait_until("ready", timeout_s)
        yield server, startup.peaks(server.started_at)
    finally:
        server.stop()


def server_health(server: RunningServer, client: httpx.Client) -> dict[str, Any]:
    response = client.get(f"{server.url}/health", timeout=HEALTH_TIMEOUT_S)
    response.raise_for_status()
    payload = response.json()
    return payload if isinstance(payload, dict) else {}


def settle(server: RunningServer, client: httpx.Client) -> dict[str, Any]:
    """An idle reading of the server's memory, from /proc and from its own /health."""
    time.sleep(SETTLE_S)
    memory = read_process_memory(server.pid)
    health = server_health(server, client)
    return memory | {
        "server_peak_rss_mb": health.get("peak_rss_mb"),
        "server_rss_mb": health.get("memory_mb"),
        "server_rss_anon_mb": health.get("rss_anon_mb"),
    }


#: The claim shard's manifest under a data directory (``factmem.store.integrity.manifest_path`` of the
#: default claims collection; read here without importing the server's package, see ``build_steps``).
CLAIMS_MANIFEST = Path("qdrant-edge") / "factmem_claims.manifest.json"


def claims_held(data_dir: Path) -> int | None:
    """Points in the claim memory as its last flush recorded (the server flushes every second), read from
    its manifest on disk: asking the server would add work of its own between two memory readings.
    ``None`` when there is no readable manifest."""
    try:
        record = json.loads((data_dir / CLAIMS_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    points = record.get("points") if isinstance(record, dict) else None
    return points if isinstance(points, int) else None


def factmem_env(data_dir: Path) -> dict[str, str]:
    return {"DATA_DIR": str(data_dir), "MEMORY_LIMIT_MB": str(MEMORY_LIMIT_MB), "LOG_LEVEL": "info"}


def phase_memory(ctx: Context) -> None:
    """Phase 0: the claim memory, built once and copied for the large store."""
    n = ctx.counts.claims
    use_eval = ctx.claims_file is not None and ctx.claims_file.is_file()
    print(
        f"[memory] ingesting {n:,} {'real' if use_eval else 'synthetic'} claims + seed ...", file=sys.stderr
    )
    built = build_in_child(
        "build_memory",
        ctx.deadline,
        data_dir=ctx.work_dir / "data-10k",
        n=n,
        claims_file=ctx.claims_file if use_eval else None,
        seed=ctx.seed,
    )
    ctx.report["data"] = {
        "claims_source": str(ctx.claims_file) if use_eval else "synthetic (load tool templates)",
        "claims_requested": n,
        "verdicts": "alternating True/False (the source has no labels)"
        if use_eval
        else "alternating True/False",
        **built,
    }
    if not ctx.report["args"]["skip_100k"]:
        shutil.copytree(ctx.work_dir / "data-10k", ctx.work_dir / "data-100k", symlinks=True)


def phases_10k(ctx: Context) -> None:
    """Phases 1–5 on one server over the built memory."""
    c = ctx.counts
    data_dir = ctx.work_dir / "data-10k"
    with (
        measured_server(
            "factmem",
            FACTMEM_SERVER,
            factmem_env(data_dir),
            ctx.out_dir / "server-10k.log",
            timeout_s=min(300.0, ctx.remaining_s()),
        ) as (server, _),
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=HEALTH_TIMEOUT_S) as client,
    ):
        at_ready = read_process_memory(server.pid)
        ready_health = server_health(server, client)
        ctx.report["startup"] = {
            "to_health_s": server.health_s,
            "to_ready_s": server.ready_s,
            "at_ready": at_ready,
            "server_limit_mb": ready_health.get("memory_limit_mb"),
            "server_limit_source": ready_health.get("limit_source"),
        }
        print(f"[factmem] ready in {server.ready_s} s, RSS {at_ready['rss_mb']} MB", file=sys.stderr)

        # phase 2: the first requests, then an idle reading
        warm_started = time.monotonic()
        warm = drive(
            server.url,
            mixed_plan(c.warm_requests, ctx.seed, ctx.base),
            c.concurrency,
            c.health_every,
            ctx.deadline,
        )
        warm_ended = time.monotonic()
        steady = settle(server, client) | {"claims_held": claims_held(data_dir)}
        warm_stats = run_stats(warm)
        warm_peaks = sampler.peaks(warm_started, warm_ended)
        warm_sampled = max_known(warm_peaks["rss_mb"], *(x.rss_mb for x in warm.samples))
        ctx.report["steady"] = {
            "after_requests": warm_stats["requests"],
            **steady,
            "peak_during": warm_peaks
            | {"peak_rss_mb": load_peak(warm_sampled, at_ready["hwm_mb"], steady["hwm_mb"])},
            "run": warm_stats,
        }
        check_run(ctx, "steady", warm)

        # phase 3: the rest of the requests (other claims: another seed), then an idle reading
        rest = c.requests - c.warm_requests
        hwm_before = at_ready["hwm_mb"]  # the whole request window (phases 2+3) is judged
        main_started = time.monotonic()
        runs = [warm]
        if rest > 0:
            runs.append(
                drive(
                    server.url,
                    mixed_plan(rest, ctx.seed + 1, ctx.base),
                    c.concurrency,
                    c.health_every,
                    ctx.deadline,
                )
            )
        main_ended = time.monotonic()
        end = settle(server, client) | {"claims_held": claims_held(data_dir)}
        ctx.report["load"] = load_section(
            runs, sampler, warm_started, main_started, main_ended, hwm_before, steady, end
        )
        check_run(ctx, "load", runs[-1])

        # phase 4: latency at concurrency 1
        if c.latency_requests:
            ctx.report["latency_c1"] = latency_c1(
                server.url, c.latency_requests, ctx.seed + 2, ctx.seed_claims, ctx.deadline
            )

        # phase 5: throughput at each concurrency level
        throughput: dict[str, Any] = {}
        for level in c.throughput_levels:
            run = drive(
                server.url,
                mixed_plan(c.throughput_requests, ctx.seed + 10 + level, ctx.base),
                level,
                10**9,
                ctx.deadline,
            )
            stats = run_stats(run)
            throughput[f"c{level}"] = {
                k: stats[k] for k in ("requests", "duration_s", "throughput_rps", "outcomes", "stopped_early")
            } | {"latency_ms": stats["latency_ms"]["ok"]}
            check_run(ctx, f"throughput c={level}", run)
        ctx.report["throughput"] = throughput
        ctx.report["after_all_10k"] = settle(server, client)


def load_section(
    runs: list[Any],
    sampler: ProcSampler,
    warm_started: float,
    main_started: float,
    main_ended: float,
    hwm_before: float | None,
    steady: dict[str, Any],
    end: dict[str, Any],
) -> dict[str, Any]:
    """Phase 3 numbers: the whole request window (phases 2+3) for peaks, phase 3 alone for growth."""
    whole = sampler.peaks(warm_started, main_ended)
    health_samples = [s for run in runs for s in run.samples if 0 < s.request_index < len(run.plan)]
    main = run_stats(runs[-1])
    outcomes: Counter[str] = Counter()
    for run in runs:
        outcomes.update(r.outcome for r in run.results)
    trend = memory_trend(runs[-1].samples)
    sampled_peak = max_known(whole["rss_mb"], *(s.rss_mb for s in health_samples))
    return {
        "requests": sum(len(run.results) for run in runs),
        "concurrency": runs[-1].concurrency,
        "peak_rss_mb": load_peak(sampled_peak, hwm_before, end.get("hwm_mb")),
        "peak_rss_sampled_mb": sampled_peak,
        "peak_rss_anon_mb": max_known(whole["rss_anon_mb"], *(s.rss_anon_mb for s in health_samples)),
        "server_peak_rss_mb": end.get("server_peak_rss_mb"),
        "process_hwm_mb": end.get("hwm_mb"),
        "hwm_before_mb": hwm_before,
        "anon_after_warm_mb": steady.get("rss_anon_mb"),
        "anon_end_mb": end.get("rss_anon_mb"),
        # only measured when requests followed the warm-up ones
        "anon_growth_mb": _diff(end.get("rss_anon_mb"), steady.get("rss_anon_mb")) if len(runs) > 1 else None,
        # what the growth mostly follows: the claims the requests after the warm-up stored (README)
        "claims_stored": _diff(end.get("claims_held"), steady.get("claims_held")) if len(runs) > 1 else None,
        "rss_after_warm_mb": steady.get("rss_mb"),
        "rss_end_mb": end.get("rss_mb"),
        "second_half_slope_mb_per_1k": trend.slope_mb_per_1k,
        "health_latency_ms": pcts([s.latency_ms for s in health_samples if s.answered]),
        "health_failures": sum(not s.answered for s in health_samples),
        "outcomes": {k: outcomes.get(k, 0) for k in ("ok", "expected_4xx", "shed", "error", "unexpected")},
        "errors": outcomes.get("error", 0) + outcomes.get("unexpected", 0),
        "shed": outcomes.get("shed", 0),
        "throughput_rps": main["throughput_rps"],
        "latency_ms": main["latency_ms"],
        "cache_hit_rate": main["cache_hit_rate"],
        "error_examples": main["error_examples"],
        "duration_s": round(main_ended - main_started, 1),
        "at_end": end,
    }


def _diff(a: float | None, b: float | None) -> float | None:
    """``a - b`` to 0.1 (a difference of two counts stays an int), or ``None`` when either is unknown."""
    return None if a is None or b is None else round(a - b, 1)


def check_run(ctx: Context, name: str, run: Any) -> None:
    if run.stopped_early:
        ctx.failed.append(f"{name}: {run.stopped_early}")


def phase_100k(ctx: Context) -> None:
    """Phase 6: the large store, index built by the operator command, server restarted on it."""
    c = ctx.counts
    data_dir = ctx.work_dir / "data-100k"
    print(f"[100k] adding synthetic points up to {c.big_claims:,} ...", file=sys.stderr)
    added = build_in_child(
        "add_synthetic_points", ctx.deadline, data_dir=data_dir, total=c.big_claims, seed=ctx.seed
    )
    print("[100k] starting the server: it indexes the store in a child process first ...", file=sys.stderr)
    section: dict[str, Any] = {"note": SYNTHETIC_NOTE, **added}
    ctx.report["claims_100k"] = section
    with (
        measured_server(
            "factmem-100k",
            FACTMEM_SERVER,
            factmem_env(data_dir),
            ctx.out_dir / "server-100k.log",
            timeout_s=min(300.0, ctx.remaining_s()),
        ) as (server, startup_peaks),
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=HEALTH_TIMEOUT_S) as client,
    ):
        section |= {
            "to_health_s": server.health_s,
            "to_ready_s": server.ready_s,
            "at_ready": read_process_memory(server.pid),
            "index_build": {
                "by": "the server before ready, in a child process",
                "seconds": _built_seconds(server.log_path),
                "peak_rss_mb_server_and_child": startup_peaks.get("rss_mb"),
                "peak_rss_anon_mb_server_and_child": startup_peaks.get("rss_anon_mb"),
                "poll_latency_ms": pcts(server.startup_poll_ms),
            },
        }
        started = time.monotonic()
        run = drive(
            server.url,
            mixed_plan(c.big_requests, ctx.seed + 3, ctx.base),
            c.concurrency,
            c.health_every,
            ctx.deadline,
        )
        section["peak_during"] = sampler.peaks(started, time.monotonic())
        section["steady"] = settle(server, client)
        stats = run_stats(run)
        section["run"] = stats
        check_run(ctx, "100k", run)
        section["latency_c1"] = latency_c1(
            server.url, c.big_latency_requests, ctx.seed + 4, ctx.seed_claims, ctx.deadline
        )


def _built_seconds(server_log: Path) -> float | None:
    """The index build time the server logged (``vector index built seconds=...``), if it built one."""
    try:
        lines = server_log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if "vector index built seconds=" in line:
            return float(line.split("seconds=", 1)[1].split()[0])
    return None


def factmem_side(report: dict[str, Any]) -> dict[str, Any]:
    """factmem's numbers for the same 1,000 requests the obvious stack gets."""
    steady = report.get("steady") or {}
    run = steady.get("run") or {}
    return {
        "requests": run.get("requests"),
        "peak_rss_mb": value_at(steady, "peak_during", "peak_rss_mb"),
        "steady_rss_mb": steady.get("rss_mb"),
        "throughput_rps": run.get("throughput_rps"),
        "p50_ms": value_at(run, "latency_ms", "ok", "p50"),
        "p95_ms": value_at(run, "latency_ms", "ok", "p95"),
        "errors": (value_at(run, "outcomes", "error") or 0) + (value_at(run, "outcomes", "unexpected") or 0),
    }

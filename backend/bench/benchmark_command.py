"""The benchmark's command line (``backend/benchmark.py``): every phase, the report, the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from factmem_bench.bench_config import EVAL_CLAIMS, FULL, MEMORY_LIMIT_MB, resolve_counts
from factmem_bench.bench_report import git_info, package_versions, render
from factmem_bench.command_line import positive_int, stop_cleanly_on_sigterm
from factmem_bench.mix import BASE_POOL_SIZE, SEED_CLAIMS, load_base_claims
from factmem_bench.obvious import obvious_side, phase_obvious
from factmem_bench.phases import Context, factmem_side, phase_100k, phase_memory, phases_10k
from factmem_bench.providers_phase import phase_providers
from factmem_bench.targets import compare_stacks, evaluate_targets, target_values


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(positive_int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"use a list like 1,4,8 ({exc})") from None
    if not levels:
        raise argparse.ArgumentTypeError("give at least one concurrency level")
    return levels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark.py",
        description="Measure factmem's memory, latency and throughput against its targets and the obvious "
        "stack.",
        epilog="Exit codes: 0 measured, 1 a phase failed or ran out of time, 2 usage error, 130 interrupted.",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--quick", action="store_true", help="scaled-down counts for a fast check")
    run.add_argument("--max-minutes", type=float, default=40.0, help="time budget (default: %(default)s)")
    run.add_argument(
        "--out", type=Path, help="JSON report (default: reports/benchmark-<timestamp>/benchmark.json)"
    )
    run.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    run.add_argument(
        "--seed", type=int, default=20_251_122, help="seed of every random choice (default: %(default)s)"
    )
    run.add_argument("--claims-file", type=Path, default=EVAL_CLAIMS, help="JSONL with a `claim` field")
    run.add_argument(
        "--synthetic", action="store_true", help="use synthetic claims even if --claims-file exists"
    )
    run.add_argument("--skip-100k", action="store_true", help="skip phase 6 (the large store)")
    run.add_argument("--skip-obvious", action="store_true", help="skip phase 7 (the obvious stack)")
    run.add_argument(
        "--skip-providers", action="store_true", help="skip phase 8 (loopback LLM and web search)"
    )
    counts = parser.add_argument_group("counts (defaults: full run; --quick scales them down)")
    counts.add_argument("--claims", type=positive_int, help=f"claims loaded (full: {FULL.claims})")
    counts.add_argument(
        "-n", "--requests", type=positive_int, help=f"mixed requests, phases 2+3 ({FULL.requests})"
    )
    counts.add_argument(
        "--warm-requests", type=positive_int, help=f"requests before steady ({FULL.warm_requests})"
    )
    counts.add_argument("-c", "--concurrency", type=positive_int, help=f"load threads ({FULL.concurrency})")
    counts.add_argument(
        "--latency-requests", type=positive_int, help=f"hits and misses each ({FULL.latency_requests})"
    )
    counts.add_argument(
        "--throughput-requests", type=positive_int, help=f"requests per level ({FULL.throughput_requests})"
    )
    counts.add_argument("--throughput-levels", type=_levels, help="concurrency levels (1,4,8)")
    counts.add_argument("--big-claims", type=positive_int, help=f"points in phase 6 ({FULL.big_claims})")
    counts.add_argument(
        "--big-requests", type=positive_int, help=f"mixed requests in phase 6 ({FULL.big_requests})"
    )
    counts.add_argument("--big-latency-requests", type=positive_int, help=argparse.SUPPRESS)
    counts.add_argument(
        "--obvious-claims", type=positive_int, help="claims in the obvious stack (= --claims)"
    )
    counts.add_argument(
        "--provider-bursts", type=positive_int, help=f"bursts of misses in phase 8 ({FULL.provider_bursts})"
    )
    counts.add_argument(
        "--burst-misses", type=positive_int, help=f"concurrent misses per burst ({FULL.burst_misses})"
    )
    counts.add_argument(
        "--provider-delay-s", type=float, help=f"seconds each provider takes ({FULL.provider_delay_s})"
    )
    counts.add_argument("--provider-quiet-s", type=float, help=argparse.SUPPRESS)
    counts.add_argument(
        "--obvious-requests",
        type=positive_int,
        help=f"requests to the obvious stack ({FULL.obvious_requests})",
    )
    counts.add_argument(
        "--health-every", type=positive_int, help=f"sample /health every K ({FULL.health_every})"
    )
    return parser


def run_benchmark(args: argparse.Namespace) -> int:
    counts = resolve_counts(args)
    started_at = datetime.now(UTC)
    deadline = time.monotonic() + args.max_minutes * 60
    out: Path = args.out or Path("reports") / f"benchmark-{datetime.now():%Y%m%d-%H%M%S}" / "benchmark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    seed_claims = load_base_claims(SEED_CLAIMS)
    base = random.Random(args.seed).sample(seed_claims, k=min(BASE_POOL_SIZE, len(seed_claims)))
    work_dir = Path(tempfile.mkdtemp(prefix="factmem-bench-"))
    ctx = Context(
        counts=counts,
        seed=args.seed,
        deadline=deadline,
        out_dir=out.parent,
        work_dir=work_dir,
        claims_file=None if args.synthetic else args.claims_file,
        base=base,
        seed_claims=seed_claims,
    )
    report = ctx.report
    report["meta"] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        **git_info(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews it
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "memory_limit_mb_setting": MEMORY_LIMIT_MB,
        "container_limit": "none enforced on this machine: MEMORY_LIMIT_MB drives the server's own guard",
    }
    report["args"] = {
        "quick": args.quick,
        "skip_100k": args.skip_100k,
        "skip_obvious": args.skip_obvious,
        "skip_providers": args.skip_providers,
        "max_minutes": args.max_minutes,
        "seed": args.seed,
    }
    report["counts"] = dataclasses.asdict(counts)
    interrupted = False
    try:
        phases: list[tuple[str, Callable[[Context], None], bool]] = [
            ("memory", phase_memory, True),
            ("10k", phases_10k, True),
            ("100k", phase_100k, not args.skip_100k),
            ("obvious", phase_obvious, not args.skip_obvious),
            ("providers", phase_providers, not args.skip_providers),
        ]
        for name, phase, wanted in phases:
            if not wanted:
                continue
            if name != "memory" and "data" not in report:
                ctx.failed.append(f"{name}: not run (the memory could not be built)")
                continue
            if ctx.remaining_s() <= 0:
                ctx.failed.append(f"{name}: not run (time budget of {args.max_minutes:g} min used up)")
                continue
            report.setdefault("load_average_at_phase_start", {})[name] = [
                round(x, 2) for x in os.getloadavg()
            ]
            try:
                phase(ctx)
            except Exception as exc:  # a failed phase is reported; the others still run
                ctx.failed.append(f"{name}: {type(exc).__name__}: {exc}")
                print(f"[{name}] failed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
        ctx.failed.append("interrupted by the user")
    finally:
        if args.keep:
            print(f"data kept in {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    if "obvious_stack" in report and "requests" in report["obvious_stack"]:
        mine, theirs = factmem_side(report), obvious_side(report["obvious_stack"])
        report["comparison"] = {"factmem": mine, "obvious": theirs, "ratios": compare_stacks(mine, theirs)}
    report["targets"] = evaluate_targets(target_values(report))
    report["failures"] = ctx.failed
    report["complete"] = not ctx.failed
    report["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["meta"]["duration_s"] = round((datetime.now(UTC) - started_at).total_seconds(), 1)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(render(report))
    print(f"report: {out}")
    if interrupted:
        return 130
    return 0 if report["complete"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_minutes <= 0 or not math.isfinite(args.max_minutes):
        print("error: --max-minutes must be a positive number", file=sys.stderr)
        return 2
    stop_cleanly_on_sigterm()
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())

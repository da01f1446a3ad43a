"""The load test's command line (``backend/test_memory.py``): preflight, run, reports, verdict, exit code.

It drives any server that speaks ``POST /verify {"raw_text": ...}`` and ``GET /health``, so an operator can
measure factmem side by side with what they run now: factmem reports its memory on ``/health``; for another
server, ``--server-pid`` reads it from ``/proc``. Exit codes: 0 PASS, 1 FAIL, 2 usage error or server not
reachable, 130 aborted by a second Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from factmem_bench.charts import plot
from factmem_bench.command_line import positive_float, positive_int, stop_cleanly_on_sigterm
from factmem_bench.load_report import render_report, summarise, write_csvs
from factmem_bench.load_run import HEALTH_TIMEOUT_S, REQUEST_TIMEOUT_S, LoadRun, json_or_none, number
from factmem_bench.loopback import UsageError, check_target
from factmem_bench.memory_trend import judge, memory_trend
from factmem_bench.mix import BASE_POOL_SIZE, DEFAULT_MIX, Plan, load_base_claims, parse_mix
from factmem_bench.server import FACTMEM_SERVER, ServerStartError, start

DEFAULT_LIMIT_MB = 512.0
READY_TIMEOUT_S = 120.0


def _mix_arg(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="test_memory.py",
        description="Load-test a factmem server (or any server with POST /verify and GET /health) and judge "
        "whether its memory stays flat.",
        epilog="Exit codes: 0 PASS, 1 FAIL, 2 usage error or server not reachable.",
    )
    target = parser.add_argument_group("target")
    target.add_argument(
        "--url", default="http://127.0.0.1:8000", help="server to test (default: %(default)s)"
    )
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --url you own")
    target.add_argument("--start-server", action="store_true", help="start backend/api_server.py for the run")
    target.add_argument(
        "--server-memory-limit-mb", type=positive_float, help="MEMORY_LIMIT_MB for the started server"
    )
    target.add_argument(
        "--data-dir", type=Path, help="DATA_DIR for the started server (default: a temp dir, removed after)"
    )
    target.add_argument(
        "--server-pid",
        type=positive_int,
        help="read memory from /proc/PID/status when the server's /health does not report it",
    )
    load = parser.add_argument_group("load")
    load.add_argument(
        "-n", "--requests", type=positive_int, default=1000, help="requests (default: %(default)s)"
    )
    load.add_argument(
        "-c", "--concurrency", type=positive_int, default=8, help="threads (default: %(default)s)"
    )
    load.add_argument(
        "--mix",
        type=_mix_arg,
        default=DEFAULT_MIX,
        help="kind=weight list (default: repeat=0.4,paraphrase=0.25,new=0.25,long=0.05,bad=0.05)",
    )
    load.add_argument(
        "--seed", type=int, help="random seed for a reproducible mix (default: random, printed)"
    )
    load.add_argument(
        "--max-seconds",
        type=positive_float,
        default=600.0,
        help="wall-time budget for the whole run, server start included (default: %(default)s)",
    )
    judged = parser.add_argument_group("measurement")
    judged.add_argument(
        "--health-every", type=positive_int, default=25, help="sample /health every K requests (default: 25)"
    )
    judged.add_argument(
        "--rss-limit-mb", type=positive_float, help="limit for peak RSS (default: the server's, else 512)"
    )
    judged.add_argument(
        "--max-growth-mb-per-1k",
        type=float,
        default=5.0,
        help="allowed memory slope over the second half, MB per 1,000 requests (default: %(default)s)",
    )
    judged.add_argument("--out", type=Path, help="report directory (default: reports/load-<timestamp>/)")
    return parser


def preflight(client: httpx.Client, url: str) -> dict[str, Any]:
    """The server's ``/health`` before the run; ``UsageError`` when it is not there or not ready.

    ``/ready`` is factmem's: a 503 there means "not yet"; a server without it (404) is taken as ready.
    """
    try:
        health = client.get(f"{url}/health", timeout=HEALTH_TIMEOUT_S)
        ready = client.get(f"{url}/ready", timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise UsageError(f"server not reachable at {url}: {exc} (start it, or pass --start-server)") from None
    if ready.status_code == 503:
        raise UsageError(f"server at {url} is not ready yet (/ready is 503); retry in a few seconds")
    payload = json_or_none(health) if health.status_code == 200 else None
    if not isinstance(payload, dict):
        raise UsageError(f"{url}/health answered HTTP {health.status_code}, not a JSON object")
    return payload


def execute(args: argparse.Namespace, url: str, deadline: float, out: Path) -> int:
    """Preflight, run, write the reports, print the verdict; the exit code."""
    limits = httpx.Limits(
        max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2
    )
    with httpx.Client(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        health = preflight(client, url)
        server_limit = number(health.get("memory_limit_mb"))
        limit_mb = args.rss_limit_mb or server_limit or DEFAULT_LIMIT_MB
        claims = load_base_claims()
        base = random.Random(args.seed).sample(claims, k=min(BASE_POOL_SIZE, len(claims)))
        plan = Plan(args.requests, args.mix, args.seed, base)
        run = LoadRun(
            client, url, plan, args.concurrency, args.health_every, deadline, memory_pid=args.server_pid
        )
        run.run()
    outcomes = Counter(r.outcome for r in run.results)
    trend = memory_trend(run.samples)
    verdict = judge(
        trend,
        limit_mb=limit_mb,
        max_growth_mb_per_1k=args.max_growth_mb_per_1k,
        outcomes=dict(outcomes),
        health_failures=sum(not s.answered for s in run.samples),
        degraded=sum(s.status == "degraded" for s in run.samples),
        stopped_early=run.stopped_early,
    )
    config = {
        "url": url,
        "started_server": args.start_server,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "health_every": args.health_every,
        "seed": args.seed,
        "mix": args.mix,
        "max_seconds": args.max_seconds,
        "rss_limit_mb": limit_mb,
        "rss_limit_source": "option" if args.rss_limit_mb else ("server" if server_limit else "default"),
        "server_limit_source": health.get("limit_source"),
        "max_growth_mb_per_1k": args.max_growth_mb_per_1k,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    summary = summarise(run, trend, verdict, config)
    write_csvs(run, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plot(run, trend, limit_mb, verdict, out / "memory.png")
    print(render_report(summary, out))
    return 0 if verdict.passed else 1


@contextmanager
def started_server(
    log_path: Path, *, data_dir: Path | None, memory_limit_mb: float | None, deadline: float
) -> Iterator[str]:
    """Start factmem for the run (a temporary data directory unless one is given), yield its URL; stop it and
    remove the temporary directory on every exit."""
    temp_dir = None if data_dir else Path(tempfile.mkdtemp(prefix="factmem-load-"))
    env = {"DATA_DIR": str(data_dir or temp_dir), "SEED_ON_EMPTY": "true", "LOG_LEVEL": "info"}
    if memory_limit_mb is not None:
        env["MEMORY_LIMIT_MB"] = f"{memory_limit_mb:g}"
    print(f"starting the server (log: {log_path}) ...", file=sys.stderr)
    try:
        timeout_s = min(READY_TIMEOUT_S, deadline - time.monotonic())
        server = start(FACTMEM_SERVER, log_path=log_path, env=env, timeout_s=timeout_s)
    except ServerStartError as exc:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise UsageError(str(exc)) from None
    try:
        yield server.url
    finally:
        server.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.start_server and (args.data_dir or args.server_memory_limit_mb):
        parser.error("--data-dir and --server-memory-limit-mb only apply with --start-server")
    deadline = time.monotonic() + args.max_seconds
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    out: Path = args.out or Path("reports") / f"load-{datetime.now():%Y%m%d-%H%M%S}"
    stop_cleanly_on_sigterm()
    try:
        with ExitStack() as stack:
            if args.start_server:
                url = stack.enter_context(
                    started_server(
                        out / "server.log",
                        data_dir=args.data_dir,
                        memory_limit_mb=args.server_memory_limit_mb,
                        deadline=deadline,
                    )
                )
            else:
                url = check_target(args.url, args.allow_remote)
            out.mkdir(parents=True, exist_ok=True)
            return execute(args, url, deadline, out)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

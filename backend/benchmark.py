"""Measure factmem against its memory and latency targets, and against the obvious stack, in one command.

    .venv/bin/python backend/benchmark.py                 # the full run (~20–30 min on 2 cores)
    .venv/bin/python backend/benchmark.py --quick         # scaled-down counts, a few minutes
    .venv/bin/python backend/benchmark.py --skip-100k --skip-obvious --claims 300 --requests 100

Phases (each against the real server, ``backend/api_server.py`` in a subprocess on 127.0.0.1 with
``MEMORY_LIMIT_MB=512`` and the embedded Qdrant Edge store):

0. memory: the first ``--claims`` claims of ``../shared/eval/vclaims.jsonl`` (read in place; the release has
   no verdicts, so they get alternating True/False labels) or synthetic claims, plus the packaged seed
   claims, stored through ``factmem.ingest.ingest_claims`` into a fresh data directory, index built;
1. startup: seconds from process start to ``/health`` 200 and to ``/ready`` 200, RSS at ready;
2. steady memory after ``--warm-requests`` mixed requests at concurrency 8 (the load tool's mix:
   repeats, paraphrases, new claims, ~2,000-character claims, invalid inputs);
3. the rest of ``--requests`` mixed requests: peak RSS / anonymous RSS, anonymous growth between the end of
   phase 2 and the end, ``/health`` latency sampled during the load, errors and sheds;
4. ``/verify`` latency at concurrency 1 for cache hits (seed claims with chat noise) and misses (new claims);
5. throughput of the mix at concurrency 1, 4 and 8;
6. a 100k-claim store (the claims above plus synthetic points: random unit vectors with payloads built
   exactly like real ones — RSS depends on the point count and payload size, not on what the vectors mean),
   a server started on it, which finds 90k points unindexed and builds the index in a child process before
   it reports ready (``/health`` and ``/ready`` latency and the peak of server + child are recorded);
7. the obvious stack (``backend/obvious_stack_app.py``: FastEmbed defaults + qdrant-client ``:memory:``)
   loaded with the same claims and driven with the same phase-2 requests, side by side.

Memory is read from ``/proc/<pid>/status`` of each server every 0.1 s (VmRSS, RssAnon, VmHWM) and from the
server's own ``/health``. No container limit is enforced here: ``MEMORY_LIMIT_MB`` only drives the server's
guard, so the obvious stack can show how far above 512 MB it goes.

Loopback only; bounded by ``--max-minutes``; servers stopped and temporary directories removed on every exit
(Ctrl-C and SIGTERM included) unless ``--keep``. Prints a table of the targets with MET / NOT MET and writes
everything to ``--out`` (default ``reports/benchmark-<timestamp>/benchmark.json``). Exit codes: 0 every
requested phase ran (whatever the targets say: this is a measurement, not a test), 1 a phase failed or was
cut by the time budget, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import numpy as np

_BACKEND = Path(__file__).resolve().parent
if str(_BACKEND) not in sys.path:  # `python backend/benchmark.py` has it already; importing from tests not
    sys.path.insert(0, str(_BACKEND))

import test_memory as load  # noqa: E402  (the load-test tool: request mix, LoadRun, statistics, server stop)

REPO_ROOT = _BACKEND.parent
SERVER_SCRIPT = _BACKEND / "api_server.py"
OBVIOUS_SCRIPT = _BACKEND / "obvious_stack_app.py"
EVAL_CLAIMS = REPO_ROOT.parent / "shared" / "eval" / "vclaims.jsonl"
SEED_CLAIMS = _BACKEND / "src" / "data" / "seed_claims.jsonl"

MEMORY_LIMIT_MB = 512
SAMPLE_INTERVAL_S = 0.1
POLL_INTERVAL_S = 0.05
SETTLE_S = 1.0  # idle pause before a "steady" reading, so in-flight cleanup has finished
UPSERT_BATCH = 1_000
SYNTHETIC_NOTE = (
    "synthetic points have random unit vectors and realistic payloads (same schema and sizes as real "
    "claims): RSS depends on the point count and payload size, not on what the vectors mean"
)


# --- configuration ---


@dataclass(frozen=True)
class Counts:
    """How much of everything one run does."""

    claims: int = 10_000
    requests: int = 20_000
    warm_requests: int = 1_000
    concurrency: int = 8
    latency_requests: int = 300  # each: cache hits and cache misses
    throughput_requests: int = 500  # per concurrency level
    throughput_levels: tuple[int, ...] = (1, 4, 8)
    big_claims: int = 100_000
    big_requests: int = 1_000
    big_latency_requests: int = 200
    obvious_claims: int = 10_000
    obvious_requests: int = 1_000
    health_every: int = 25


FULL = Counts()
QUICK = Counts(
    claims=2_000,
    requests=2_000,
    warm_requests=500,
    latency_requests=100,
    throughput_requests=200,
    big_claims=20_000,
    big_requests=300,
    big_latency_requests=50,
    obvious_claims=2_000,
    obvious_requests=300,
)


def resolve_counts(args: argparse.Namespace) -> Counts:
    """The full (or ``--quick``) counts with every option the user gave on top."""
    base = QUICK if args.quick else FULL
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Counts)
        if getattr(args, f.name, None) is not None
    }
    if "claims" in given and "obvious_claims" not in given:
        given["obvious_claims"] = given["claims"]  # the same memory on both sides unless told otherwise
    counts = dataclasses.replace(base, **given)
    return dataclasses.replace(
        counts,
        warm_requests=min(counts.warm_requests, counts.requests),
        big_claims=max(counts.big_claims, counts.claims),
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(_positive_int(part) for part in text.split(",") if part.strip())
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
    run.add_argument("--build-step", help=argparse.SUPPRESS)  # the child side of build_in_child
    counts = parser.add_argument_group("counts (defaults: full run; --quick scales them down)")
    counts.add_argument("--claims", type=_positive_int, help=f"claims loaded (full: {FULL.claims})")
    counts.add_argument(
        "-n", "--requests", type=_positive_int, help=f"mixed requests, phases 2+3 ({FULL.requests})"
    )
    counts.add_argument(
        "--warm-requests", type=_positive_int, help=f"requests before steady ({FULL.warm_requests})"
    )
    counts.add_argument("-c", "--concurrency", type=_positive_int, help=f"load threads ({FULL.concurrency})")
    counts.add_argument(
        "--latency-requests", type=_positive_int, help=f"hits and misses each ({FULL.latency_requests})"
    )
    counts.add_argument(
        "--throughput-requests", type=_positive_int, help=f"requests per level ({FULL.throughput_requests})"
    )
    counts.add_argument("--throughput-levels", type=_levels, help="concurrency levels (1,4,8)")
    counts.add_argument("--big-claims", type=_positive_int, help=f"points in phase 6 ({FULL.big_claims})")
    counts.add_argument(
        "--big-requests", type=_positive_int, help=f"mixed requests in phase 6 ({FULL.big_requests})"
    )
    counts.add_argument("--big-latency-requests", type=_positive_int, help=argparse.SUPPRESS)
    counts.add_argument(
        "--obvious-claims", type=_positive_int, help="claims in the obvious stack (= --claims)"
    )
    counts.add_argument(
        "--obvious-requests",
        type=_positive_int,
        help=f"requests to the obvious stack ({FULL.obvious_requests})",
    )
    counts.add_argument(
        "--health-every", type=_positive_int, help=f"sample /health every K ({FULL.health_every})"
    )
    return parser


# --- targets and ratios (pure) ---


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


def _get(report: dict[str, Any], *path: str) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _max_known(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def target_values(report: dict[str, Any]) -> dict[str, float | None]:
    """The measured value behind each target, from a report (``None`` where it was not measured)."""
    big = report.get("claims_100k") or {}
    return {
        "steady_rss_mb": _get(report, "steady", "rss_mb"),
        "peak_rss_mb": _get(report, "load", "peak_rss_mb"),
        "anon_growth_mb": _get(report, "load", "anon_growth_mb"),
        "health_p99_ms": _get(report, "load", "health_latency_ms", "p99"),
        "hit_p50_ms": _get(report, "latency_c1", "cache_hit", "p50"),
        "throughput_c8_rps": _get(report, "throughput", "c8", "throughput_rps"),
        # the worse of after startup and after the mixed requests: both are steady states of that store
        "big_rss_mb": _max_known(_get(big, "at_ready", "rss_mb"), _get(big, "steady", "rss_mb")),
        "big_anon_mb": _max_known(_get(big, "at_ready", "rss_anon_mb"), _get(big, "steady", "rss_anon_mb")),
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
        return _max_known(sampled_mb, hwm_after_mb)
    return sampled_mb


# --- synthetic data (pure, seeded) ---


def synthetic_claims(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` made-up claims with alternating True/False verdicts (the load tool's templates)."""
    rng = random.Random(f"claims:{seed}")
    for i in range(n):
        yield {
            "claim": load.new_claim(rng),
            "verdict": "True" if i % 2 else "False",
            "explanation": "synthetic claim generated by the benchmark",
            "source": "benchmark",
            "source_reliability": 0.5,
        }


def eval_claims(path: Path, n: int) -> Iterator[dict[str, Any]]:
    """The first ``n`` usable rows of a CheckThat! ``vclaims.jsonl``, read in place.

    The release carries no verdicts, so verdicts alternate True/False: what is measured is memory and speed,
    not correctness. The title serves as the explanation (realistic payload size).
    """
    with path.open(encoding="utf-8") as rows:
        produced = 0
        for line in rows:
            if produced >= n:
                return
            row = json.loads(line)
            claim = (row.get("claim") or "").strip()
            if len(claim) < 3:
                continue
            yield {
                "claim": claim[:2_000],
                "verdict": "True" if produced % 2 else "False",
                "explanation": (row.get("title") or "")[:2_000],
                "source": row.get("source") or "checkthat",
                "source_reliability": 0.6,
                "date": _iso_date(row.get("date")),
            }
            produced += 1


def _iso_date(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%d %B %Y", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text.strip(), fmt).date().isoformat()
    return None


def random_unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    import numpy as np

    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def synthetic_texts(n: int, seed: int) -> Iterator[str]:
    """Made-up claim texts for the large store, numbered so no two normalise to the same identity."""
    rng = random.Random(f"points:{seed}")
    for i in range(n):
        yield f"{load.new_claim(rng).rstrip('.')} (record {i})."


# --- processes and memory ---


def read_process_memory(pid: int, proc: str = "/proc") -> dict[str, float | None]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process in MB; all ``None`` once it is gone."""
    keys = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb", "VmHWM": "hwm_mb"}
    values: dict[str, float | None] = dict.fromkeys(keys.values())
    try:
        with open(f"{proc}/{pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, rest = line.partition(":")
                if name in keys:
                    values[keys[name]] = round(int(rest.split()[0]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return values


def child_pids(pid: int, proc: str = "/proc") -> list[int]:
    """Direct children of a process (e.g. the server's index builder); empty once it is gone."""
    children: list[int] = []
    try:
        for task in os.listdir(f"{proc}/{pid}/task"):
            with open(f"{proc}/{pid}/task/{task}/children", encoding="ascii") as listed:
                children.extend(int(child) for child in listed.read().split())
    except (OSError, ValueError):
        pass
    return children


def read_tree_memory(pid: int) -> dict[str, float | None]:
    """``read_process_memory`` summed over a process and its children: what a container is charged."""
    total = read_process_memory(pid)
    for child in child_pids(pid):
        memory = read_process_memory(child)
        for key in ("rss_mb", "rss_anon_mb", "rss_file_mb"):
            if total[key] is not None and memory[key] is not None:
                total[key] = round(total[key] + memory[key], 1)  # type: ignore[operator]
    return total


class ProcSampler:
    """Reads a server's memory every ``interval_s`` in a thread, so peaks between /health samples count.

    With ``with_children`` the readings include the server's child processes (the index builder it may
    start before it is ready), since a container's limit applies to all of them together.
    """

    def __init__(
        self, pid: int, interval_s: float = SAMPLE_INTERVAL_S, *, with_children: bool = False
    ) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._read = read_tree_memory if with_children else read_process_memory
        self.samples: list[tuple[float, float | None, float | None]] = []  # (monotonic, rss, anon)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            memory = self._read(self.pid)
            if memory["rss_mb"] is None:
                return
            self.samples.append((time.monotonic(), memory["rss_mb"], memory["rss_anon_mb"]))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def peaks(self, since: float, until: float | None = None) -> dict[str, float | None]:
        window = [s for s in list(self.samples) if s[0] >= since and (until is None or s[0] <= until)]
        return {
            "rss_mb": _max_known(*(s[1] for s in window)),
            "rss_anon_mb": _max_known(*(s[2] for s in window)),
            "samples": len(window),
        }


@dataclass
class Server:
    """A server process on loopback, with how long it took to answer."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_s: float | None = None
    ready_s: float | None = None
    #: latency of every /health or /ready poll answered while the server was starting (warm-up included)
    startup_poll_ms: list[float] = field(default_factory=list)
    #: peak memory of the server and its children between its start and /ready
    startup_peaks: dict[str, float | None] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> dict[str, float | None]:
        return read_process_memory(self.pid)

    def health(self, client: httpx.Client) -> dict[str, Any]:
        response = client.get(f"{self.url}/health", timeout=load.HEALTH_TIMEOUT_S)
        response.raise_for_status()
        payload = response.json()
        return payload if isinstance(payload, dict) else {}


def server_env(port: int, extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any factmem setting (a developer's QDRANT_URL must not leak in)."""
    env = {k: v for k, v in os.environ.items() if k not in load._SERVER_ENV and not k.startswith("OBVIOUS_")}
    return env | {"HOST": "127.0.0.1", "PORT": str(port)} | extra


@contextlib.contextmanager
def running_server(
    name: str, script: Path, extra_env: dict[str, str], log_path: Path, *, timeout_s: float
) -> Iterator[Server]:
    """Start ``script`` on a free loopback port, time ``/health`` and ``/ready``, stop it on every exit."""
    port = load.free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{name}] starting on 127.0.0.1:{port} (log: {log_path}) ...", file=sys.stderr)
    with log_path.open("ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=REPO_ROOT,
            env=server_env(port, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark only; it stops the server in order
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        with ProcSampler(process.pid, with_children=True) as startup:
            _wait_up(server, started, timeout_s)
        server.startup_peaks = startup.peaks(started)
        yield server
    finally:
        load._stop(process)


def _wait_up(server: Server, started: float, timeout_s: float) -> None:
    deadline = started + max(timeout_s, 1.0)
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                code = server.process.returncode
                raise RuntimeError(f"{server.name} exited with code {code}:\n{load.tail(server.log_path)}")
            path = "/health" if server.health_s is None else "/ready"
            asked = time.perf_counter()
            try:
                status = http.get(f"{server.url}{path}").status_code
                server.startup_poll_ms.append(round((time.perf_counter() - asked) * 1000, 2))
            except httpx.TransportError:
                status = None
            if status == 200:
                elapsed = round(time.monotonic() - started, 3)
                if server.health_s is None:
                    server.health_s = elapsed
                    continue
                server.ready_s = elapsed
                return
            time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"{server.name} not ready after {timeout_s:.0f} s:\n{load.tail(server.log_path)}")


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


# --- building the memory (the real ingest path, in a child process) ---


#: Exit status of a build step that ran out of the time budget.
_OUT_OF_TIME_EXIT = 75


def build_in_child(step: str, deadline: float, **arguments: object) -> dict[str, Any]:
    """Run a build step (``build_memory``, ``add_synthetic_points``) in a child process; its result.

    The benchmark process itself never loads the model or the store engine: the kernel leaves resident the
    library pages two processes share, so a benchmark holding onnxruntime and Qdrant Edge would keep the
    measured server's startup release (``MEMORY_RELEASE_FILE_PAGES``) from taking them, and measure a
    situation a deployment, one process alone, never is in.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutOfTime(f"no time left for {step}")
    spec = json.dumps({"step": step, "remaining_s": remaining, **arguments}, default=str)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--build-step", spec],
        stdout=subprocess.PIPE,
        text=True,
        timeout=remaining + 60,
        check=False,
    )
    if done.returncode == _OUT_OF_TIME_EXIT:
        raise OutOfTime(f"the time budget ran out in {step}")
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed in its child process (exit {done.returncode}; its errors above)")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_build_step(spec_json: str) -> int:
    """The child's side of ``build_in_child``: one step, its result as the last line of stdout."""
    spec = json.loads(spec_json)
    deadline = time.monotonic() + float(spec["remaining_s"])
    try:
        if spec["step"] == "build_memory":
            n, claims_file = int(spec["n"]), spec["claims_file"]
            rows = (
                eval_claims(Path(claims_file), n) if claims_file else synthetic_claims(n, int(spec["seed"]))
            )
            result = build_memory(Path(spec["data_dir"]), rows, n, deadline)
        elif spec["step"] == "add_synthetic_points":
            result = add_synthetic_points(
                Path(spec["data_dir"]), int(spec["total"]), int(spec["seed"]), deadline
            )
        else:
            print(f"error: unknown build step {spec['step']!r}", file=sys.stderr)
            return 2
    except OutOfTime as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _OUT_OF_TIME_EXIT
    print(json.dumps(result))
    return 0


def _settings(data_dir: Path) -> Any:
    from factmem.settings import Settings

    return Settings(
        _env_file=None, data_dir=data_dir, qdrant_url=None, seed_on_empty=False, memory_limit_mb=None
    )


@contextlib.contextmanager
def _pipeline(data_dir: Path) -> Iterator[Any]:
    from factmem.embeddings import MINILM_INT8, get_shared_embedding_model
    from factmem.pipeline import VerificationPipeline
    from factmem.store import open_store

    settings = _settings(data_dir)
    claims = open_store(settings, settings.claims_collection, MINILM_INT8.dim)
    evidence = open_store(settings, settings.evidence_collection, MINILM_INT8.dim)
    try:
        yield VerificationPipeline(settings, claims, evidence, lambda: get_shared_embedding_model(settings))
    finally:
        claims.close()
        evidence.close()


class OutOfTime(Exception):
    """The time budget ran out inside a phase."""


def build_memory(data_dir: Path, rows: Iterator[dict[str, Any]], n: int, deadline: float) -> dict[str, Any]:
    """Ingest ``rows`` and the seed claims with ``factmem.ingest.ingest_claims``, then build the index."""
    from tqdm import tqdm

    from factmem.ingest import CuratedClaim, IngestReport, ingest_claims, parse_records, read_records

    def check_time(done: int) -> None:
        bar.update(done)
        if time.monotonic() > deadline:
            raise OutOfTime("the time budget ran out while ingesting")

    started = time.monotonic()
    with _pipeline(data_dir) as pipeline:
        report = IngestReport()
        numbered = ((i, row) for i, row in enumerate(rows, start=1))
        with tqdm(total=n, unit="claim", desc="ingest", file=sys.stderr, mininterval=1.0) as bar:
            ingest_claims(
                pipeline, parse_records(numbered, CuratedClaim, report), report=report, on_batch=check_time
            )
        seed = IngestReport()
        ingest_claims(
            pipeline, parse_records(read_records(SEED_CLAIMS), CuratedClaim, seed), origin="seed", report=seed
        )
        ingest_s = time.monotonic() - started
        index_started = time.monotonic()
        pipeline.claim_store.build_index()
        points = pipeline.claim_store.count()
    return {
        "claims_inserted": report.inserted,
        "claims_merged": report.updated,
        "claims_rejected": len(report.rejected),
        "seed_inserted": seed.inserted,
        "points": points,
        "ingest_s": round(ingest_s, 1),
        "ingest_claims_per_s": round((report.inserted + report.updated) / ingest_s, 1) if ingest_s else None,
        "index_build_s": round(time.monotonic() - index_started, 1),
    }


def add_synthetic_points(data_dir: Path, total: int, seed: int, deadline: float) -> dict[str, Any]:
    """Top the claim store up to ``total`` points with random unit vectors and realistic payloads."""
    import numpy as np
    from tqdm import tqdm

    from factmem.agents.base import VerificationResult
    from factmem.agents.memory_update import new_claim_payload
    from factmem.agents.normalizer import Normalizer
    from factmem.embeddings import MINILM_INT8
    from factmem.store import PointWrite, open_store
    from factmem.store.ids import claim_point_id
    from factmem.time_decay import utc_now

    settings = _settings(data_dir)
    store = open_store(settings, settings.claims_collection, MINILM_INT8.dim)
    normalizer = Normalizer(max_chars=settings.max_claim_chars)
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    try:
        missing = max(0, total - store.count())
        texts = synthetic_texts(missing, seed)
        now = utc_now()
        with tqdm(
            total=missing, unit="point", desc="synthetic points", file=sys.stderr, mininterval=1.0
        ) as bar:
            for offset in range(0, missing, UPSERT_BATCH):
                if time.monotonic() > deadline:
                    raise OutOfTime("the time budget ran out while adding synthetic points")
                size = min(UPSERT_BATCH, missing - offset)
                vectors = random_unit_vectors(size, MINILM_INT8.dim, rng)
                writes = []
                for text, vector in zip(itertools.islice(texts, size), vectors, strict=True):
                    claim = normalizer.normalize(text)
                    verdict = ("True", "False", "Uncertain")[len(writes) % 3]
                    result = VerificationResult(
                        verdict=verdict, confidence=0.7, reasoning="synthetic", explanation=text
                    )
                    payload = new_claim_payload(
                        claim, result, now=now, source="benchmark", origin="synthetic"
                    )
                    writes.append(
                        PointWrite(id=claim_point_id(claim.comparison_key), vector=vector, payload=payload)
                    )
                store.upsert(writes)
                bar.update(size)
        points = store.count()
    finally:
        store.close()
    return {"synthetic_points": missing, "points": points, "seconds": round(time.monotonic() - started, 1)}


# --- driving load ---


def drive(
    url: str, plan: Sequence[load.PlannedRequest], concurrency: int, health_every: int, deadline: float
) -> load.LoadRun:
    """Send ``plan`` with the load tool's ``LoadRun`` (threads, /health sampled from its own thread)."""
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    with httpx.Client(timeout=load.REQUEST_TIMEOUT_S, limits=limits) as client:
        run = load.LoadRun(client, url, plan, concurrency, health_every, deadline)
        run.run()
    if run.stopped_early and run.stopped_early.startswith("interrupted"):
        raise KeyboardInterrupt  # LoadRun absorbs the first Ctrl-C to finish cleanly; end the benchmark too
    return run


def health_latency(samples: Sequence[load.HealthSample], planned: int) -> list[float]:
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
            "all": load.latency_stats(answered),
            "ok": load.latency_stats([r.latency_ms for r in ok]),
            "cache_hit": load.latency_stats([r.latency_ms for r in ok if r.cache_hit is True]),
            "cache_miss": load.latency_stats([r.latency_ms for r in ok if r.cache_hit is False]),
        },
        "health_latency_ms": _pcts(health),
    }


def _pcts(values: Sequence[float]) -> dict[str, Any]:
    def rounded(q: float) -> float | None:
        value = load.percentile(values, q)
        return None if value is None else round(value, 2)

    return {"samples": len(values), "p50": rounded(50), "p99": rounded(99), "max": rounded(100)}


def mixed_plan(n: int, seed: int, base: Sequence[str]) -> load.Plan:
    return load.Plan(n, load.DEFAULT_MIX, seed, base)


def hit_miss_plan(n_each: int, seed: int, seed_claims: Sequence[str]) -> list[load.PlannedRequest]:
    """Interleaved: a seed claim with chat noise (expected hit), then a never-seen claim (expected miss)."""
    plan = []
    for i in range(n_each):
        plan.append(load.make_request(2 * i, "paraphrase", "", seed, seed_claims))
        plan.append(load.make_request(2 * i + 1, "new", "", seed, seed_claims))
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


# --- the benchmark ---


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


def settle(server: Server, client: httpx.Client) -> dict[str, Any]:
    """An idle reading of the server's memory, from /proc and from its own /health."""
    time.sleep(SETTLE_S)
    memory = server.memory()
    health = server.health(client)
    return memory | {
        "server_peak_rss_mb": health.get("peak_rss_mb"),
        "server_rss_mb": health.get("memory_mb"),
        "server_rss_anon_mb": health.get("rss_anon_mb"),
    }


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
    with (
        running_server(
            "factmem",
            SERVER_SCRIPT,
            factmem_env(ctx.work_dir / "data-10k"),
            ctx.out_dir / "server-10k.log",
            timeout_s=min(300.0, ctx.remaining_s()),
        ) as server,
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=load.HEALTH_TIMEOUT_S) as client,
    ):
        at_ready = server.memory()
        ready_health = server.health(client)
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
        steady = settle(server, client)
        warm_stats = run_stats(warm)
        warm_peaks = sampler.peaks(warm_started, warm_ended)
        warm_sampled = _max_known(warm_peaks["rss_mb"], *(x.rss_mb for x in warm.samples))
        ctx.report["steady"] = {
            "after_requests": warm_stats["requests"],
            **steady,
            "peak_during": warm_peaks
            | {"peak_rss_mb": load_peak(warm_sampled, at_ready["hwm_mb"], steady["hwm_mb"])},
            "run": warm_stats,
        }
        _check_run(ctx, "steady", warm)

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
        end = settle(server, client)
        ctx.report["load"] = load_section(
            runs, sampler, warm_started, main_started, main_ended, hwm_before, steady, end
        )
        _check_run(ctx, "load", runs[-1])

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
            _check_run(ctx, f"throughput c={level}", run)
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
    trend = load.memory_trend(runs[-1].samples)
    sampled_peak = _max_known(whole["rss_mb"], *(s.rss_mb for s in health_samples))
    return {
        "requests": sum(len(run.results) for run in runs),
        "concurrency": runs[-1].concurrency,
        "peak_rss_mb": load_peak(sampled_peak, hwm_before, end.get("hwm_mb")),
        "peak_rss_sampled_mb": sampled_peak,
        "peak_rss_anon_mb": _max_known(whole["rss_anon_mb"], *(s.rss_anon_mb for s in health_samples)),
        "server_peak_rss_mb": end.get("server_peak_rss_mb"),
        "process_hwm_mb": end.get("hwm_mb"),
        "hwm_before_mb": hwm_before,
        "anon_after_warm_mb": steady.get("rss_anon_mb"),
        "anon_end_mb": end.get("rss_anon_mb"),
        # only measured when requests followed the warm-up ones
        "anon_growth_mb": _diff(end.get("rss_anon_mb"), steady.get("rss_anon_mb")) if len(runs) > 1 else None,
        "rss_after_warm_mb": steady.get("rss_mb"),
        "rss_end_mb": end.get("rss_mb"),
        "second_half_slope_mb_per_1k": trend.slope_mb_per_1k,
        "health_latency_ms": _pcts([s.latency_ms for s in health_samples if s.answered]),
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
    return None if a is None or b is None else round(a - b, 1)


def _check_run(ctx: Context, name: str, run: Any) -> None:
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
        running_server(
            "factmem-100k",
            SERVER_SCRIPT,
            factmem_env(data_dir),
            ctx.out_dir / "server-100k.log",
            timeout_s=min(300.0, ctx.remaining_s()),
        ) as server,
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=load.HEALTH_TIMEOUT_S) as client,
    ):
        section |= {
            "to_health_s": server.health_s,
            "to_ready_s": server.ready_s,
            "at_ready": server.memory(),
            "index_build": {
                "by": "the server before ready, in a child process",
                "seconds": _built_seconds(server.log_path),
                "peak_rss_mb_server_and_child": server.startup_peaks.get("rss_mb"),
                "peak_rss_anon_mb_server_and_child": server.startup_peaks.get("rss_anon_mb"),
                "poll_latency_ms": _pcts(server.startup_poll_ms),
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
        _check_run(ctx, "100k", run)
        section["latency_c1"] = latency_c1(
            server.url, c.big_latency_requests, ctx.seed + 4, ctx.seed_claims, ctx.deadline
        )


def obvious_model_dir(target: Path) -> Path:
    """The same model files factmem ships, laid out for FastEmbed, with the 512-token limit FastEmbed's
    published all-MiniLM-L6-v2 uses (factmem truncates at 256)."""
    from factmem.embeddings import assemble_model_dir

    model_dir = assemble_model_dir(target)
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.unlink()
    config_path.write_text(json.dumps(config | {"model_max_length": 512}), encoding="utf-8")
    return model_dir


def phase_obvious(ctx: Context) -> None:
    """Phase 7: the obvious stack with the same claims, driven with phase 2's requests."""
    c = ctx.counts
    model_dir = obvious_model_dir(ctx.work_dir / "obvious-model")
    use_eval = ctx.claims_file is not None and ctx.claims_file.is_file()
    if use_eval and ctx.claims_file:
        files, limit = [ctx.claims_file, SEED_CLAIMS], c.obvious_claims
    else:
        synthetic = ctx.work_dir / "obvious-claims.jsonl"
        with synthetic.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in synthetic_claims(c.obvious_claims, ctx.seed))
        files, limit = [synthetic, SEED_CLAIMS], c.obvious_claims
    env = {
        "OBVIOUS_MODEL_DIR": str(model_dir),
        "OBVIOUS_CLAIM_FILES": os.pathsep.join(map(str, files)),
        "OBVIOUS_CLAIM_LIMIT": str(limit),
    }
    section: dict[str, Any] = {
        "stack": "FastAPI + FastEmbed defaults (batch 256, arena on, default threads, 512 tokens) + "
        "qdrant-client :memory:, one uvicorn worker, no cleanup, no locks",
        "claims": limit,
    }
    ctx.report["obvious_stack"] = section
    with (
        running_server(
            "obvious",
            OBVIOUS_SCRIPT,
            env,
            ctx.out_dir / "server-obvious.log",
            timeout_s=min(900.0, ctx.remaining_s()),
        ) as server,
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=load.HEALTH_TIMEOUT_S) as client,
    ):
        idle = settle(server, client)
        health = server.health(client)
        section |= {
            "to_ready_s": server.ready_s,
            "claims_loaded": health.get("claims_loaded"),
            "max_tokens": health.get("max_tokens"),
            "idle_after_loading": idle,
        }
        started = time.monotonic()
        plan = mixed_plan(c.obvious_requests, ctx.seed, ctx.base)  # the very requests factmem got in phase 2
        run = drive(server.url, plan, c.concurrency, c.health_every, ctx.deadline)
        ended = time.monotonic()
        after = settle(server, client)
        stats = run_stats(run)
        sampled = _max_known(sampler.peaks(started, ended)["rss_mb"], *(s.rss_mb for s in run.samples))
        section |= {
            "requests": stats["requests"],
            "peak_rss_mb": load_peak(sampled, idle.get("hwm_mb"), after.get("hwm_mb")),
            "peak_rss_anon_mb": _max_known(
                sampler.peaks(started, ended)["rss_anon_mb"], *(s.rss_anon_mb for s in run.samples)
            ),
            "process_hwm_mb": after.get("hwm_mb"),
            "steady_after_load": after,
            "throughput_rps": stats["throughput_rps"],
            "latency_ms": stats["latency_ms"]["ok"],
            "outcomes": stats["outcomes"],
            "errors": stats["outcomes"]["error"] + stats["outcomes"]["unexpected"],
            "error_examples": stats["error_examples"],
            "stopped_early": stats["stopped_early"],
        }
        _check_run(ctx, "obvious", run)


def factmem_side(report: dict[str, Any]) -> dict[str, Any]:
    """factmem's numbers for the same 1,000 requests the obvious stack gets."""
    steady = report.get("steady") or {}
    run = steady.get("run") or {}
    return {
        "requests": run.get("requests"),
        "peak_rss_mb": _get(steady, "peak_during", "peak_rss_mb"),
        "steady_rss_mb": steady.get("rss_mb"),
        "throughput_rps": run.get("throughput_rps"),
        "p50_ms": _get(run, "latency_ms", "ok", "p50"),
        "p95_ms": _get(run, "latency_ms", "ok", "p95"),
        "errors": (_get(run, "outcomes", "error") or 0) + (_get(run, "outcomes", "unexpected") or 0),
    }


def obvious_side(section: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": section.get("requests"),
        "peak_rss_mb": section.get("peak_rss_mb"),
        "steady_rss_mb": _get(section, "steady_after_load", "rss_mb"),
        "throughput_rps": section.get("throughput_rps"),
        "p50_ms": _get(section, "latency_ms", "p50"),
        "p95_ms": _get(section, "latency_ms", "p95"),
        "errors": section.get("errors"),
    }


# --- report ---


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{(' ' + unit) if unit else ''}"
    return f"{value:,}{(' ' + unit) if unit else ''}" if isinstance(value, int) else f"{value}{unit}"


def _mb(value: Any) -> str:
    return _fmt(value, "MB")


def _trio(stats: dict[str, Any]) -> str:
    p50, p95, p99 = (_fmt(stats.get(k)) for k in ("p50", "p95", "p99"))
    return f"{p50}/{p95}/{p99} ms (n={stats.get('count')})"


def _render_10k(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if data := r.get("data"):
        lines.append(
            f"  memory         {data['points']:,} points ({data['claims_inserted']:,} claims + "
            f"{data['seed_inserted']} seed); ingest {data['ingest_s']} s, "
            f"{data['ingest_claims_per_s']} claims/s"
        )
    if s := r.get("startup"):
        ready = s["at_ready"]
        lines.append(
            f"  startup        /health {_fmt(s['to_health_s'], 's', 2)}, "
            f"/ready {_fmt(s['to_ready_s'], 's', 2)}; at ready RSS {_mb(ready['rss_mb'])}, "
            f"anon {_mb(ready['rss_anon_mb'])}"
        )
    if s := r.get("steady"):
        lines.append(
            f"  steady         after {s['after_requests']:,} requests: RSS {_mb(s['rss_mb'])}, anon "
            f"{_mb(s['rss_anon_mb'])} (peak during them {_mb(s['peak_during']['rss_mb'])})"
        )
    if s := r.get("load"):
        health = s["health_latency_ms"]
        lines += [
            f"  load           {s['requests']:,} requests: peak RSS {_mb(s['peak_rss_mb'])} (sampled "
            f"{_mb(s['peak_rss_sampled_mb'])}), peak anon {_mb(s['peak_rss_anon_mb'])}; server peak_rss_mb "
            f"{_mb(s['server_peak_rss_mb'])} (high-water mark, includes startup)",
            f"                 anon {_mb(s['anon_after_warm_mb'])} → {_mb(s['anon_end_mb'])} (growth "
            f"{_mb(s['anon_growth_mb'])}); /health p50 {_fmt(health['p50'], 'ms', 2)}, p99 "
            f"{_fmt(health['p99'], 'ms', 2)} ({health['samples']} samples)",
            f"                 after the first {r['steady']['after_requests']:,}: "
            f"{_fmt(s['throughput_rps'], 'req/s')}, /verify p50/p95/p99 "
            f"{_trio(s['latency_ms']['ok'])}; outcomes {s['outcomes']}",
        ]
    if s := r.get("latency_c1"):
        lines += [
            f"  latency c=1    cache hit  p50/p95/p99 {_trio(s['cache_hit'])}",
            f"                 cache miss p50/p95/p99 {_trio(s['cache_miss'])}; noisy seed claims hit "
            f"{_fmt(s['noisy_seed_claims_hit_rate'], digits=3)}",
        ]
    if s := r.get("throughput"):
        rates = ", ".join(f"c={k[1:]} {_fmt(v['throughput_rps'], 'req/s')}" for k, v in s.items())
        lines.append(f"  throughput     {rates}")
    return lines


def _render_100k(s: dict[str, Any]) -> list[str]:
    index = s.get("index_build") or {}
    polls = index.get("poll_latency_ms") or {}
    tree_rss, tree_anon = (
        index.get("peak_rss_mb_server_and_child"),
        index.get("peak_rss_anon_mb_server_and_child"),
    )
    return [
        f"  100k claims    {s['points']:,} points ({s['synthetic_points']:,} synthetic); ready in "
        f"{_fmt(s.get('to_ready_s'), 's', 2)}, index built by the server in a child process in "
        f"{_fmt(index.get('seconds'), 's')}",
        f"                 meanwhile: server + child peak RSS {_mb(tree_rss)}, anon {_mb(tree_anon)}; "
        f"{polls.get('samples')} "
        f"/health+/ready polls, p99 {_fmt(polls.get('p99'), 'ms')}, max {_fmt(polls.get('max'), 'ms')}",
        f"                 at ready RSS {_mb(_get(s, 'at_ready', 'rss_mb'))}, anon "
        f"{_mb(_get(s, 'at_ready', 'rss_anon_mb'))}; after {_get(s, 'run', 'requests')} requests RSS "
        f"{_mb(_get(s, 'steady', 'rss_mb'))}, anon {_mb(_get(s, 'steady', 'rss_anon_mb'))}",
        f"                 peak during them {_mb(_get(s, 'peak_during', 'rss_mb'))}; cache hit p50 at c=1 "
        f"{_fmt(_get(s, 'latency_c1', 'cache_hit', 'p50'), 'ms')}",
        f"                 ({SYNTHETIC_NOTE})",
    ]


def _render_obvious(s: dict[str, Any], comparison: dict[str, Any], concurrency: int) -> list[str]:
    ours, theirs, ratios = comparison["factmem"], comparison["obvious"], comparison["ratios"]
    lines = [
        f"  obvious stack  {s['claims_loaded']} claims, ready in {_fmt(s['to_ready_s'], 's')}, "
        f"{s['max_tokens']} tokens; idle after loading RSS {_mb(_get(s, 'idle_after_loading', 'rss_mb'))}",
        f"                 {'factmem':>31}{'obvious':>12}{'ratio':>8}",
    ]
    if ours.get("requests") != theirs.get("requests"):
        lines.append(f"{'':<19}(not the same requests: {ours.get('requests')} vs {theirs.get('requests')})")
    for name, key, ratio_key in (
        (f"requests at c={concurrency}", "requests", None),
        ("peak RSS MB", "peak_rss_mb", "peak_rss"),
        ("steady RSS MB", "steady_rss_mb", "steady_rss"),
        ("req/s", "throughput_rps", "throughput"),
        ("p50 ms", "p50_ms", "p50"),
        ("p95 ms", "p95_ms", None),
        ("errors", "errors", None),
    ):
        shown = _fmt(ratios.get(ratio_key), digits=2) if ratio_key else ""
        lines.append(f"{'':<19}{name:<25}{_fmt(ours.get(key)):>12}{_fmt(theirs.get(key)):>12}{shown:>8}")
    return lines


def render(report: dict[str, Any]) -> str:
    """The human-readable summary printed at the end."""
    meta, counts = report["meta"], report["counts"]
    tree = "clean tree" if not meta.get("git_status") else "uncommitted changes"
    lines = [
        "",
        f"factmem benchmark: commit {meta.get('git_commit')} ({tree}), {meta['cpus']} CPUs, "
        f"{counts['claims']:,} claims, {counts['requests']:,} requests at c={counts['concurrency']}"
        + (" [quick]" if report["args"]["quick"] else ""),
        *_render_10k(report),
    ]
    if (big := report.get("claims_100k")) and "run" in big:
        lines += _render_100k(big)
    if (obvious := report.get("obvious_stack")) and "comparison" in report:
        lines += _render_obvious(obvious, report["comparison"], counts["concurrency"])
    lines += ["", f"{'target':<48}{'goal':>14}{'measured':>14}  status"]
    for row in report["targets"]:
        goal = f"{'≤' if row['op'] == '<=' else '≥'} {row['limit']:g} {row['unit']}"
        lines.append(f"{row['label']:<48}{goal:>14}{_fmt(row['measured'], row['unit']):>14}  {row['status']}")
    if report["args"]["quick"] or counts["claims"] != FULL.claims or counts["requests"] != FULL.requests:
        lines.append("(counts differ from the conditions of the targets: see 'counts' in the JSON)")
    lines += [f"FAILED: {problem}" for problem in report["failures"]]
    return "\n".join(lines)


def git_info() -> dict[str, Any]:
    """The commit and working-tree state that was measured (read-only git commands)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--short")
    return {
        "git_commit": git("log", "-1", "--format=%h"),
        "git_status": status.splitlines() if status else [],
    }


def _package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    names = ("fastapi", "uvicorn", "fastembed", "onnxruntime", "qdrant-edge-py", "qdrant-client", "numpy")
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM takes the same clean-up path as Ctrl-C


def run_benchmark(args: argparse.Namespace) -> int:
    counts = resolve_counts(args)
    started_at = datetime.now(UTC)
    deadline = time.monotonic() + args.max_minutes * 60
    out: Path = args.out or Path("reports") / f"benchmark-{datetime.now():%Y%m%d-%H%M%S}" / "benchmark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    seed_claims = load.load_base_claims(SEED_CLAIMS)
    base = random.Random(args.seed).sample(seed_claims, k=min(load.BASE_POOL_SIZE, len(seed_claims)))
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
        "packages": _package_versions(),
        "memory_limit_mb_setting": MEMORY_LIMIT_MB,
        "container_limit": "none enforced on this machine: MEMORY_LIMIT_MB drives the server's own guard",
    }
    report["args"] = {
        "quick": args.quick,
        "skip_100k": args.skip_100k,
        "skip_obvious": args.skip_obvious,
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
    if args.build_step is not None:
        return run_build_step(args.build_step)
    if args.max_minutes <= 0 or not math.isfinite(args.max_minutes):
        print("error: --max-minutes must be a positive number", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())

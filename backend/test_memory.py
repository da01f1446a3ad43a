"""Load-test a factmem server and show, with numbers, whether its memory stays flat under load.

Run it against a server on your own machine::

    .venv/bin/python backend/test_memory.py                       # http://127.0.0.1:8000, 1,000 requests
    .venv/bin/python backend/test_memory.py --start-server --server-memory-limit-mb 512 -n 2000

It sends a seeded, reproducible mix of claims (repeats, paraphrases, never-seen claims, long claims and
invalid inputs) to ``POST /verify`` from a few threads, samples ``GET /health`` every K completed requests,
and writes ``requests.csv``, ``health.csv``, ``summary.json`` and ``memory.png`` to ``--out``. The verdict
is PASS when peak RSS stays under the limit, memory does not grow faster than ``--max-growth-mb-per-1k``
over the second half of the run, and every answer is one the HTTP contract allows. Exit codes: 0 PASS,
1 FAIL, 2 usage error or server not reachable, 130 aborted by a second Ctrl-C.

Safety: only loopback targets unless ``--allow-remote``; every run stops by itself after ``--requests``
requests or ``--max-seconds`` seconds, whichever comes first. It is a command, not a pytest module: nothing
in it is named ``test_*``, and its pure helpers are unit-tested from ``tests/test_load_tool.py``.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Queue
from typing import Any
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

from factmem.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = REPO_ROOT / "backend" / "api_server.py"
SEED_CLAIMS = REPO_ROOT / "backend" / "src" / "data" / "seed_claims.jsonl"

KINDS = ("repeat", "paraphrase", "new", "long", "bad")
DEFAULT_MIX = {"repeat": 0.4, "paraphrase": 0.25, "new": 0.25, "long": 0.05, "bad": 0.05}
VERDICTS = frozenset({"True", "False", "Uncertain"})

MAX_CLAIM_CHARS = 2_000  # the server's limit; "long" claims stay just under it
LONG_CLAIM_CHARS = 1_990
BASE_POOL_SIZE = 20  # small, so repeats really repeat and the cache gets a chance to answer
REQUEST_TIMEOUT_S = 30.0
HEALTH_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
DEFAULT_LIMIT_MB = 512.0
# A least-squares slope over a few dozen requests is mostly allocator noise (1 MB over 30 requests reads as
# 33 MB per 1,000), so growth is only judged when the second half spans at least this many requests.
MIN_SLOPE_SPAN = 250
MIN_SLOPE_SAMPLES = 3

# Variables the started server must not inherit: a developer's QDRANT_URL would send synthetic claims to a
# real shared store, and a stray PORT or DATA_DIR would point the server somewhere else.
_SERVER_ENV = frozenset(name.upper() for name in Settings.model_fields)  # all of the service's settings

BUILTIN_CLAIMS = (
    "The Earth orbits the Sun.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The Great Wall of China is visible from space with the naked eye.",
    "Mount Everest is the highest mountain on Earth above sea level.",
    "The Eiffel Tower is in Berlin.",
    "Humans only use 10 percent of their brains.",
    "Light travels at about 300,000 kilometres per second.",
    "Paris is the capital of France.",
    "Vaccines cause autism.",
    "The Pacific is the largest ocean on Earth.",
    "Bats are blind.",
    "Lightning never strikes the same place twice.",
    "An adult human skeleton has 206 bones.",
    "Goldfish have a three-second memory.",
    "The Amazon is the largest tropical rainforest in the world.",
    "Albert Einstein developed the theory of relativity.",
    "The Moon is made of cheese.",
    "Antibiotics kill viruses.",
    "DNA has a double helix structure.",
    "Tokyo is the capital of Japan.",
)

_NEW_TEMPLATES = (
    "The city of {place} has {n} bridges.",
    "The {place} River is {n} kilometres long.",
    "{person} won the {place} Prize for chemistry in {year}.",
    "{company} reported revenue of {n} million dollars in {year}.",
    "The {place} Tower was completed in {year} and is {m} metres tall.",
    "Lake {place} is home to {n} species of fish.",
    "{person} was elected the first mayor of {place} in {year}.",
    "The island of {place} has a population of {n} people.",
)
_CHAT_PREFIXES = (
    "did u know ",
    "they say that ",
    "apparently ",
    "my uncle told me ",
    "is it true that ",
    "omg ",
)
_EMOJIS = ("😮", "🤔", "🔥", "👀", "✅", "‼️", "😂")
_CONSONANTS = "bcdfghjklmnprstvwxz"
_VOWELS = "aeiou"

# Invalid inputs the contract says must be refused with a 4xx, by name.
BAD_CASES: dict[str, bytes] = {
    "empty": json.dumps({"raw_text": ""}).encode(),
    "whitespace": json.dumps({"raw_text": "   \n\t  "}).encode(),
    "no-letters": json.dumps({"raw_text": "!!!"}).encode(),
    "too-long": json.dumps({"raw_text": ("The sky is green. " * 140)[:2_500]}).encode(),
    "not-json": b"raw_text=The sky is green",
    "wrong-type": json.dumps({"raw_text": 5}).encode(),
}


class UsageError(Exception):
    """A problem the user can fix (bad option, unreachable server): reported plainly, exit code 2."""


# --- target safety ---


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z). No DNS lookup: names other than
    ``localhost`` are never trusted to be local."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def check_target(url: str, allow_remote: bool = False) -> str:
    """Return the base URL without a trailing slash, or raise ``UsageError`` for a non-loopback target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url must look like http://127.0.0.1:8000, got {url!r}")
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing to load-test {parts.hostname!r}: only loopback targets (127.0.0.0/8, localhost, ::1) "
            "unless you pass --allow-remote for a server you own"
        )
    return url.rstrip("/")


# --- the request mix ---


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the run, fixed before the run starts so a seed reproduces the same mix."""

    index: int
    kind: str
    variant: str
    body: bytes


def parse_mix(text: str) -> dict[str, float]:
    """``"repeat=0.4,new=0.6"`` → weights normalised to sum 1; kinds left out get weight 0."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError(f"bad mix entry {item!r}: use kind=weight with kind in {', '.join(KINDS)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"bad weight in {item!r}: not a number") from None
        if weight < 0 or not math.isfinite(weight):
            raise ValueError(f"bad weight in {item!r}: must be a finite number >= 0")
        weights[name] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("the mix needs at least one kind with a positive weight")
    return {kind: weights.get(kind, 0.0) / total for kind in KINDS}


def apportion(n: int, mix: dict[str, float]) -> dict[str, int]:
    """Exact counts per kind summing to ``n`` (largest remainder), so the proportions are what was asked."""
    exact = {kind: n * mix.get(kind, 0.0) for kind in KINDS}
    counts = {kind: math.floor(value) for kind, value in exact.items()}
    by_remainder = sorted(KINDS, key=lambda kind: (-(exact[kind] - counts[kind]), KINDS.index(kind)))
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    return counts


def load_base_claims(path: Path = SEED_CLAIMS) -> list[str]:
    """Claims from the seed file (JSONL rows with a ``claim`` field), else the built-in list."""
    claims: list[str] = []
    try:
        with path.open(encoding="utf-8") as rows:
            for line in rows:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                claim = row.get("claim") if isinstance(row, dict) else None
                if isinstance(claim, str) and claim.strip() and len(claim) < 300:
                    claims.append(claim.strip())
    except OSError:
        pass
    return claims or list(BUILTIN_CLAIMS)


def _made_up_name(rng: random.Random) -> str:
    syllables = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
    return (syllables + rng.choice(_CONSONANTS)).capitalize()


def new_claim(rng: random.Random) -> str:
    """A claim about made-up entities, so every one is new to the server and its memory must grow."""
    return rng.choice(_NEW_TEMPLATES).format(
        place=_made_up_name(rng),
        person=f"{_made_up_name(rng)} {_made_up_name(rng)}",
        company=f"{_made_up_name(rng)} Corp",
        n=rng.randint(2, 99_999),
        m=rng.randint(20, 900),
        year=rng.randint(1700, 2024),
    )


def paraphrase(claim: str, rng: random.Random) -> str:
    """The claim with chat-style noise that a normaliser should see through (same meaning, new bytes)."""
    chosen = set(rng.sample(("prefix", "casing", "punctuation", "emoji", "whitespace"), rng.randint(1, 3)))
    text = claim
    if "prefix" in chosen:
        text = rng.choice(_CHAT_PREFIXES) + text[:1].lower() + text[1:]
    if "casing" in chosen:
        style = rng.choice(("lower", "upper", "random"))
        if style == "random":
            text = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
        else:
            text = text.lower() if style == "lower" else text.upper()
    if "punctuation" in chosen:
        text = text.rstrip(".!?") + rng.choice(("!!!", "???", "?!", "!!"))
    if "emoji" in chosen:
        emoji = rng.choice(_EMOJIS)
        text = f"{emoji} {text}" if rng.random() < 0.5 else f"{text} {emoji}"
    if "whitespace" in chosen:
        words = text.split(" ")
        text = "  ".join(words) if rng.random() < 0.5 else f"  {text}\n"
    return text


def long_claim(base: Sequence[str], rng: random.Random, limit: int = LONG_CLAIM_CHARS) -> str:
    """Sentences joined until the text is just under ``limit`` characters (the server allows 2,000)."""
    text = ""
    misses = 0
    while misses < 30:
        sentence = rng.choice(base) if rng.random() < 0.5 else new_claim(rng)
        candidate = f"{text} {sentence}" if text else sentence
        if len(candidate) <= limit:
            text, misses = candidate, 0
        else:
            misses += 1
    return text


def _json_body(text: str) -> bytes:
    return json.dumps({"raw_text": text}, ensure_ascii=False).encode()


def make_request(index: int, kind: str, variant: str, seed: int, base: Sequence[str]) -> PlannedRequest:
    """The request at ``index``, from an RNG seeded by (seed, index): the same seed gives the same bodies
    whatever order the threads send them in."""
    rng = random.Random(f"{seed}:{index}")
    if kind == "bad":
        body = BAD_CASES[variant]
    elif kind == "repeat":
        body = _json_body(rng.choice(base))
    elif kind == "paraphrase":
        body = _json_body(paraphrase(rng.choice(base), rng))
    elif kind == "new":
        body = _json_body(new_claim(rng))
    else:
        body = _json_body(long_claim(base, rng))
    return PlannedRequest(index, kind, variant, body)


class Plan(Sequence[PlannedRequest]):
    """The run's requests. Kinds are counted and shuffled up front; bodies are built when sent, so a
    100,000-request run starts at once instead of spending its time budget generating text."""

    def __init__(self, n: int, mix: dict[str, float], seed: int, base: Sequence[str]) -> None:
        rng = random.Random(seed)
        kinds = [kind for kind, count in apportion(n, mix).items() for _ in range(count)]
        rng.shuffle(kinds)
        bad_names = list(BAD_CASES)
        bad_seen = 0
        self.slots: list[tuple[str, str]] = []
        for kind in kinds:
            variant = ""
            if kind == "bad":
                variant = bad_names[bad_seen % len(bad_names)]  # round-robin: every bad case gets sent
                bad_seen += 1
            self.slots.append((kind, variant))
        self.seed = seed
        self.base = list(base)

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, index: int) -> PlannedRequest:  # type: ignore[override]
        kind, variant = self.slots[index]
        return make_request(index % len(self.slots), kind, variant, self.seed, self.base)


def input_problem(body: bytes, max_chars: int = MAX_CLAIM_CHARS) -> str | None:
    """Why the contract says the server must refuse this body, or ``None`` if it is a valid claim."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("raw_text"), str):
        return "raw_text is not a string"
    text: str = payload["raw_text"]
    if not text.strip():
        return "empty or whitespace only"
    if not any(c.isalpha() for c in text):
        return "no letters"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    return None


# --- judging one answer ---


def response_problem(payload: Any) -> str | None:
    """Why a 200 answer breaks the contract, or ``None``."""
    if not isinstance(payload, dict):
        return "200 body is not a JSON object"
    result = payload.get("verification_result")
    if not isinstance(payload.get("cache_hit"), bool):
        return "200 without a boolean cache_hit"
    if not isinstance(payload.get("request_id"), str):
        return "200 without a request_id"
    if not isinstance(result, dict) or result.get("verdict") not in VERDICTS:
        return "200 without a valid verification_result.verdict"
    return None


def classify(
    kind: str, status: int | None, *, retry_after: bool = True, body_problem: str | None = None
) -> tuple[str, str]:
    """Outcome of one request: ``ok``, ``expected_4xx``, ``shed``, ``error`` or ``unexpected``, and why.

    A bad input must be refused with a 4xx; a good one must be answered with a valid 200, or shed with a
    503 that says when to retry. A 5xx other than 503 or no answer at all is an error whatever was sent.
    """
    if status is None:
        return "error", "no HTTP answer (transport error)"
    if status >= 500 and status != 503:
        return "error", f"HTTP {status}"
    if kind == "bad":
        if 400 <= status < 500:
            return "expected_4xx", ""
        return "unexpected", f"invalid input answered with HTTP {status}"
    if status == 503:
        return ("shed", "") if retry_after else ("unexpected", "503 without Retry-After")
    if status == 200:
        return ("unexpected", body_problem) if body_problem else ("ok", "")
    return "unexpected", f"valid claim answered with HTTP {status}"


# --- statistics ---


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks, like numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys on xs; ``None`` with fewer than two distinct xs."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def latency_stats(values: Sequence[float]) -> dict[str, float | int | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "count": len(values),
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values) if values else None),
    }


def rolling_percentiles(values: Sequence[float], window: int, qs: Sequence[float]) -> list[list[float]]:
    """For each position, the percentiles of the last ``window`` values (fewer at the start)."""
    return [
        [percentile(values[max(0, i + 1 - window) : i + 1], q) or 0.0 for q in qs] for i in range(len(values))
    ]


@dataclass(frozen=True)
class HealthSample:
    """One ``GET /health`` reading; memory fields are ``None`` when the server did not answer or say."""

    request_index: int  # completed /verify requests when the sample was taken
    elapsed_s: float
    rss_mb: float | None
    rss_anon_mb: float | None
    peak_rss_mb: float | None
    status: str  # "healthy" | "degraded" | "http-<code>" | "unreachable"
    latency_ms: float

    @property
    def answered(self) -> bool:
        return self.rss_mb is not None


@dataclass(frozen=True)
class MemoryTrend:
    """Memory over the run, with growth measured on the second half: the first half holds the warm-up
    (model arenas, caches filling), which is expected and bounded; a leak shows as a slope after it."""

    rss_start: float | None = None
    rss_end: float | None = None
    rss_peak: float | None = None
    anon_start: float | None = None
    anon_end: float | None = None
    anon_peak: float | None = None
    server_peak_rss: float | None = None
    series: str | None = None  # "rss_anon_mb" or "rss_mb": what growth and slope are measured on
    growth_mb: float | None = None
    slope_mb_per_1k: float | None = None
    second_half_samples: int = 0
    second_half_span: int = 0
    fit_start: tuple[float, float] | None = None  # (request index, MB) ends of the fitted line, for the plot
    fit_end: tuple[float, float] | None = None

    @property
    def peak(self) -> float | None:
        """The highest RSS known: sampled, or the server's own high-water mark (catches spikes between
        samples, and startup)."""
        known = [v for v in (self.rss_peak, self.server_peak_rss) if v is not None]
        return max(known) if known else None

    @property
    def slope_judged(self) -> bool:
        return (
            self.slope_mb_per_1k is not None
            and self.second_half_samples >= MIN_SLOPE_SAMPLES
            and self.second_half_span >= MIN_SLOPE_SPAN
        )


def _first_last_max(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return round(values[0], 1), round(values[-1], 1), round(max(values), 1)


def memory_trend(samples: Sequence[HealthSample]) -> MemoryTrend:
    """Start, end and peak of RSS and anonymous RSS, and growth and slope over the second half."""
    answered = sorted((s for s in samples if s.answered), key=lambda s: (s.request_index, s.elapsed_s))
    if not answered:
        return MemoryTrend()
    rss = [s.rss_mb for s in answered if s.rss_mb is not None]
    anon = [s.rss_anon_mb for s in answered if s.rss_anon_mb is not None]
    peaks = [s.peak_rss_mb for s in answered if s.peak_rss_mb is not None]
    half = [s for s in answered if s.request_index >= answered[-1].request_index / 2]
    use_anon = all(s.rss_anon_mb is not None for s in half)
    xs = [float(s.request_index) for s in half]
    ys = [float((s.rss_anon_mb if use_anon else s.rss_mb) or 0.0) for s in half]
    per_request = slope(xs, ys)
    fit_start = fit_end = None
    if per_request is not None:
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        fit_start = (xs[0], mean_y + per_request * (xs[0] - mean_x))
        fit_end = (xs[-1], mean_y + per_request * (xs[-1] - mean_x))
    rss_start, rss_end, rss_peak = _first_last_max(rss)
    anon_start, anon_end, anon_peak = _first_last_max(anon)
    return MemoryTrend(
        rss_start=rss_start,
        rss_end=rss_end,
        rss_peak=rss_peak,
        anon_start=anon_start,
        anon_end=anon_end,
        anon_peak=anon_peak,
        server_peak_rss=max(peaks) if peaks else None,
        series="rss_anon_mb" if use_anon else "rss_mb",
        growth_mb=round(ys[-1] - ys[0], 2),
        slope_mb_per_1k=None if per_request is None else round(per_request * 1000, 3),
        second_half_samples=len(half),
        second_half_span=int(xs[-1] - xs[0]),
        fit_start=fit_start,
        fit_end=fit_end,
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]  # why it failed; empty on PASS
    warnings: list[str]  # worth reading, not failing


def judge(
    trend: MemoryTrend,
    *,
    limit_mb: float,
    max_growth_mb_per_1k: float,
    outcomes: dict[str, int] | None = None,
    health_failures: int = 0,
    degraded: int = 0,
    stopped_early: str | None = None,
) -> Verdict:
    """PASS only if memory stayed under the limit and flat, and every answer was one the contract allows."""
    outcomes = outcomes or {}
    reasons: list[str] = []
    warnings: list[str] = []
    if trend.peak is None:
        reasons.append("no /health sample answered: memory was not measured")
    elif trend.peak > limit_mb:
        reasons.append(f"peak RSS {trend.peak:.1f} MB is above the limit of {limit_mb:.0f} MB")
    if trend.slope_judged and (trend.slope_mb_per_1k or 0.0) > max_growth_mb_per_1k:
        series = "anonymous RSS" if trend.series == "rss_anon_mb" else "RSS"
        reasons.append(
            f"{series} grows {trend.slope_mb_per_1k:.2f} MB per 1,000 "
            f"requests over the second half (threshold {max_growth_mb_per_1k:g})"
        )
    elif trend.peak is not None and not trend.slope_judged:
        warnings.append(
            f"growth not judged: the second half spans {trend.second_half_span} requests in "
            f"{trend.second_half_samples} samples (needs >= {MIN_SLOPE_SPAN} requests and "
            f">= {MIN_SLOPE_SAMPLES} samples; raise -n or lower --health-every)"
        )
    if outcomes.get("error"):
        reasons.append(f"{outcomes['error']} errors (5xx other than 503, or no answer)")
    if outcomes.get("unexpected"):
        reasons.append(f"{outcomes['unexpected']} answers the contract does not allow")
    if health_failures:
        reasons.append(f"{health_failures} /health checks failed")
    good = sum(outcomes.get(k, 0) for k in ("ok", "shed", "error", "unexpected"))
    if good and not outcomes.get("ok"):
        reasons.append("no claim was verified: every valid request was shed or failed")
    if stopped_early:
        reasons.append(stopped_early)
    if outcomes.get("shed"):
        warnings.append(f"{outcomes['shed']} requests shed with 503 (overload or memory pressure)")
    if degraded:
        warnings.append(f"/health said 'degraded' in {degraded} samples")
    return Verdict(not reasons, reasons, warnings)


# --- the server, when the tool starts it ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def managed_server(
    log_path: Path,
    *,
    data_dir: Path | None,
    memory_limit_mb: float | None,
    deadline: float,
    script: Path = SERVER_SCRIPT,
) -> Iterator[str]:
    """Start the server on a free loopback port, wait for ``/ready``, yield its URL; stop it on every exit.

    It runs in its own session so the user's Ctrl-C reaches only this tool, which then stops the server
    in order (SIGTERM, SIGKILL after 10 s) and removes the temporary data directory.
    """
    temp_dir = None if data_dir else Path(tempfile.mkdtemp(prefix="factmem-load-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV}
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(data_dir or temp_dir),
        "SEED_ON_EMPTY": "true",
        "LOG_LEVEL": "info",
    }
    if memory_limit_mb is not None:
        env["MEMORY_LIMIT_MB"] = f"{memory_limit_mb:g}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        _wait_ready(process, url, log_path, min(READY_TIMEOUT_S, deadline - time.monotonic()))
        yield url
    finally:
        if process is not None:
            _stop(process)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float) -> None:
    print(f"starting the server on {url} (log: {log_path}) ...", file=sys.stderr)
    deadline = time.monotonic() + max(timeout_s, 0.0)
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise UsageError(f"the server exited with code {process.returncode}:\n{tail(log_path)}")
            try:
                if http.get(f"{url}/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise UsageError(f"the server was not ready after {timeout_s:.0f} s:\n{tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the run ---


@dataclass
class RequestResult:
    """One row of ``requests.csv``; ``started_at`` is seconds since the run started."""

    index: int
    kind: str
    variant: str
    status: int | None
    latency_ms: float
    cache_hit: bool | None
    verdict: str | None
    started_at: float
    completed: int  # order of completion, 1-based: the x axis shared with health samples
    outcome: str
    detail: str


@dataclass
class LoadRun:
    """Sends the plan from ``concurrency`` threads over one pooled client, sampling ``/health`` from a
    separate thread so the load on ``/verify`` stays at exactly ``concurrency`` while memory is read."""

    client: httpx.Client
    url: str
    plan: Sequence[PlannedRequest]
    concurrency: int
    health_every: int
    deadline: float
    results: list[RequestResult] = field(default_factory=list)
    samples: list[HealthSample] = field(default_factory=list)
    stopped_early: str | None = None
    duration_s: float = 0.0
    _next: int = 0
    _completed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _triggers: Queue[int | None] = field(default_factory=Queue)
    _t0: float = field(default_factory=time.monotonic)

    def sample_health(self) -> HealthSample:
        """One ``/health`` reading; never raises, a failure is a sample with status and no memory."""
        with self._lock:
            index = self._completed
        started = time.perf_counter()
        try:
            response = self.client.get(f"{self.url}/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError:
            response = None
        payload = _json_or_none(response) if response is not None and response.status_code == 200 else None
        if isinstance(payload, dict):
            status = str(payload.get("status", "?"))
        else:
            payload, status = {}, "unreachable" if response is None else f"http-{response.status_code}"
        sample = HealthSample(
            request_index=index,
            elapsed_s=round(time.monotonic() - self._t0, 3),
            rss_mb=_number(payload.get("memory_mb")),
            rss_anon_mb=_number(payload.get("rss_anon_mb")),
            peak_rss_mb=_number(payload.get("peak_rss_mb")),
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        with self._lock:
            self.samples.append(sample)
        return sample

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or self._next >= len(self.plan):
                return None
            if time.monotonic() >= self.deadline:
                self.stopped_early = self.stopped_early or (
                    f"stopped at --max-seconds after {self._next} of {len(self.plan)} requests"
                )
                return None
            self._next += 1
            return self._next - 1

    def _send(self, planned: PlannedRequest) -> RequestResult:
        started_at = time.monotonic() - self._t0
        started = time.perf_counter()
        status: int | None = None
        cache_hit = verdict = None
        retry_after, body_problem = True, None
        try:
            response = self.client.post(
                f"{self.url}/verify", content=planned.body, headers={"content-type": "application/json"}
            )
            status = response.status_code
            retry_after = "retry-after" in response.headers
            if status == 200:
                payload = _json_or_none(response)
                body_problem = response_problem(payload)
                if isinstance(payload, dict):
                    hit = payload.get("cache_hit")
                    cache_hit = hit if isinstance(hit, bool) else None
                    result = payload.get("verification_result")
                    verdict = result.get("verdict") if isinstance(result, dict) else None
        except httpx.HTTPError as exc:
            body_problem = f"{type(exc).__name__}: {exc}"
        latency_ms = (time.perf_counter() - started) * 1000
        outcome, detail = classify(planned.kind, status, retry_after=retry_after, body_problem=body_problem)
        if status is None:
            detail = body_problem or detail
        return RequestResult(
            index=planned.index,
            kind=planned.kind,
            variant=planned.variant,
            status=status,
            latency_ms=round(latency_ms, 2),
            cache_hit=cache_hit,
            verdict=verdict,
            started_at=round(started_at, 3),
            completed=0,
            outcome=outcome,
            detail=detail,
        )

    def _finish(self, result: RequestResult, bar: tqdm) -> None:
        with self._lock:
            self._completed += 1
            result.completed = self._completed
            self.results.append(result)
            due = self._completed % self.health_every == 0 and self._completed < len(self.plan)
        if due:
            self._triggers.put(self._completed)
        bar.update(1)

    def _worker(self, bar: tqdm) -> None:
        try:
            while (index := self._take()) is not None:
                self._finish(self._send(self.plan[index]), bar)
        except Exception as exc:  # a bug here must end the run visibly, not leave requests unsent
            self._stop.set()
            self.stopped_early = f"load thread crashed: {type(exc).__name__}: {exc}"

    def _monitor(self, bar: tqdm) -> None:
        while self._triggers.get() is not None:
            sample = self.sample_health()
            if sample.rss_mb is not None:
                bar.set_postfix_str(f"rss {sample.rss_mb:.0f} MB", refresh=False)

    def run(self) -> None:
        """Send everything (or until the deadline or Ctrl-C), with a health sample at start and end."""
        self._t0 = time.monotonic()
        self.sample_health()
        bar = tqdm(total=len(self.plan), unit="req", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
        threads = [
            threading.Thread(target=self._worker, args=(bar,), daemon=True) for _ in range(self.concurrency)
        ]
        monitor = threading.Thread(target=self._monitor, args=(bar,), daemon=True)
        for thread in [*threads, monitor]:
            thread.start()
        try:
            _join(threads)
        except KeyboardInterrupt:
            self._stop.set()
            self.stopped_early = f"interrupted by the user after {self._next} of {len(self.plan)} requests"
            print("\nstopping: waiting for requests in flight (Ctrl-C again to abort) ...", file=sys.stderr)
            _join(threads)
        finally:
            bar.close()
        self._triggers.put(None)
        _join([monitor])
        self.duration_s = time.monotonic() - self._t0
        self.sample_health()
        self.results.sort(key=lambda r: r.index)
        self.samples.sort(key=lambda s: (s.request_index, s.elapsed_s))


def _join(threads: Sequence[threading.Thread]) -> None:
    # join with a timeout so the main thread keeps receiving KeyboardInterrupt
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- reports ---


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


def plot(run: LoadRun, trend: MemoryTrend, limit_mb: float, verdict: Verdict, path: Path) -> bool:
    """``memory.png``: memory against completed requests, and rolling latency. ``False`` if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping memory.png (pip install matplotlib)", file=sys.stderr)
        return False
    samples = [s for s in run.samples if s.answered]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    top.plot([s.request_index for s in samples], [s.rss_mb for s in samples], marker=".", label="RSS")
    anon = [s for s in samples if s.rss_anon_mb is not None]
    if anon:
        top.plot(
            [s.request_index for s in anon], [s.rss_anon_mb for s in anon], marker=".", label="anonymous RSS"
        )
    top.axhline(limit_mb, color="red", linestyle="--", label=f"limit {limit_mb:.0f} MB")
    if trend.fit_start and trend.fit_end:
        top.plot(
            [trend.fit_start[0], trend.fit_end[0]],
            [trend.fit_start[1], trend.fit_end[1]],
            color="black",
            linestyle=":",
            label=f"second-half fit: {trend.slope_mb_per_1k:+.2f} MB / 1k req",
        )
    top.set_ylabel("MB")
    top.set_title(f"factmem memory under load: {'PASS' if verdict.passed else 'FAIL'}")
    top.set_ylim(bottom=0)
    top.legend(loc="best")
    top.grid(alpha=0.3)
    done = sorted((r for r in run.results if r.outcome == "ok"), key=lambda r: r.completed)
    window = max(10, len(done) // 20)
    rolling = rolling_percentiles([r.latency_ms for r in done], window, (50, 95))
    bottom.plot([r.completed for r in done], [p[0] for p in rolling], label="p50")
    bottom.plot([r.completed for r in done], [p[1] for p in rolling], label="p95")
    bottom.set_xlabel("completed requests")
    bottom.set_ylabel(f"/verify latency, ms (2xx, rolling {window})")
    bottom.legend(loc="upper right")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


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


# --- command line ---


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _mix_arg(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="test_memory.py",
        description="Load-test a factmem server and judge whether its memory stays flat.",
        epilog="Exit codes: 0 PASS, 1 FAIL, 2 usage error or server not reachable.",
    )
    target = parser.add_argument_group("target")
    target.add_argument(
        "--url", default="http://127.0.0.1:8000", help="server to test (default: %(default)s)"
    )
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --url you own")
    target.add_argument("--start-server", action="store_true", help="start backend/api_server.py for the run")
    target.add_argument(
        "--server-memory-limit-mb", type=_positive_float, help="MEMORY_LIMIT_MB for the started server"
    )
    target.add_argument(
        "--data-dir", type=Path, help="DATA_DIR for the started server (default: a temp dir, removed after)"
    )
    target.add_argument("--server-script", type=Path, default=SERVER_SCRIPT, help=argparse.SUPPRESS)
    load = parser.add_argument_group("load")
    load.add_argument(
        "-n", "--requests", type=_positive_int, default=1000, help="requests (default: %(default)s)"
    )
    load.add_argument(
        "-c", "--concurrency", type=_positive_int, default=8, help="threads (default: %(default)s)"
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
        type=_positive_float,
        default=600.0,
        help="wall-time budget for the whole run, server start included (default: %(default)s)",
    )
    judged = parser.add_argument_group("measurement")
    judged.add_argument(
        "--health-every", type=_positive_int, default=25, help="sample /health every K requests (default: 25)"
    )
    judged.add_argument(
        "--rss-limit-mb", type=_positive_float, help="limit for peak RSS (default: the server's, else 512)"
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
    """The server's ``/health`` before the run; ``UsageError`` when it is not there or not ready."""
    try:
        health = client.get(f"{url}/health", timeout=HEALTH_TIMEOUT_S)
        ready = client.get(f"{url}/ready", timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise UsageError(f"server not reachable at {url}: {exc} (start it, or pass --start-server)") from None
    if ready.status_code == 503:
        raise UsageError(f"server at {url} is not ready yet (/ready is 503); retry in a few seconds")
    payload = _json_or_none(health) if health.status_code == 200 else None
    if not isinstance(payload, dict):
        raise UsageError(f"{url}/health answered HTTP {health.status_code}, not factmem's JSON")
    return payload


def execute(args: argparse.Namespace, url: str, deadline: float, out: Path) -> int:
    """Preflight, run, write the reports, print the verdict; the exit code."""
    limits = httpx.Limits(
        max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2
    )
    with httpx.Client(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        health = preflight(client, url)
        server_limit = _number(health.get("memory_limit_mb"))
        limit_mb = args.rss_limit_mb or server_limit or DEFAULT_LIMIT_MB
        claims = load_base_claims()
        base = random.Random(args.seed).sample(claims, k=min(BASE_POOL_SIZE, len(claims)))
        plan = Plan(args.requests, args.mix, args.seed, base)
        run = LoadRun(client, url, plan, args.concurrency, args.health_every, deadline)
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


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM takes the same clean-up path as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.start_server and (args.data_dir or args.server_memory_limit_mb):
        parser.error("--data-dir and --server-memory-limit-mb only apply with --start-server")
    deadline = time.monotonic() + args.max_seconds
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    out: Path = args.out or Path("reports") / f"load-{datetime.now():%Y%m%d-%H%M%S}"
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with ExitStack() as stack:
            if args.start_server:
                url = stack.enter_context(
                    managed_server(
                        out / "server.log",
                        data_dir=args.data_dir,
                        memory_limit_mb=args.server_memory_limit_mb,
                        deadline=deadline,
                        script=args.server_script,
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

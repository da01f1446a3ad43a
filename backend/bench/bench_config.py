"""How much one benchmark run does: the full run (the targets' conditions) and ``--quick``."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from factmem_bench.server import REPO_ROOT

MEMORY_LIMIT_MB = 512
EVAL_CLAIMS = REPO_ROOT.parent / "shared" / "eval" / "vclaims.jsonl"


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
    provider_bursts: int = 5
    burst_misses: int = 64
    provider_delay_s: float = 2.0
    provider_quiet_s: float = 4.0


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
    provider_bursts=2,
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

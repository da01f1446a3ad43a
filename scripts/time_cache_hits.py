"""Where a cache hit's time goes, in-process: each pipeline step timed on a copy of a real memory.

The benchmark measures a cache hit over HTTP, where the event loop, the worker threads and the machine's
noise add to it. This runs the pipeline in one thread on a copy of a memory the benchmark built
(``backend/benchmark.py --claims-file ../shared/eval/vclaims.jsonl --skip-100k --keep`` prints where it
kept it; use its ``data-10k``), warms it with the benchmark's mixed requests, then verifies noisy variants
of the seed claims (the benchmark's "first sight of each noisy claim") and prints the p50 of a hit and of a
miss and the mean time per request of each step. Steps are timed by wrapping the functions that do them;
nested steps (the signature inside a comparison) are counted in both.

    .venv/bin/python scripts/time_cache_hits.py /tmp/factmem-bench-XXXX/data-10k
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factmem_bench.mix import DEFAULT_MIX, Plan, load_base_claims, make_request


def _text_of(body: bytes) -> str | None:
    """The claim of a request body; ``None`` for the mix's bodies that are not JSON with a string claim.

    Texts the API refuses (empty, no letters, too long) come through: the normalizer refuses them here too.
    """
    try:
        text = json.loads(body).get("raw_text")
    except (ValueError, AttributeError):
        return None
    return text if isinstance(text, str) else None


class StepTimer:
    """Seconds spent in wrapped functions while :attr:`active` is set."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.active = False

    def wrap(self, owner: Any, name: str, label: str) -> None:
        function: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                if self.active:
                    self.seconds[label] += time.perf_counter() - started

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a memory's DATA_DIR (copied, not changed)")
    parser.add_argument("--warm", type=int, default=3_000, help="mixed requests before measuring")
    parser.add_argument("--requests", type=int, default=300, help="noisy seed claims (and as many new ones)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also print cProfile's N costliest functions of the hits and of the misses",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="factmem-hits-"))
    shutil.copytree(args.data_dir, work / "data", symlinks=True)
    os.environ["DATA_DIR"] = str(work / "data")
    try:
        measure(args.warm, args.requests, args.seed, args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(warm: int, requests: int, seed: int, profile_top: int = 0) -> None:
    # Imported after DATA_DIR is set: the settings are read once.
    import factmem.agents.retriever as retriever
    import factmem.embeddings as embeddings
    import factmem.pipeline as pipeline_module
    from factmem.cli import _open_pipeline
    from factmem.errors import InputError
    from factmem.settings import get_settings

    timer = StepTimer()
    timer.wrap(pipeline_module.VerificationPipeline, "normalize", "normalize")
    timer.wrap(embeddings.Embedder, "embed_one", "embed (vector cache included)")
    timer.wrap(retriever.Retriever, "_candidates", "candidates: search, fusion, re-ranker")
    timer.wrap(retriever.Retriever, "_to_match", "matches: payload to match, with the comparison")
    timer.wrap(retriever, "claim_signature", "the query's signature")
    timer.wrap(retriever, "claim_relation", "comparing the closest matches (remembered pairs too)")
    timer.wrap(pipeline_module.VerificationPipeline, "remember", "memory update")

    pipeline = _open_pipeline(get_settings())
    pipeline.warm_up()
    base = load_base_claims()
    plan = Plan(warm, DEFAULT_MIX, 20251122, base)
    for index in range(warm):
        text = _text_of(plan[index].body)
        if text is None:
            continue
        with contextlib.suppress(InputError):  # the mix's invalid texts: the API answers them 4xx
            pipeline.verify(text)

    hits: list[float] = []
    misses: list[float] = []
    hit_steps: defaultdict[str, float] = defaultdict(float)
    profiles: dict[str, pstats.Stats] = {}
    for index in range(requests):
        for kind, position in (("paraphrase", 2 * index), ("new", 2 * index + 1)):
            text = _text_of(make_request(position, kind, "", seed, base).body)
            if text is None:
                continue
            timer.seconds.clear()
            timer.active = True
            request_profile = cProfile.Profile() if profile_top else None
            started = time.perf_counter()
            with request_profile or contextlib.nullcontext():
                verification = pipeline.verify(text)
            elapsed_ms = (time.perf_counter() - started) * 1000
            timer.active = False
            if verification.cache_hit:
                hits.append(elapsed_ms)
                for label, seconds in timer.seconds.items():
                    hit_steps[label] += seconds
            else:
                misses.append(elapsed_ms)
            if request_profile is not None:
                outcome = "hit" if verification.cache_hit else "miss"
                if outcome in profiles:
                    profiles[outcome].add(request_profile)
                else:
                    profiles[outcome] = pstats.Stats(request_profile)
    print(f"cache hits   n={len(hits)} p50 {statistics.median(hits):.2f} ms" if hits else "no cache hits")
    print(f"cache misses n={len(misses)} p50 {statistics.median(misses):.2f} ms" if misses else "no misses")
    for label, seconds in sorted(hit_steps.items(), key=lambda item: -item[1]):
        print(f"  {seconds / max(len(hits), 1) * 1000:6.2f} ms per hit  {label}")
    for kind, stats in profiles.items():
        count, plural = (len(hits), "hits") if kind == "hit" else (len(misses), "misses")
        print(f"\ncProfile of the {count} {plural} (profiled calls run slower than the p50s above):")
        stats.sort_stats("tottime").print_stats(profile_top)


if __name__ == "__main__":
    main()

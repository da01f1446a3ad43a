"""Building the benchmark's memories in a child process: ``python -m factmem_bench.build_steps SPEC``.

The benchmark process itself never loads the model or the store engine: the kernel leaves resident the
library pages two processes share, so a benchmark holding onnxruntime and Qdrant Edge would keep the
measured server's startup release (``MEMORY_RELEASE_FILE_PAGES``) from taking them, and measure a situation a
deployment, one process alone, never is in. Each step ingests through the service's own code
(``factmem.ingest``) and prints its result as the last line of stdout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from factmem_bench.bench_data import eval_claims, random_unit_vectors, synthetic_claims, synthetic_texts
from factmem_bench.mix import SEED_CLAIMS

UPSERT_BATCH = 1_000

#: Exit status of a build step that ran out of the time budget.
_OUT_OF_TIME_EXIT = 75


def build_in_child(step: str, deadline: float, **arguments: object) -> dict[str, Any]:
    """Run a build step (``build_memory``, ``add_synthetic_points``) in a child process; its result."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutOfTime(f"no time left for {step}")
    spec = json.dumps({"step": step, "remaining_s": remaining, **arguments}, default=str)
    done = subprocess.run(
        [sys.executable, "-m", "factmem_bench.build_steps", spec],
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
    from factmem.memory.allocator import configure_allocator
    from factmem.settings import get_settings

    spec = json.loads(spec_json)
    deadline = time.monotonic() + float(spec["remaining_s"])
    configure_allocator(get_settings().for_bulk_embedding())  # as python -m factmem ingest does
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
    """The settings of ``python -m factmem ingest``: the memory is built the way an operator builds it."""
    from factmem.settings import Settings

    settings = Settings(
        _env_file=None, data_dir=data_dir, qdrant_url=None, seed_on_empty=False, memory_limit_mb=None
    )
    return settings.for_bulk_embedding()


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


if __name__ == "__main__":
    sys.exit(run_build_step(sys.argv[1]) if len(sys.argv) == 2 else 2)

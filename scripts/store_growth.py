"""How much anonymous memory the embedded claim store gains per claim it stores, by kind of claim.

The benchmark's "anon growth, request 1,000 → 20,000" follows what its requests store (the README's
"where the anonymous growth goes"). This isolates the store: a Qdrant Edge shard made as the server makes
it, holding ``--base`` real claims, then ``--added`` more stored one at a time as the memory update stores
them, with anonymous RSS read after ``gc.collect()`` + ``malloc_trim(0)`` (what the server's cleanup does)
before and after. Each case runs in a fresh process, ``--runs`` times:

- ``real``: the next CheckThat! claims of ``--claims-file`` (words the memory mostly indexes already);
- ``synthetic``: the benchmark's never-seen claims (``factmem_bench.mix.new_claim``: each carries a made-up
  name and random numbers, words the memory has never indexed);
- ``long``: the benchmark's long texts (``factmem_bench.mix.long_claim``: just under the server's 2,000
  characters, sentences of both kinds above) stored whole, as the admin ingest stores a long claim (the
  server splits a pasted paragraph into its sentences first);

each with the BM25 sparse vector (hybrid retrieval, the default) and without it (``HYBRID_RETRIEVAL=false``).
Dense vectors are random unit vectors: they live in file-backed pages, whatever their values.

    .venv/bin/python scripts/store_growth.py            # ~7 minutes; needs ../shared/eval/vclaims.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from factmem_bench.bench_data import eval_claims
from factmem_bench.mix import BASE_POOL_SIZE, MAX_CLAIM_CHARS, long_claim, new_claim

ROOT = Path(__file__).resolve().parents[1]
#: where ``scripts/eval_memory.py`` reads the shared evaluation data too
DEFAULT_CLAIMS = Path(os.environ.get("FACTMEM_EVAL_DIR", ROOT.parent / "shared" / "eval")) / "vclaims.jsonl"
CASES = tuple((kind, bm25) for bm25 in (True, False) for kind in ("real", "synthetic", "long"))


def _anon_mb() -> float:
    """Anonymous RSS as the server's cleanup (a full collection, then ``malloc_trim(0)``) leaves it."""
    from factmem.memory.cleanup import cleanup_memory

    anon = cleanup_memory().anon_after_mb
    if anon is None:
        raise RuntimeError("no RssAnon in /proc/self/status")
    return anon


def measure(claims_file: Path, base: int, added: int, kind: str, bm25: bool) -> dict[str, float]:
    """One case in this process: anonymous MB before and after storing ``added`` claims of ``kind``."""
    import numpy as np

    from factmem.agents.base import VerificationResult
    from factmem.agents.memory_update import new_claim_payload
    from factmem.agents.normalizer import Normalizer
    from factmem.store.base import PointWrite
    from factmem.store.edge import EdgeClaimStore
    from factmem.store.ids import claim_point_id
    from factmem.time_decay import utc_now

    normalizer = Normalizer(max_chars=MAX_CLAIM_CHARS)
    rows = [row["claim"] for row in eval_claims(claims_file, base + added)]
    if len(rows) < (base + added if kind == "real" else base):
        raise SystemExit(f"{claims_file} has {len(rows):,} usable claims; this case needs more")
    made_up = random.Random(5)
    if kind == "real":
        texts = rows
    elif kind == "long":  # like the benchmark: half of the sentences from a small pool of real claims
        pool = made_up.sample(rows[:base], BASE_POOL_SIZE)
        texts = rows[:base] + [long_claim(pool, made_up) for _ in range(added)]
    else:
        texts = rows[:base] + [new_claim(made_up) for _ in range(added)]
    claims = [normalizer.normalize(text) for text in texts]
    rng = np.random.default_rng(1)
    result = VerificationResult(verdict="True", confidence=0.9, reasoning="store growth", explanation="-")
    now = utc_now()

    def write(index: int, claim: Any) -> PointWrite:
        vector = rng.standard_normal(384).astype(np.float32)
        seen = now + timedelta(seconds=index)  # each claim first seen at its own time, as in the server
        payload = new_claim_payload(claim, result, now=seen, source="store_growth", embedding_model="-")
        return PointWrite(
            id=claim_point_id(claim.comparison_key), vector=vector / np.linalg.norm(vector), payload=payload
        )

    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeClaimStore(Path(tmp) / "claims", name="claims", dim=384, lexical=bm25)
        try:
            for start in range(0, base, 64):
                store.upsert([write(i, claims[i]) for i in range(start, min(start + 64, base))])
            store.flush()
            before = _anon_mb()
            # one at a time, as the memory update stores a verified claim
            for index in range(base, len(claims)):
                store.upsert([write(index, claims[index])])
            store.flush()
            after = _anon_mb()
        finally:
            store.close()
    return {"before_mb": before, "after_mb": after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims-file", type=Path, default=DEFAULT_CLAIMS)
    # 6,500 + 7,500 real claims fit in the CheckThat! release's 14,227
    parser.add_argument("--base", type=int, default=6_500, help="claims in the store first (real ones)")
    parser.add_argument("--added", type=int, default=7_500, help="claims stored one at a time after them")
    parser.add_argument(
        "--runs", type=int, default=2, choices=range(1, 11), metavar="1..10", help="fresh processes per case"
    )
    # what a child process is given: the one case it measures
    parser.add_argument("--case", nargs=2, metavar=("KIND", "BM25"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        kind, bm25 = args.case[0], args.case[1] == "bm25"
        print(json.dumps(measure(args.claims_file, args.base, args.added, kind, bm25)))
        return 0
    if not args.claims_file.is_file():
        print(f"no claims file at {args.claims_file} (pass --claims-file)", file=sys.stderr)
        return 2
    print(f"anonymous MB the store gains for {args.added:,} claims stored after {args.base:,} real ones")
    print(f"{'claims stored':<14} {'BM25':<5} {'per run (MB)':<22} {'median B/claim':>14}")
    for kind, bm25 in CASES:
        growths = []
        for _ in range(args.runs):
            sizes = ["--base", str(args.base), "--added", str(args.added)]
            case = ["--case", kind, "bm25" if bm25 else "dense"]
            child = [sys.executable, __file__, "--claims-file", str(args.claims_file), *sizes, *case]
            done = subprocess.run(child, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"the {kind} case failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            reading = json.loads(done.stdout.strip().splitlines()[-1])
            growths.append(reading["after_mb"] - reading["before_mb"])
        per_claim = statistics.median(growths) * 1024 * 1024 / args.added
        runs = ", ".join(f"{g:.2f}" for g in growths)
        print(f"{kind:<14} {'on' if bm25 else 'off':<5} {runs:<22} {per_claim:>14.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

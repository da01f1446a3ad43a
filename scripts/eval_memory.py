"""Measure factmem's memory quality on the shared evaluation data (read in place, never copied).

    .venv/bin/python scripts/eval_memory.py [--eval-dir ../shared/eval] [--limit N]

1. Claim matching (CheckThat! 2022 2A): the 14k verified claims go into a Qdrant Edge claim memory through the
   real ingest path; each tweet is normalized and searched like a /verify request. Prints MAP@5 (the task's
   official metric), MRR and Recall@1/5/10, with and without the normalizer.
2. Contrast pairs (FEVER-Symmetric): for each pair, the memory holds one claim with its verdict and the other
   is verified through the real pipeline. A pair fails when the memory answers the other claim with the
   stored claim's verdict as a cache hit or a transfer (the eval's rule: "a memory holding one must not answer
   the other with the same verdict").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from factmem.agents.reasoner import LocalReasoner
from factmem.agents.retriever import Retriever
from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.edge import EdgeClaimStore
from factmem.store.ids import claim_point_id

ROOT = Path(__file__).resolve().parents[1]


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def make_pipeline(workdir: Path, embedder: Embedder, name: str) -> VerificationPipeline:
    settings = Settings(_env_file=None, data_dir=workdir, seed_on_empty=False, memory_limit_mb=None)  # type: ignore[call-arg]
    claims = EdgeClaimStore(workdir / name / "claims", name="claims", dim=MINILM_INT8.dim)
    evidence = EdgeClaimStore(workdir / name / "evidence", name="evidence", dim=MINILM_INT8.dim)
    return VerificationPipeline(settings, claims, evidence, lambda: embedder)


def claim_matching(eval_dir: Path, embedder: Embedder, workdir: Path, limit: int | None) -> dict[str, float]:
    vclaims = list(read_jsonl(eval_dir / "vclaims.jsonl"))
    pipeline = make_pipeline(workdir, embedder, "matching")
    started = time.perf_counter()
    # A few rows carry a stub claim ("A"); their title is the claim then.
    texts = {v["id"]: v["claim"] if len(v["claim"].strip()) >= 12 else v["title"] for v in vclaims}
    curated = [CuratedClaim(claim=texts[v["id"]], verdict="Uncertain", source=v["id"]) for v in vclaims]
    ingest_claims(pipeline, curated)
    pipeline.claim_store.build_index()
    load_s = time.perf_counter() - started

    queries = list(read_jsonl(eval_dir / "claim_matching_dev.jsonl"))[:limit]
    gold: dict[str, set[str]] = {}
    text_of: dict[str, str] = {}
    for row in queries:
        gold.setdefault(row["query_id"], set()).add(row["matched_claim_id"])
        text_of[row["query_id"]] = row["query"]

    results: dict[str, dict[str, float]] = {}
    for mode in ("normalized", "raw"):
        ap5, rr, r1, r5, r10 = [], [], [], [], []
        for query_id, text in text_of.items():
            query = pipeline.normalizer.normalize(text).normalized_text if mode == "normalized" else text
            hits = pipeline.claim_store.search(embedder.embed_one(query), 10)
            ranked = [h.payload.get("source") for h in hits]
            relevant = gold[query_id]
            found = [i for i, r in enumerate(ranked) if r in relevant]
            precisions = [(n + 1) / (i + 1) for n, i in enumerate(i for i in found if i < 5)]
            ap5.append(sum(precisions) / min(len(relevant), 5))
            rr.append(1.0 / (found[0] + 1) if found else 0.0)
            r1.append(1.0 if found and found[0] == 0 else 0.0)
            r5.append(1.0 if found and found[0] < 5 else 0.0)
            r10.append(1.0 if found else 0.0)
        results[mode] = {
            "MAP@5": float(np.mean(ap5)),
            "MRR@10": float(np.mean(rr)),
            "Recall@1": float(np.mean(r1)),
            "Recall@5": float(np.mean(r5)),
            "Recall@10": float(np.mean(r10)),
        }
    pipeline.claim_store.close()
    pipeline.evidence_store.close()
    return {"queries": len(text_of), "memory_claims": len(vclaims), "load_s": round(load_s, 1), **results}


def contrast_pairs(eval_dir: Path, embedder: Embedder, workdir: Path) -> dict[str, object]:
    pairs = list(read_jsonl(eval_dir / "contrast_pairs_dev.jsonl"))
    outcomes = {"same_verdict_served": 0, "cache_hit": 0, "opposite_verdict": 0, "uncertain": 0, "checked": 0}
    failures: list[str] = []
    for direction in ("true_stored", "false_stored"):
        for index, pair in enumerate(pairs):
            pipeline = make_pipeline(workdir, embedder, f"contrast-{direction}-{index}")
            stored, stored_verdict, asked = (
                (pair["claim_true"], "True", pair["claim_false"])
                if direction == "true_stored"
                else (pair["claim_false"], "False", pair["claim_true"])
            )
            ingest_claims(
                pipeline, [CuratedClaim(claim=stored, verdict=stored_verdict, source_reliability=0.9)]
            )
            verification = pipeline.verify(asked)
            outcomes["checked"] += 1
            verdict = verification.result.verdict
            if verification.cache_hit:
                outcomes["cache_hit"] += 1
            if verdict == stored_verdict:
                outcomes["same_verdict_served"] += 1
                if len(failures) < 8:
                    failures.append(
                        f"{stored!r} ({stored_verdict}) -> {asked!r}: {verification.result.reasoning}"
                    )
            elif verdict == "Uncertain":
                outcomes["uncertain"] += 1
            else:
                outcomes["opposite_verdict"] += 1
            pipeline.claim_store.close()
            pipeline.evidence_store.close()
    checked = outcomes["checked"]
    return {
        **outcomes,
        "same_verdict_rate": round(outcomes["same_verdict_served"] / checked, 4),
        "examples_of_failures": failures,
    }


def reasoner_tradeoff(eval_dir: Path, embedder: Embedder, workdir: Path) -> dict[str, object]:
    """Wrong verdicts served (contrast pairs) vs. verdicts rightly transferred (tweet -> its fact-check).

    The memory holds one claim with a verdict; the other text is retrieved once and then judged by the local
    reasoner under several ``MIN_EVIDENCE_SIMILARITY`` values (the floor of the consensus rule).
    """
    floors = (0.55, 0.65, 0.70, 0.75, 0.80, 0.85)
    items: list[tuple[str, str, str, str]] = []  # kind, stored text, stored verdict, asked text
    for pair in read_jsonl(eval_dir / "contrast_pairs_dev.jsonl"):
        items.append(("contrast", pair["claim_true"], "True", pair["claim_false"]))
        items.append(("contrast", pair["claim_false"], "False", pair["claim_true"]))
    for row in read_jsonl(eval_dir / "claim_matching_dev.jsonl"):
        items.append(("paraphrase", row["matched_claim"], "False", row["query"]))
    counts = {(kind, floor): [0, 0] for kind in ("contrast", "paraphrase") for floor in floors}
    pipeline = make_pipeline(workdir, embedder, "tradeoff")
    # Polarity for every match, so that floors below the service's relation floor are measured too.
    retriever = Retriever(
        pipeline.claim_store, embedder, replace(pipeline.retriever.policy, relation_floor=0.0)
    )
    for index, (kind, stored, verdict, asked) in enumerate(items):
        if len(stored.strip()) < 12:
            continue
        store_id = ingest_claims(
            pipeline, [CuratedClaim(claim=stored, verdict=verdict, source_reliability=0.9)]
        )
        del store_id
        claim = pipeline.normalizer.normalize(asked)
        retrieval = retriever.retrieve(claim)
        retrieval = replace(retrieval, matches=tuple(m for m in retrieval.matches if m.verdict == verdict))
        for floor in floors:
            policy = replace(pipeline.reasoner.policy, min_evidence_similarity=floor)
            served = LocalReasoner(policy).reason(claim, retrieval, []).verdict
            counts[(kind, floor)][0] += served == verdict
            counts[(kind, floor)][1] += 1
        # One claim at a time: remove it again so the next item sees an empty memory.
        pipeline.claim_store.delete([claim_point_id(pipeline.normalizer.normalize(stored).comparison_key)])
        if index % 500 == 0:
            print(f"tradeoff {index}/{len(items)}", file=sys.stderr)
    return {
        f"floor {floor:.2f}": {
            "contrast_same_verdict_rate": round(
                counts[("contrast", floor)][0] / counts[("contrast", floor)][1], 4
            ),
            "paraphrase_transfer_rate": round(
                counts[("paraphrase", floor)][0] / counts[("paraphrase", floor)][1], 4
            ),
        }
        for floor in floors
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--limit", type=int, default=None, help="only the first N claim-matching rows")
    parser.add_argument(
        "--parts",
        default="matching,contrast,tradeoff",
        help="comma-separated: matching (14k-claim retrieval, ~5 min), contrast, tradeoff",
    )
    args = parser.parse_args()
    if not (args.eval_dir / "vclaims.jsonl").is_file():
        print(f"no evaluation data in {args.eval_dir}; nothing to measure", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="factmem-eval-") as tmp:
        workdir = Path(tmp)
        # the EMBEDDING_* settings of the environment: measure the variant the service would run
        embedder = Embedder.from_settings(Settings(_env_file=None), assemble_model_dir(workdir / "model"))  # type: ignore[call-arg]
        print(f"embedder {embedder.model_id}", file=sys.stderr)
        report: dict[str, object] = {}
        if "tradeoff" in args.parts:
            report["reasoner_tradeoff"] = reasoner_tradeoff(args.eval_dir, embedder, workdir)
        if "contrast" in args.parts:
            report["contrast_pairs"] = contrast_pairs(args.eval_dir, embedder, workdir)
        if "matching" in args.parts:
            report["claim_matching"] = claim_matching(args.eval_dir, embedder, workdir, args.limit)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

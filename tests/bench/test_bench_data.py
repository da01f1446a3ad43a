"""The benchmark's claims and points (``factmem_bench.bench_data``): valid, reproducible, read in place."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from factmem.agents.normalizer import Normalizer
from factmem.ingest import CuratedClaim
from factmem_bench.bench_data import eval_claims, random_unit_vectors, synthetic_claims, synthetic_texts


def test_synthetic_claims_are_valid_reproducible_and_alternate_verdicts() -> None:
    claims = list(synthetic_claims(50, seed=7))
    assert claims == list(synthetic_claims(50, seed=7))
    assert claims != list(synthetic_claims(50, seed=8))
    parsed = [CuratedClaim.model_validate(row) for row in claims]
    assert [c.verdict for c in parsed[:4]] == ["False", "True", "False", "True"]


def test_synthetic_texts_never_share_an_identity() -> None:
    normalizer = Normalizer()
    keys = {normalizer.normalize(text).comparison_key for text in synthetic_texts(2_000, seed=3)}
    assert len(keys) == 2_000


def test_random_unit_vectors() -> None:
    vectors = random_unit_vectors(64, 384, np.random.default_rng(0))
    assert vectors.shape == (64, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_eval_claims_reads_rows_in_place(tmp_path: Path) -> None:
    rows = [
        {
            "claim": "A viral video shows a giant snake in a river.",
            "title": "Giant snake?",
            "date": "26 May 2015",
        },
        {"claim": "", "title": "empty claim is skipped"},
        {"claim": "Bananas are berries.", "title": None, "date": "sometime"},
        {"claim": "Never read: beyond n.", "title": "x"},
    ]
    path = tmp_path / "vclaims.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    claims = list(eval_claims(path, 2))
    assert [c["claim"] for c in claims] == [rows[0]["claim"], rows[2]["claim"]]
    assert [c["date"] for c in claims] == ["2015-05-26", None]
    assert [CuratedClaim.model_validate(c).verdict for c in claims] == ["False", "True"]

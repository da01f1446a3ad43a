"""The retriever's cache-hit rules on a real store and the real model: similarity, age, verdict, polarity."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from factmem.agents.base import Retrieval, Verdict
from factmem.agents.retriever import Retriever, VectorCache
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.pipeline import VerificationPipeline

STORED = "The Statue of Liberty was a gift from France to the United States."


def store(
    pipeline: VerificationPipeline, claim: str = STORED, verdict: Verdict = "True", age_days: float = 0
) -> str:
    ingest_claims(pipeline, [CuratedClaim(claim=claim, verdict=verdict, source_reliability=0.9)])
    (point,) = [p for p in pipeline.claim_store.top_by_seen_count(50) if p.payload["claim_text"] == claim]
    if age_days:
        then = time.time() - age_days * 86_400
        pipeline.claim_store.set_payload(point.id, {"timestamp_ts": then})
    return point.id


def retrieve(pipeline: VerificationPipeline, text: str, retriever: Retriever | None = None) -> Retrieval:
    return (retriever or pipeline.retriever).retrieve(pipeline.normalizer.normalize(text))


def test_noisy_resubmission_is_a_cache_hit(pipeline: VerificationPipeline) -> None:
    stored_id = store(pipeline)
    noisy = "did u know the statue of liberty was a gift from FRANCE to the United States!!"
    retrieval = retrieve(pipeline, noisy)
    assert retrieval.cache_hit is not None and retrieval.cache_hit.id == stored_id
    assert retrieval.cache_hit.relation == "same"


def test_old_verdict_is_no_cache_hit_and_decays(pipeline: VerificationPipeline) -> None:
    store(pipeline, age_days=45)
    retrieval = retrieve(pipeline, STORED)
    assert retrieval.cache_hit is None
    (match,) = [m for m in retrieval.matches if m.claim_text == STORED]
    assert match.similarity == pytest.approx(1.0, abs=1e-3)
    assert match.time_decayed_score < match.similarity
    assert match.age_days == pytest.approx(45, abs=0.1)


def test_uncertain_verdict_is_never_a_cache_hit(pipeline: VerificationPipeline) -> None:
    store(pipeline, verdict="Uncertain")
    assert retrieve(pipeline, STORED).cache_hit is None


@pytest.mark.parametrize(
    ("asked", "relation"),
    [
        ("The Statue of Liberty was not a gift from France to the United States.", "opposite"),
        ("The Statue of Liberty was a gift from Spain to the United States.", "different"),
    ],
)
def test_changed_polarity_is_no_cache_hit(pipeline: VerificationPipeline, asked: str, relation: str) -> None:
    store(pipeline)
    # A looser threshold than the default, so that only polarity can keep these from being hits.
    loose = Retriever(
        pipeline.claim_store, pipeline.embedder, replace(pipeline.retriever.policy, cache_similarity=0.75)
    )
    retrieval = retrieve(pipeline, asked, loose)
    assert retrieval.cache_hit is None
    (match,) = [m for m in retrieval.matches if m.claim_text == STORED]
    assert match.similarity >= 0.75
    assert match.relation == relation


def test_distant_matches_are_unrelated_without_polarity_work(pipeline: VerificationPipeline) -> None:
    store(pipeline)
    retrieval = retrieve(pipeline, "Honey never spoils if it is sealed.")
    (match,) = retrieval.matches
    assert match.similarity < 0.70 and match.relation == "unrelated"


def test_cache_similarity_threshold_is_a_setting(pipeline: VerificationPipeline) -> None:
    store(pipeline)
    paraphrase = "The Statue of Liberty was given to the United States by France."
    strict = Retriever(
        pipeline.claim_store, pipeline.embedder, replace(pipeline.retriever.policy, cache_similarity=0.999)
    )
    assert retrieve(pipeline, paraphrase, strict).cache_hit is None
    assert retrieve(pipeline, STORED, strict).cache_hit is not None


def test_matches_are_ranked_by_time_decayed_score(pipeline: VerificationPipeline) -> None:
    store(pipeline)
    store(pipeline, "The Statue of Liberty stands on Liberty Island in New York Harbor.", age_days=400)
    scores = [m.time_decayed_score for m in retrieve(pipeline, STORED).matches]
    assert scores == sorted(scores, reverse=True)


def test_vector_cache_is_bounded_and_least_recently_used() -> None:
    computed: list[str] = []

    def compute(text: str) -> np.ndarray:
        computed.append(text)
        return np.full(4, len(computed), dtype=np.float32)

    cache = VectorCache(size=2)
    first = cache.get_or_compute("a", compute)
    cache.get_or_compute("b", compute)
    assert cache.get_or_compute("A", compute) is first  # case-insensitive: the model is uncased
    cache.get_or_compute("c", compute)  # evicts "b", the least recently used
    cache.get_or_compute("b", compute)
    assert computed == ["a", "b", "c", "b"]
    assert not first.flags.writeable
    off = VectorCache(size=0)
    off.get_or_compute("a", compute)
    off.get_or_compute("a", compute)
    assert computed[-2:] == ["a", "a"]

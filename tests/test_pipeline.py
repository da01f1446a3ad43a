"""The verification pipeline on both store backends: agents built once, one embedding per claim, the cache."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from factmem.agents.memory_update import LOCAL_SOURCE
from factmem.agents.retriever import VectorCache
from factmem.errors import EmbeddingError, InputError
from factmem.ingest import CuratedClaim, EvidencePassageIn, ingest_claims, ingest_evidence
from factmem.pipeline import VerificationPipeline
from factmem.store.ids import claim_point_id

AGENTS = {"embedder", "normalizer", "retriever", "evidence", "reasoner", "memory_update"}

CLAIMS = [
    "The Harbor of Quillon freezes over every winter.",
    "did u know the Harbor of Quillon freezes over every winter!!!",
    "The Harbor of Quillon never freezes over.",
    "The Tellwick Mill ground flour for 300 years.",
    "Smoking tobacco causes lung cancer.",
]


def curated(claim: str, verdict: str = "True") -> CuratedClaim:
    return CuratedClaim(
        claim=claim,
        verdict=verdict,
        explanation="checked",
        source_url="https://example.org/c",
        source_reliability=0.9,
    )


class CountingEmbed:
    """Wraps an embedder's ``embed`` and records every batch of texts it is asked for."""

    def __init__(self, embed: object) -> None:
        self._embed = embed
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self._embed(texts)  # type: ignore[operator]


def test_agents_are_built_once_across_verifications(pipeline: VerificationPipeline) -> None:
    pipeline.verify(CLAIMS[0])
    built = dict(pipeline._agent_cache)
    assert set(built) == AGENTS

    for number in range(20):
        pipeline.verify(CLAIMS[number % len(CLAIMS)])

    assert pipeline.agent_builds == dict.fromkeys(AGENTS, 1)
    assert pipeline._agent_cache.keys() == built.keys()
    assert all(pipeline._agent_cache[name] is agent for name, agent in built.items())


def test_warm_up_builds_every_agent_once(pipeline: VerificationPipeline) -> None:
    pipeline.warm_up()
    pipeline.warm_up()
    pipeline.verify(CLAIMS[3])
    assert pipeline.agent_builds == dict.fromkeys(AGENTS, 1)


def test_each_verification_embeds_the_claim_exactly_once(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A curated claim (for a cache hit) and an evidence passage (so the evidence agent searches too).
    ingest_claims(pipeline, [curated("The Tellwick Mill ground flour for 300 years.")])
    ingest_evidence(
        pipeline, [EvidencePassageIn(text="The Harbor of Quillon is ice-bound from December to March.")]
    )
    counting = CountingEmbed(pipeline.embedder.embed)
    monkeypatch.setattr(pipeline.embedder, "embed", counting)

    embedded: set[str] = set()
    for text in CLAIMS:
        held = {point.id for point in pipeline.claim_store.iter_points()}
        needs_model = pipeline.look_up([pipeline.normalizer.normalize(text)]).needs_model
        counting.calls.clear()
        verification = pipeline.verify(text)
        normalized = verification.claim.normalized_text
        # Once per request, and not at all for a text already embedded (the vector cache) or a claim the
        # memory already holds (its record's stored vector); the server's queue knows which beforehand.
        known = normalized in embedded or claim_point_id(verification.claim.comparison_key) in held
        assert counting.calls == ([] if known else [[normalized]]), text
        assert needs_model is not known, text
        embedded.add(normalized)


def test_a_claim_the_memory_holds_is_searched_with_its_stored_vector(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart (an empty vector cache) a repeat of a stored claim still costs no model run."""
    ingest_claims(pipeline, [curated("The Tellwick Mill ground flour for 300 years.")])
    (record,) = pipeline.claim_store.retrieve(
        [next(pipeline.claim_store.iter_points()).id], with_vectors=True
    )
    pipeline.retriever._vectors = VectorCache(256)  # what a restarted process has
    counting = CountingEmbed(pipeline.embedder.embed)
    monkeypatch.setattr(pipeline.embedder, "embed", counting)

    verification = pipeline.verify("did u know THE TELLWICK MILL ground flour for 300 years!!!")

    assert counting.calls == []
    assert record.vector is not None
    assert np.array_equal(verification.retrieval.vector, record.vector)
    assert verification.retrieval.cache_hit is not None and verification.retrieval.cache_hit.id == record.id
    assert verification.retrieval.cache_hit.similarity == pytest.approx(1.0, abs=1e-3)
    # a claim the memory does not hold is embedded as before
    pipeline.verify("The Tellwick Mill ground flour for 400 years.")
    assert counting.calls == [["The Tellwick Mill ground flour for 400 years."]]


def test_a_repeated_claim_reuses_its_vector(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noise variants normalize to one text, which is embedded once across requests (bounded LRU)."""
    counting = CountingEmbed(pipeline.embedder.embed)
    monkeypatch.setattr(pipeline.embedder, "embed", counting)
    first = pipeline.verify("The Tellwick Mill ground flour for 300 years.")
    again = pipeline.verify("did u know THE TELLWICK MILL ground flour for 300 years!!!")
    assert len(counting.calls) == 1
    # the repeat is searched with the record's stored vector (float16 on the embedded store)
    assert float(np.dot(first.retrieval.vector, again.retrieval.vector)) == pytest.approx(1.0, abs=1e-3)
    assert again.write.id == first.write.id and again.write.seen_count == 2


def test_stored_curated_claim_is_a_cache_hit(pipeline: VerificationPipeline) -> None:
    report = ingest_claims(pipeline, [curated("Smoking tobacco causes lung cancer.")])
    assert (report.inserted, report.updated, report.rejected) == (1, 0, [])
    (stored,) = pipeline.claim_store.top_by_seen_count(1)

    verification = pipeline.verify("THEY SAY THAT smoking tobacco causes lung cancer!!! 🚬")

    assert verification.cache_hit
    assert verification.result.verdict == "True"
    assert verification.result.evidence_ids == (stored.id,)
    assert "evidence" not in verification.timings_ms and "reasoner" not in verification.timings_ms
    assert (verification.write.id, verification.write.inserted, verification.write.seen_count) == (
        stored.id,
        False,
        2,
    )
    assert pipeline.claim_store.count() == 1


def test_negation_of_a_curated_claim_is_not_a_cache_hit(pipeline: VerificationPipeline) -> None:
    ingest_claims(pipeline, [curated("Smoking tobacco causes lung cancer.")])
    (stored,) = pipeline.claim_store.top_by_seen_count(1)

    verification = pipeline.verify("Smoking tobacco does not cause lung cancer.")

    assert not verification.cache_hit
    assert verification.result.verdict == "False"
    assert stored.id in verification.result.evidence_ids
    assert verification.write.inserted and verification.write.id != stored.id
    assert pipeline.claim_store.count() == 2
    assert pipeline.claim_store.retrieve([stored.id])[0].payload["seen_count"] == 1


def test_verification_stores_a_new_record(pipeline: VerificationPipeline) -> None:
    assert pipeline.claim_store.count() == 0

    verification = pipeline.verify("did u know the Tellwick Mill ground flour for 300 years 🌾")

    assert not verification.cache_hit
    assert verification.write.inserted and verification.write.seen_count == 1
    (point,) = pipeline.claim_store.retrieve([verification.write.id])
    payload = point.payload
    assert payload["claim_text"] == "The Tellwick Mill ground flour for 300 years."
    assert payload["original_text"] == "did u know the Tellwick Mill ground flour for 300 years 🌾"
    assert (payload["verdict"], payload["seen_count"], payload["origin"]) == ("Uncertain", 1, "verified")
    assert payload["source"] == LOCAL_SOURCE
    assert pipeline.claim_store.count() == 1
    assert {"normalizer", "retriever", "evidence", "reasoner", "memory_update", "total"} <= set(
        verification.timings_ms
    )


@pytest.mark.parametrize("text", ["", "   ", "!!!", "12345", "🎉🎉", "a" * 2001])
def test_unusable_text_raises_input_error_and_stores_nothing(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    pipeline.verify(CLAIMS[0])
    counting = CountingEmbed(pipeline.embedder.embed)
    monkeypatch.setattr(pipeline.embedder, "embed", counting)
    before = [(p.id, p.payload["seen_count"]) for p in pipeline.claim_store.top_by_seen_count(10)]

    with pytest.raises(InputError):
        pipeline.verify(text)

    assert counting.calls == [], "rejected before the model runs"
    assert [(p.id, p.payload["seen_count"]) for p in pipeline.claim_store.top_by_seen_count(10)] == before
    assert pipeline.claim_store.count() == 1


def test_a_memory_embedded_by_another_model_is_refused(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.verify("The Danube flows through four European capitals.")
    pipeline.check_stored_vectors()  # same model: fine
    monkeypatch.setattr(pipeline.embedder, "model_id", "factmem/other-model:fp32-matmul:000000000000")
    with pytest.raises(EmbeddingError, match="re-ingest"):
        pipeline.check_stored_vectors()


def test_recall_starts_from_the_record_the_look_up_read(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_claims(pipeline, [curated("The Tellwick Mill ground flour for 300 years.")])
    claim = pipeline.normalizer.normalize("The Tellwick Mill ground flour for 300 years.")
    looked_up = pipeline.look_up([claim])
    assert not looked_up.needs_model
    assert looked_up.records[claim.comparison_key].vector is not None
    read = pipeline.claim_store.retrieve
    own_id = claim_point_id(claim.comparison_key)
    reads: list[list[str]] = []

    def counted(ids: list[str], *, with_vectors: bool = False) -> list:
        reads.append(list(ids))
        return read(ids, with_vectors=with_vectors)

    monkeypatch.setattr(pipeline.claim_store, "retrieve", counted)
    assert pipeline.recall(claim, looked_up=looked_up).cache_hit
    assert [own_id] not in reads
    assert pipeline.recall(claim).cache_hit  # without a look-up it reads the record itself
    assert [own_id] in reads

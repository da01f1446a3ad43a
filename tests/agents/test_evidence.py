"""The evidence agent on a real store and the real model: what the local collection gives, in which order."""

from __future__ import annotations

import numpy as np

from factmem.agents.base import EvidencePassage, NormalizedClaim
from factmem.agents.evidence import EvidenceCollector, LocalEvidenceProvider
from factmem.ingest import EvidencePassageIn, ingest_evidence
from factmem.pipeline import VerificationPipeline

EIFFEL = "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France."
EIFFEL_HEIGHT = "The Eiffel Tower in Paris is 330 metres tall, the tallest structure in the city."
TEA = "Green tea is made from the leaves of Camellia sinensis that have not been oxidised."


def claim_and_vector(pipeline: VerificationPipeline, text: str) -> tuple[NormalizedClaim, np.ndarray]:
    claim = pipeline.normalizer.normalize(text)
    return claim, pipeline.embedder.embed_one(claim.normalized_text)


def ingest(pipeline: VerificationPipeline, *passages: tuple[str, float]) -> None:
    rows = [EvidencePassageIn(text=text, source="encyclopedia", source_reliability=r) for text, r in passages]
    ingest_evidence(pipeline, rows)


def test_related_passages_are_found_and_unrelated_ones_are_not(pipeline: VerificationPipeline) -> None:
    ingest(pipeline, (EIFFEL, 0.8), (TEA, 0.8))
    claim, vector = claim_and_vector(pipeline, "The Eiffel Tower is located in Paris")
    found = LocalEvidenceProvider(pipeline.evidence_store, min_similarity=0.5).search(claim, vector, 5)
    assert [p.text for p in found] == [EIFFEL]
    (passage,) = found
    assert passage.provider == "local" and passage.source == "encyclopedia"
    assert passage.source_reliability == 0.8
    assert 0.5 <= passage.similarity <= 1.0


def test_the_similarity_floor_is_the_providers_own(pipeline: VerificationPipeline) -> None:
    ingest(pipeline, (EIFFEL, 0.8))
    claim, vector = claim_and_vector(pipeline, "Paris has a famous iron tower")
    loose = LocalEvidenceProvider(pipeline.evidence_store, min_similarity=0.0).search(claim, vector, 5)
    assert loose, "with no floor the nearest passage comes back"
    strict = LocalEvidenceProvider(pipeline.evidence_store, min_similarity=loose[0].similarity + 0.01)
    assert strict.search(claim, vector, 5) == []


def test_the_pipelines_collector_searches_the_local_collection(pipeline: VerificationPipeline) -> None:
    ingest(pipeline, (EIFFEL, 0.8), (EIFFEL_HEIGHT, 0.9))
    claim, vector = claim_and_vector(pipeline, "The Eiffel Tower is in Paris")
    assert pipeline.evidence.provider_names == ("local",)
    assert {p.text for p in pipeline.evidence.collect(claim, vector)} == {EIFFEL, EIFFEL_HEIGHT}


class FixedProvider:
    """A second source of passages (web search providers plug in the same way)."""

    def __init__(self, name: str, passages: list[EvidencePassage]) -> None:
        self.name = name
        self.passages = passages
        self.limits: list[int] = []

    def search(self, claim: NormalizedClaim, vector: np.ndarray, limit: int) -> list[EvidencePassage]:
        self.limits.append(limit)
        return self.passages[:limit]


def passage(passage_id: str, similarity: float, reliability: float, provider: str) -> EvidencePassage:
    return EvidencePassage(passage_id, "text", "source", None, reliability, similarity, provider)


def test_passages_of_every_provider_are_ranked_by_similarity_times_reliability() -> None:
    web = FixedProvider("web", [passage("w1", 0.9, 0.5, "web"), passage("w2", 0.6, 0.9, "web")])
    local = FixedProvider("local", [passage("l1", 0.8, 0.9, "local"), passage("l2", 0.3, 0.3, "local")])
    collector = EvidenceCollector([local, web], limit=3)
    claim = NormalizedClaim(original_text="x", normalized_text="X.", comparison_key="x")

    ranked = collector.collect(claim, np.zeros(384, dtype=np.float32))

    # 0.72 (l1) > 0.54 (w2) > 0.45 (w1) > 0.09 (l2), cut at the limit
    assert [p.id for p in ranked] == ["l1", "w2", "w1"]
    assert collector.provider_names == ("local", "web")
    assert local.limits == web.limits == [3], "each provider is asked for at most the limit"

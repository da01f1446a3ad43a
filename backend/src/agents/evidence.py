"""Evidence: gathers passages about a claim the memory could not answer from a cache hit.

Sources are ``EvidenceProvider``s. The one shipped searches the local evidence collection (passages an
operator ingested through ``POST /evidence`` or ``python -m factmem ingest-evidence``); web search providers
plug into the same protocol later, without changing the pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from factmem.agents.base import EvidencePassage, EvidenceProvider, NormalizedClaim
from factmem.store.base import ClaimStore

logger = logging.getLogger(__name__)


class LocalEvidenceProvider:
    """Nearest passages of the local evidence collection, reusing the claim's vector."""

    name = "local"

    def __init__(self, store: ClaimStore, min_similarity: float) -> None:
        self._store = store
        self._min_similarity = min_similarity

    def search(self, claim: NormalizedClaim, vector: np.ndarray, limit: int) -> list[EvidencePassage]:
        points = self._store.search(vector, limit, score_threshold=self._min_similarity)
        return [
            EvidencePassage(
                id=p.id,
                text=str(p.payload.get("text", "")),
                source=str(p.payload.get("source", "")),
                source_url=p.payload.get("source_url"),
                source_reliability=float(p.payload.get("source_reliability", 0.5)),
                similarity=float(p.score or 0.0),
                provider=self.name,
            )
            for p in points
        ]


class EvidenceCollector:
    name = "evidence"

    def __init__(self, providers: Sequence[EvidenceProvider], limit: int = 5) -> None:
        self._providers = tuple(providers)
        self._limit = limit

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self._providers)

    def collect(self, claim: NormalizedClaim, vector: np.ndarray) -> list[EvidencePassage]:
        """Passages from every provider, best first, at most ``limit`` in all."""
        passages: list[EvidencePassage] = []
        for provider in self._providers:
            passages.extend(provider.search(claim, vector, self._limit))
        passages.sort(key=lambda p: p.similarity * p.source_reliability, reverse=True)
        return passages[: self._limit]

"""The same memory answers the same way on both backends: the embedded Qdrant Edge shard and a Qdrant server.

No Qdrant server binary can be had on the offline test machine, so the server side is qdrant-client, the
library the service uses for ``QDRANT_URL``, in its local mode (the same client API and request models a
server receives; the search itself runs in Python instead of the server's engine). Both memories hold the
seed claims with vectors made by the one model, as a moved memory does; then one sequence of claims
(repeats, paraphrases, negations, unrelated ones) runs through both pipelines and every answer must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factmem.embeddings import MINILM_INT8, Embedder
from factmem.ingest import seed_if_empty
from factmem.pipeline import Verification, VerificationPipeline
from factmem.settings import Settings
from factmem.store.edge import EdgeClaimStore
from factmem.store.remote import QdrantServerClaimStore

CLAIMS = [
    "The Great Wall of China is visible from space with the naked eye.",
    "did u know the great wall of china is visible from SPACE!!!",
    "The Great Wall of China is not visible from space with the naked eye.",
    "Vaccines cause autism.",
    "Vaccines do not cause autism.",
    "Lightning never strikes the same place twice.",
    "Einstein failed math in school.",
    "Goldfish have a three-second memory.",
    "The Eiffel Tower is located in Berlin.",
    "Bananas are berries.",
    "My neighbour's cat prefers blue cushions on Tuesdays.",
    "Vaccines cause autism.",
    "did u know the great wall of china is visible from SPACE!!!",
    "Humans use only ten percent of their brains.",
    "Bulls are enraged by the colour red.",
    "Humans use only ten percent of their brains.",
]


def _answer(verification: Verification) -> tuple[object, ...]:
    result = verification.result
    top = verification.retrieval.matches[0] if verification.retrieval.matches else None
    return (
        verification.claim.normalized_text,
        result.verdict,
        round(result.confidence, 3),
        verification.cache_hit,
        verification.write.id,
        verification.write.seen_count,
        top.id if top else None,
        top.relation if top else None,
    )


@pytest.fixture
def pipelines(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> Iterator[tuple[VerificationPipeline, VerificationPipeline]]:
    stores = [
        EdgeClaimStore(tmp_path / "edge" / "claims", name="claims", dim=MINILM_INT8.dim),
        EdgeClaimStore(tmp_path / "edge" / "evidence", name="evidence", dim=MINILM_INT8.dim),
        QdrantServerClaimStore(name="claims", dim=MINILM_INT8.dim, location=":memory:"),
        QdrantServerClaimStore(name="evidence", dim=MINILM_INT8.dim, location=":memory:"),
    ]
    edge = VerificationPipeline(settings, stores[0], stores[1], lambda: embedder)
    server = VerificationPipeline(settings, stores[2], stores[3], lambda: embedder)
    yield edge, server
    for store in stores:
        store.close()


def test_the_same_claims_get_the_same_answers_on_both_backends(
    pipelines: tuple[VerificationPipeline, VerificationPipeline],
) -> None:
    edge, server = pipelines
    assert seed_if_empty(edge) == seed_if_empty(server) > 200
    differences = []
    for claim in CLAIMS:
        on_edge, on_server = _answer(edge.verify(claim)), _answer(server.verify(claim))
        if on_edge != on_server:
            differences.append((claim, on_edge, on_server))
    assert not differences, differences
    assert edge.claim_store.count() == server.claim_store.count()
    # The sequence exercised what a moved memory must keep: cache hits, inversions and counted repeats.
    answers = [_answer(edge.verify(claim)) for claim in CLAIMS[:2]]
    assert answers[0][3] and answers[0][5] >= 3

"""The same memory answers the same way on both backends: the embedded Qdrant Edge shard and a Qdrant server.

No Qdrant server binary can be had on the offline test machine (no registry for its image, no package of
it), so the server side is qdrant-client, the library the service uses for ``QDRANT_URL``, in its local
mode: the same client API and request models a server receives; the search itself runs in Python instead
of the server's engine. The embedded memory is seeded, then moved with ``export``/``import`` (the
operator's path), and moved back again; one sequence of claims (repeats, paraphrases, negations, unrelated
ones) then runs through the pipelines and every answer must agree.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from factmem.backup import export_memory, import_memory
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
) -> Iterator[tuple[VerificationPipeline, VerificationPipeline, VerificationPipeline]]:
    """The embedded memory, a Qdrant-server memory, and an embedded one again (the way back)."""
    stores = [
        EdgeClaimStore(tmp_path / "edge" / "claims", name="claims", dim=MINILM_INT8.dim),
        EdgeClaimStore(tmp_path / "edge" / "evidence", name="evidence", dim=MINILM_INT8.dim),
        QdrantServerClaimStore(name="claims", dim=MINILM_INT8.dim, location=":memory:"),
        QdrantServerClaimStore(name="evidence", dim=MINILM_INT8.dim, location=":memory:"),
        EdgeClaimStore(tmp_path / "back" / "claims", name="claims", dim=MINILM_INT8.dim),
        EdgeClaimStore(tmp_path / "back" / "evidence", name="evidence", dim=MINILM_INT8.dim),
    ]
    yield tuple(  # type: ignore[misc]
        VerificationPipeline(settings, claims, evidence, lambda: embedder)
        for claims, evidence in zip(stores[::2], stores[1::2], strict=True)
    )
    for store in stores:
        store.close()


def move(source: VerificationPipeline, target: VerificationPipeline) -> int:
    exported = io.StringIO()
    counts = export_memory(source, exported).counts
    assert import_memory(target, exported.getvalue().splitlines()).counts == counts
    return counts["claims"]


def test_the_same_claims_get_the_same_answers_on_both_backends(
    pipelines: tuple[VerificationPipeline, VerificationPipeline, VerificationPipeline],
) -> None:
    edge, server, back = pipelines
    seeded = seed_if_empty(edge)
    edge.verify(CLAIMS[10])  # a claim the service stored itself, not only curated ones, moves too
    assert move(edge, server) == seeded + 1
    assert move(server, back) == seeded + 1
    differences = []
    for claim in CLAIMS:
        answers = [_answer(pipeline.verify(claim)) for pipeline in (edge, server, back)]
        if answers.count(answers[0]) != 3:
            differences.append((claim, *answers))
    assert not differences, differences
    assert edge.claim_store.count() == server.claim_store.count() == back.claim_store.count()
    # The sequence exercised what a moved memory must keep: cache hits, inversions and counted repeats.
    answers = [_answer(edge.verify(claim)) for claim in CLAIMS[:2]]
    assert answers[0][3] and answers[0][5] >= 3

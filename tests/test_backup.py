"""Export and import between the two backends: the memory moves from the embedded store to a Qdrant server
(qdrant-client's local mode here) with its payloads, and searches find the same claims."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from factmem.backup import export_memory, import_memory
from factmem.embeddings import MINILM_INT8, Embedder
from factmem.errors import InputError
from factmem.ingest import CuratedClaim, EvidencePassageIn, ingest_claims, ingest_evidence
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.edge import EdgeClaimStore
from factmem.store.remote import QdrantServerClaimStore

CLAIMS = [
    CuratedClaim(claim="The Eiffel Tower is in Paris.", verdict="True"),
    CuratedClaim(claim="The Great Wall of China is visible from space.", verdict="False"),
]


def test_a_memory_moves_from_the_embedded_store_to_a_server(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    edge = VerificationPipeline(
        settings,
        EdgeClaimStore(tmp_path / "c", name="c", dim=MINILM_INT8.dim),
        EdgeClaimStore(tmp_path / "e", name="e", dim=MINILM_INT8.dim, range_indexes=()),
        lambda: embedder,
    )
    server = VerificationPipeline(
        settings,
        QdrantServerClaimStore(name="c", dim=MINILM_INT8.dim, location=":memory:"),
        QdrantServerClaimStore(name="e", dim=MINILM_INT8.dim, location=":memory:"),
        lambda: embedder,
    )
    try:
        ingest_claims(edge, CLAIMS)
        ingest_evidence(edge, [EvidencePassageIn(text="The Eiffel Tower stands on the Champ de Mars.")])
        out = io.StringIO()
        exported = export_memory(edge, out)
        assert exported.counts == {"claims": 2, "evidence": 1} and exported.error is None
        imported = import_memory(server, io.StringIO(out.getvalue()))
        assert imported.counts == {"claims": 2, "evidence": 1}
        for source, target in (
            (edge.claim_store, server.claim_store),
            (edge.evidence_store, server.evidence_store),
        ):
            assert {p.id: p.payload for p in source.iter_points()} == {
                p.id: p.payload for p in target.iter_points()
            }
        hit = server.verify("the eiffel tower is in paris")
        assert hit.cache_hit and hit.result.verdict == "True"
    finally:
        for pipeline in (edge, server):
            pipeline.claim_store.close()
            pipeline.evidence_store.close()


@pytest.mark.parametrize(
    "line",
    ['{"collection": "claims", "id": "x"}', '{"collection": "other", "id": "x", "payload": {}}', "not json"],
)
def test_a_damaged_export_line_is_refused_with_its_number(pipeline: VerificationPipeline, line: str) -> None:
    with pytest.raises(InputError, match="line 1"):
        import_memory(pipeline, io.StringIO(line + "\n"))

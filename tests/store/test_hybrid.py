"""Hybrid search (dense + BM25, fused by rank) on both real backends, and a memory made before it existed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from factmem.embeddings import MINILM_INT8, Embedder
from factmem.store.base import ClaimStore, PointWrite
from factmem.store.edge import EdgeClaimStore
from factmem.store.ids import claim_point_id
from factmem.store.lexical import (
    MAX_INDEXED_WORDS,
    Fusion,
    document_vector,
    leading_words,
    lexical_text,
    query_vector,
)
from factmem.store.remote import QdrantServerClaimStore

CLAIMS = [
    ("Wombats are herding animals into their burrows to escape the wildfires.", "Hero wombats"),
    ("Australian wildlife is fleeing the bushfires.", None),
    ("Koalas are functionally extinct in New South Wales.", None),
    ("The Eiffel Tower is in Paris.", None),
    ("A wombat was elected mayor of a town in Queensland.", None),
]


def _points(embedder: Embedder) -> list[PointWrite]:
    return [
        PointWrite(
            id=claim_point_id(text),
            vector=embedder.embed_one(text),
            payload={"claim_text": text, "title": title, "seen_count": 1, "first_seen_ts": time.time()},
        )
        for text, title in CLAIMS
    ]


def _stores(tmp_path: Path) -> list[ClaimStore]:
    return [
        EdgeClaimStore(tmp_path / "edge", name="claims", dim=MINILM_INT8.dim, lexical=True),
        QdrantServerClaimStore(name="claims", dim=MINILM_INT8.dim, location=":memory:", lexical=True),
    ]


def test_both_backends_fuse_the_same_candidates_with_the_same_scores(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Sparse vectors are computed by one module for both backends, so a query ranks and scores alike."""
    query = "Australian wombats are sheltering other animals from the fires"
    vector = embedder.embed_one(query)
    results = []
    for store in _stores(tmp_path):
        assert store.hybrid
        store.upsert(_points(embedder))
        results.append(store.hybrid_search(vector, query, Fusion(candidates=5)))
        store.close()
    edge, server = ({p.id: p for p in points} for points in results)
    assert set(edge) == set(server)
    assert results[0][0].payload["claim_text"].startswith("Wombats")
    for point_id, a in edge.items():  # by point: engines may order exact ties differently
        b = server[point_id]
        assert a.score == pytest.approx(b.score, abs=2e-3)  # cosine; Edge stores float16
        assert a.lexical_score == pytest.approx(b.lexical_score, rel=1e-4)
        assert a.fused_score == pytest.approx(b.fused_score, rel=1e-6)


def test_a_rare_word_finds_a_claim_the_dense_vector_ranks_low(tmp_path: Path, embedder: Embedder) -> None:
    store = _stores(tmp_path)[0]
    store.upsert(_points(embedder))
    query = "mayor wombat Queensland"
    fused = store.hybrid_search(embedder.embed_one(query), query, Fusion(candidates=5))
    assert fused[0].payload["claim_text"].startswith("A wombat was elected mayor")
    assert fused[0].lexical_score and fused[0].lexical_score > 0
    store.close()


def test_a_title_is_searched_by_its_words() -> None:
    payload = {"claim_text": "Animals shelter in burrows.", "title": "Hero wombats"}
    assert lexical_text(payload) == "Animals shelter in burrows. Hero wombats"
    assert set(query_vector("wombats").indices) <= set(document_vector(lexical_text(payload)).indices)


def test_a_stored_text_is_indexed_by_its_first_words_only() -> None:
    """A pasted paragraph costs the in-RAM index no more than a claim of ``MAX_INDEXED_WORDS`` words."""
    short = "Koalas are functionally extinct in New South Wales."
    assert leading_words(short) == short
    paragraph = " ".join(["koalas"] * MAX_INDEXED_WORDS) + " wombats"
    assert leading_words(paragraph) == " ".join(["koalas"] * MAX_INDEXED_WORDS)
    assert document_vector(paragraph) == document_vector(leading_words(paragraph))
    assert not set(query_vector("wombats").indices) & set(document_vector(paragraph).indices)
    assert set(query_vector("koalas").indices) <= set(document_vector(paragraph).indices)


def test_a_long_claim_resubmitted_is_found_first(tmp_path: Path, embedder: Embedder) -> None:
    """Cut to its first words in the index, a paragraph is still what its own text finds on both backends."""
    sentences = [text for text, _ in CLAIMS] * 8  # well over MAX_INDEXED_WORDS words
    paragraph = "Platypus venom was studied in Tasmania in 1998. " + " ".join(sentences)
    assert len(paragraph.split()) > 2 * MAX_INDEXED_WORDS
    vector = embedder.embed_one(paragraph)
    for store in _stores(tmp_path):
        long_claim = PointWrite(
            id=claim_point_id(paragraph), vector=vector, payload={"claim_text": paragraph, "seen_count": 1}
        )
        store.upsert([*_points(embedder), long_claim])
        found = store.hybrid_search(vector, paragraph, Fusion(candidates=3))
        assert found[0].id == long_claim.id
        assert found[0].lexical_score and found[0].lexical_score > 0
        store.close()


def test_a_memory_made_without_sparse_vectors_is_searched_by_meaning(
    tmp_path: Path, embedder: Embedder
) -> None:
    """An existing user's shard opens, answers by dense search and stays writable; nothing crashes."""
    path = tmp_path / "old"
    old = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim, lexical=False)
    old.upsert(_points(embedder)[:2])
    old.close()
    store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim, lexical=True)
    assert not store.hybrid
    store.upsert(_points(embedder)[2:])
    hits = store.hybrid_search(embedder.embed_one("koalas"), "koalas", Fusion(candidates=3))
    assert hits[0].payload["claim_text"].startswith("Koalas")
    assert hits[0].lexical_score is None
    store.close()


def test_reindex_gives_an_old_shard_sparse_vectors_and_keeps_every_point(
    tmp_path: Path, embedder: Embedder
) -> None:
    from factmem.store.reindex import reindex_edge_shard

    path = tmp_path / "claims"
    old = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim, lexical=False)
    old.upsert(_points(embedder))
    old.close()
    copied, backup = reindex_edge_shard(path, name="claims", dim=MINILM_INT8.dim)
    assert copied == len(CLAIMS) and backup is not None and backup.is_dir()
    store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim)
    assert store.hybrid and store.count() == len(CLAIMS)
    query = "mayor wombat Queensland"
    [top] = store.hybrid_search(embedder.embed_one(query), query, Fusion(candidates=1))
    assert top.payload["claim_text"].startswith("A wombat was elected mayor") and top.lexical_score
    store.close()
    assert reindex_edge_shard(path, name="claims", dim=MINILM_INT8.dim) == (len(CLAIMS), None)


def test_reindex_recompute_makes_a_hybrid_shards_sparse_vectors_again(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory stored before the bounded index (every word indexed) gets it; nothing else changes."""
    from factmem.store import lexical
    from factmem.store.reindex import reindex_edge_shard

    paragraph = " ".join(["Koalas are functionally extinct in New South Wales."] * 20) + " Platypus"
    path = tmp_path / "claims"
    with monkeypatch.context() as old_way:
        old_way.setattr(lexical, "leading_words", lambda text, limit=0: text)
        store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim, lexical=True)
        long_claim = PointWrite(
            claim_point_id(paragraph), embedder.embed_one(paragraph), {"claim_text": paragraph}
        )
        store.upsert([*_points(embedder), long_claim])
        store.close()

    def lexical_score_of_platypus() -> float | None:
        store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim)
        found = store.hybrid_search(embedder.embed_one("Platypus"), "Platypus", Fusion(candidates=10))
        store.close()
        return next(p.lexical_score for p in found if p.id == long_claim.id)

    assert lexical_score_of_platypus()  # its last word was indexed too
    assert reindex_edge_shard(path, name="claims", dim=MINILM_INT8.dim) == (len(CLAIMS) + 1, None)
    copied, backup = reindex_edge_shard(path, name="claims", dim=MINILM_INT8.dim, recompute=True)
    assert copied == len(CLAIMS) + 1 and backup is not None and backup.name.startswith("claims.hybrid-")
    assert not lexical_score_of_platypus()  # word 181, past MAX_INDEXED_WORDS: found by meaning only
    store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim)
    query = "mayor wombat Queensland"
    [top] = store.hybrid_search(embedder.embed_one(query), query, Fusion(candidates=1))
    assert top.payload["claim_text"].startswith("A wombat was elected mayor") and top.lexical_score
    assert store.count() == len(CLAIMS) + 1
    store.close()

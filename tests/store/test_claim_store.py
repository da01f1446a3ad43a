"""The ClaimStore contract, run against both real backends (Qdrant Edge on disk, qdrant-client local mode)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from factmem.embeddings import MINILM_INT8, Embedder
from factmem.errors import StoreError
from factmem.store.base import ClaimStore, PointWrite
from factmem.store.edge import EdgeClaimStore, EdgeIndexConfig
from factmem.store.ids import claim_point_id, is_point_id
from factmem.store.remote import QdrantServerClaimStore

StoreFactory = Callable[[str], ClaimStore]


def _point(embedder: Embedder, text: str, **payload: object) -> PointWrite:
    body = {"claim_text": text, "verdict": "True", "seen_count": 1, "first_seen_ts": time.time()}
    body.update(payload)
    return PointWrite(id=claim_point_id(text.lower()), vector=embedder.embed_one(text), payload=body)


def test_upsert_search_retrieve_round_trip(store_factory: StoreFactory, embedder: Embedder) -> None:
    store = store_factory("claims")
    texts = ["The Earth orbits the Sun.", "Bananas are berries.", "The Great Wall is visible from space."]
    store.upsert([_point(embedder, t) for t in texts])

    hits = store.search(embedder.embed_one("Our planet goes around the Sun."), 3)

    assert hits[0].payload["claim_text"] == "The Earth orbits the Sun."
    assert hits[0].score is not None and hits[0].score > hits[1].score  # type: ignore[operator]
    assert store.count() == 3
    got = store.retrieve([claim_point_id("bananas are berries.")])
    assert len(got) == 1 and got[0].payload["claim_text"] == "Bananas are berries."


def test_exact_vector_scores_one(store_factory: StoreFactory, embedder: Embedder) -> None:
    """Thresholds (0.85 cache hit, 0.90 dedup) need exact cosines, also where vectors are quantized."""
    store = store_factory("claims")
    point = _point(embedder, "Water boils at 100 degrees Celsius at sea level.")
    store.upsert([point])
    [hit] = store.search(point.vector, 1)
    assert hit.score == pytest.approx(1.0, abs=1e-3)


def test_same_id_replaces_instead_of_duplicating(store_factory: StoreFactory, embedder: Embedder) -> None:
    store = store_factory("claims")
    store.upsert([_point(embedder, "Bats are blind.", verdict="True")])
    store.upsert([_point(embedder, "Bats are blind.", verdict="False")])
    assert store.count() == 1
    [record] = store.retrieve([claim_point_id("bats are blind.")])
    assert record.payload["verdict"] == "False"


def test_set_payload_merges_fields(store_factory: StoreFactory, embedder: Embedder) -> None:
    store = store_factory("claims")
    point = _point(embedder, "Goldfish have a three-second memory.", verdict="False")
    store.upsert([point])
    store.set_payload(point.id, {"seen_count": 7})
    [record] = store.retrieve([point.id])
    assert record.payload["seen_count"] == 7
    assert record.payload["verdict"] == "False"


def test_verdict_filter_and_score_threshold(store_factory: StoreFactory, embedder: Embedder) -> None:
    store = store_factory("claims")
    store.upsert(
        [
            _point(embedder, "Vaccines cause autism.", verdict="False"),
            _point(embedder, "Vaccines prevent measles.", verdict="True"),
        ]
    )
    query = embedder.embed_one("Vaccines cause autism.")
    only_true = store.search(query, 5, verdict="True")
    assert [h.payload["verdict"] for h in only_true] == ["True"]
    assert store.search(query, 5, score_threshold=0.99)[0].payload["claim_text"] == "Vaccines cause autism."
    assert len(store.search(query, 5, score_threshold=0.99)) == 1


def test_top_by_seen_count_and_recent_count(store_factory: StoreFactory, embedder: Embedder) -> None:
    store = store_factory("claims")
    old = time.time() - 3 * 86_400
    store.upsert(
        [
            _point(embedder, "Lightning never strikes twice.", seen_count=2, first_seen_ts=old),
            _point(embedder, "Sharks are mammals.", seen_count=9),
            _point(embedder, "Humans have five senses.", seen_count=5),
        ]
    )
    top = store.top_by_seen_count(2)
    assert [p.payload["seen_count"] for p in top] == [9, 5]
    assert store.count(first_seen_since=time.time() - 86_400) == 2


def test_wrong_vector_size_is_a_store_error(store_factory: StoreFactory) -> None:
    store = store_factory("claims")
    with pytest.raises(StoreError):
        store.upsert([PointWrite(id=claim_point_id("x"), vector=np.zeros(3, dtype=np.float32), payload={})])


def test_delete_removes_points_and_ignores_unknown_ids(
    store_factory: StoreFactory, embedder: Embedder
) -> None:
    store = store_factory("claims")
    point = _point(embedder, "Chameleons change colour to match their surroundings.")
    store.upsert([point, _point(embedder, "Ostriches bury their heads in sand.")])
    store.delete([point.id, claim_point_id("never stored")])
    assert store.count() == 1
    assert store.retrieve([point.id]) == []


def test_missing_ids_are_absent(store_factory: StoreFactory) -> None:
    assert store_factory("claims").retrieve([claim_point_id("never stored")]) == []


def test_edge_shard_persists_across_reopen(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "shard"
    store = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim)
    store.upsert([_point(embedder, "The Moon landing happened in 1969.")])
    store.close()

    reopened = EdgeClaimStore(path, name="claims", dim=MINILM_INT8.dim)
    try:
        assert reopened.count() == 1
        [hit] = reopened.search(embedder.embed_one("Moon landing 1969"), 1)
        assert hit.payload["claim_text"] == "The Moon landing happened in 1969."
    finally:
        reopened.close()


@pytest.mark.parametrize("wal", [False, True])
def test_edge_shard_is_owned_by_one_opener(tmp_path: Path, wal: bool) -> None:
    """A second open of the same shard fails loudly, as a StoreError, with or without a WAL (whose lock
    alone would not cover a shard created without one); once closed, it opens again."""
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, wal=wal)
    try:
        with pytest.raises(StoreError, match="open in another store or process"):
            EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim)
    finally:
        store.close()
    EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim).close()


def _points_on_disk(shard: Path, copy_to: Path) -> int:
    """Points a restart would find: a copy of the shard's files, opened as another shard."""
    shutil.rmtree(copy_to, ignore_errors=True)
    shutil.copytree(shard, copy_to)
    copy = EdgeClaimStore(copy_to, name="copy", dim=MINILM_INT8.dim, flush_interval_s=None)
    try:
        return copy.count()
    finally:
        copy.close()


def test_edge_writes_without_wal_reach_disk_within_the_flush_interval(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, flush_interval_s=0.2)
    try:
        assert not (tmp_path / "shard" / "wal").exists()
        store.upsert([_point(embedder, "Honey never spoils.")])
        deadline = time.monotonic() + 10
        while _points_on_disk(tmp_path / "shard", tmp_path / "copy") != 1:
            assert time.monotonic() < deadline, "the background flush never wrote the point"
            time.sleep(0.1)
    finally:
        store.close()


def test_edge_writes_without_wal_wait_for_a_flush(tmp_path: Path, embedder: Embedder) -> None:
    """What the background flush is for: without it (or a WAL), a write is on disk only after flush()."""
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, flush_interval_s=None)
    try:
        store.upsert([_point(embedder, "Honey never spoils.")])
        time.sleep(0.5)
        assert _points_on_disk(tmp_path / "shard", tmp_path / "copy") == 0
        store.flush()
        assert _points_on_disk(tmp_path / "shard", tmp_path / "copy") == 1
    finally:
        store.close()


def test_edge_shard_with_wal_keeps_writes_without_a_flush(tmp_path: Path, embedder: Embedder) -> None:
    store = EdgeClaimStore(
        tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, wal=True, flush_interval_s=None
    )
    try:
        store.upsert([_point(embedder, "Honey never spoils.")])
        assert _points_on_disk(tmp_path / "shard", tmp_path / "copy") == 1
    finally:
        store.close()


def test_edge_build_index_indexes_points(tmp_path: Path, embedder: Embedder) -> None:
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim)
    try:
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(300, MINILM_INT8.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert(
            [PointWrite(id=claim_point_id(str(i)), vector=v, payload={"n": i}) for i, v in enumerate(vectors)]
        )
        store.build_index()
        [hit] = store.search(vectors[42], 1)
        assert hit.payload["n"] == 42
    finally:
        store.close()


def _random_points(n: int, seed: int = 0) -> tuple[np.ndarray, list[PointWrite]]:
    vectors = np.random.default_rng(seed).normal(size=(n, MINILM_INT8.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, [
        PointWrite(
            id=claim_point_id(str(i)), vector=v, payload={"n": i, "claim_text": f"Claim {i} on wombats."}
        )
        for i, v in enumerate(vectors)
    ]


@pytest.mark.parametrize("lexical", [False, True], ids=["dense", "hybrid"])
def test_edge_index_built_in_a_child_process(tmp_path: Path, lexical: bool) -> None:
    """The server's way to index: the child does the work, this process gets the shard back, indexed.

    In a hybrid shard the BM25 vectors are indexed on write; only the dense backlog counts as unindexed.
    """
    small = EdgeIndexConfig(indexing_threshold_points=10)  # so 300 points are worth an index
    store = EdgeClaimStore(
        tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, index=small, lexical=lexical
    )
    try:
        vectors, points = _random_points(300)
        store.upsert(points)
        assert store.unindexed_points() == 300

        assert store.build_index_out_of_process() is True

        assert store.unindexed_points() == 0
        [hit] = store.search(vectors[42], 1)
        assert hit.payload["n"] == 42
        store.upsert(_random_points(1, seed=1)[1][:1])  # still writable
        with pytest.raises(StoreError, match="open in another store or process"):
            EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim)  # still owned
    finally:
        store.close()


def test_edge_failed_child_index_build_leaves_the_shard_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim)
    try:
        store.upsert(_random_points(20)[1])
        monkeypatch.setattr("sys.executable", "/bin/false")  # the child fails at once
        with pytest.raises(StoreError, match=r"indexing .* failed"):
            store.build_index_out_of_process()
        assert store.count() == 20
    finally:
        store.close()


def test_a_qdrant_server_leaves_indexing_to_the_server() -> None:
    """The server's startup asks every store the same; a Qdrant server never has anything for it to build."""
    store = QdrantServerClaimStore(name="claims", dim=MINILM_INT8.dim, location=":memory:")
    try:
        store.upsert(_random_points(30)[1])
        assert store.unindexed_points() == 0
        assert store.build_index_out_of_process() is False
        assert store.build_index() is False
    finally:
        store.close()


def test_point_ids_are_stable_uuids() -> None:
    assert claim_point_id("bats are blind") == claim_point_id("bats are blind")
    assert claim_point_id("bats are blind") != claim_point_id("bats are not blind")
    assert is_point_id(claim_point_id("x"))
    assert not is_point_id("../etc/passwd")


def test_edge_scores_are_exact_cosines_despite_float16_storage(tmp_path: Path) -> None:
    """Vectors are stored as float16 and searched with rescoring: scores must still be the cosine the
    thresholds (0.85 cache, 0.90 dedup) are written for, to well within their resolution."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, MINILM_INT8.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = EdgeClaimStore(tmp_path / "shard", name="claims", dim=MINILM_INT8.dim, flush_interval_s=None)
    try:
        store.upsert(
            [
                PointWrite(id=claim_point_id(f"claim {i}"), vector=v, payload={"i": i})
                for i, v in enumerate(vectors)
            ]
        )
        for query in rng.normal(size=(20, MINILM_INT8.dim)).astype(np.float32):
            query /= np.linalg.norm(query)
            for hit in store.search(query, 5):
                exact = float(vectors[hit.payload["i"]] @ query)
                assert hit.score == pytest.approx(exact, abs=1e-3)
    finally:
        store.close()

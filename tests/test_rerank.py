"""factmem.rerank: the shipped model, its features, and the order it gives real hybrid candidates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from factmem.embeddings import MINILM_INT8, Embedder
from factmem.rerank import FEATURES, MODEL_FILE, RerankModel, candidate_features
from factmem.store.base import PointWrite
from factmem.store.edge import EdgeClaimStore
from factmem.store.ids import claim_point_id


def test_the_shipped_model_matches_the_features_this_code_computes() -> None:
    model = RerankModel.load()
    assert model.weights.shape == model.mean.shape == model.scale.shape == (len(FEATURES),)
    assert model.fusion.candidates >= 10
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert "train split" in data["trained_on"]


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="features"):
        RerankModel.load(path)


def test_the_fact_check_a_tweet_repeats_comes_first(tmp_path: Path, embedder: Embedder) -> None:
    model = RerankModel.load()
    store = EdgeClaimStore(tmp_path / "claims", name="claims", dim=MINILM_INT8.dim, lexical=True)
    claims = [
        ("Koalas are functionally extinct after the Australian bushfires.", "Are Koalas Extinct?"),
        ("A wombat was elected mayor of a town in Queensland.", "Wombat Mayor"),
        ("Wombats are herding other animals into their burrows to escape the fires.", "Hero Wombats"),
        ("Australia is banning all kangaroo meat exports.", "Kangaroo Meat Ban"),
    ]
    store.upsert(
        [
            PointWrite(
                claim_point_id(c), embedder.embed_one(c), {"claim_text": c, "title": t, "seen_count": 1}
            )
            for c, t in claims
        ]
    )
    tweet = "Wombats are sheltering other animals from the Australian fires in their burrows. Heroes!"
    candidates = store.hybrid_search(embedder.embed_one(tweet), tweet, model.fusion)
    features = candidate_features(tweet, candidates)
    assert features.shape == (len(candidates), len(FEATURES))
    assert np.isfinite(features).all()
    ranked = model.rerank(tweet, candidates)
    assert ranked[0].payload["title"] == "Hero Wombats"
    store.close()

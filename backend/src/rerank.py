"""Re-ranking of the memory's candidates: which stored fact-check is this claim a repeat of?

Hybrid retrieval (``factmem.store.lexical``) returns a few dozen candidates with their cosine similarity and
BM25 score; this module orders them with a small learned model over features a fact-checker would look at:
how close the meaning is (cosine, its gap to the best), how much rare wording they share (BM25, its share of
the best, the rank in each list), how much of the claim the candidate covers and the reverse, whether the
fact-check's title matches, whether names, numbers and dates agree, and their lengths.

The model is a logistic regression trained by ``scripts/train_reranker.py`` on the CheckThat! 2022 2A train
split only, chosen on the dev split, and shipped as ``factmem/data/reranker.json`` (a few hundred bytes).
Inference is one matrix-vector product in numpy: tens of microseconds for 30 candidates, plus the features,
which reuse the polarity signatures the retriever computes anyway (cached per text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factmem.polarity import CONTENT, NAME, NUMBER, ClaimSignature, claim_signature
from factmem.store.base import StoredPoint
from factmem.store.lexical import Fusion

MODEL_FILE = Path(__file__).parent / "data" / "reranker.json"

FEATURES = (
    "cosine",
    "cosine_gap",
    "lexical_log",
    "lexical_share",
    "dense_rank",
    "lexical_rank",
    "fused_rank",
    "query_covered",
    "candidate_covered",
    "title_covered",
    "names_shared",
    "names_missing",
    "numbers_shared",
    "numbers_conflict",
    "length_ratio",
)


def _content(signature: ClaimSignature) -> frozenset[str]:
    return frozenset(u.key for u in signature.units if u.cls in (CONTENT, NAME))


def _names(signature: ClaimSignature) -> frozenset[str]:
    return frozenset(u.key for u in signature.units if u.cls == NAME)


def _numbers(signature: ClaimSignature) -> frozenset[str]:
    return frozenset(u.key for u in signature.units if u.cls == NUMBER)


def _ranks(values: Sequence[float]) -> list[float]:
    """1 / (1 + rank) by descending value; 0 for a value of 0 (not retrieved by that method)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    for rank, index in enumerate(order):
        ranks[index] = 1.0 / (1.0 + rank) if values[index] > 0 else 0.0
    return ranks


def candidate_features(query_text: str, points: Sequence[StoredPoint]) -> np.ndarray:
    """One row of ``FEATURES`` per candidate."""
    query = claim_signature(query_text)
    query_content, query_names, query_numbers = _content(query), _names(query), _numbers(query)
    cosines = [float(p.score or 0.0) for p in points]
    lexical = [float(p.lexical_score or 0.0) for p in points]
    fused = [float(p.fused_score or 0.0) for p in points]
    best_cosine, best_lexical = max(cosines, default=0.0), max(lexical, default=0.0)
    dense_rank, lexical_rank, fused_rank = _ranks(cosines), _ranks(lexical), _ranks(fused)
    rows = []
    for i, point in enumerate(points):
        candidate = claim_signature(str(point.payload.get("claim_text", "")))
        title_text = point.payload.get("title")
        title = claim_signature(str(title_text)) if title_text else None
        words = _content(candidate) | (_content(title) if title else frozenset())  # claim and title
        names = _names(candidate) | (_names(title) if title else frozenset())
        numbers = _numbers(candidate) | (_numbers(title) if title else frozenset())
        candidate_content = _content(candidate)
        title_content = _content(title) if title else frozenset()
        rows.append(
            (
                cosines[i],
                cosines[i] - best_cosine,
                math.log1p(lexical[i]),
                lexical[i] / best_lexical if best_lexical > 0 else 0.0,
                dense_rank[i],
                lexical_rank[i],
                fused_rank[i],
                len(query_content & words) / len(query_content) if query_content else 0.0,
                len(candidate_content & query_content) / len(candidate_content) if candidate_content else 0.0,
                len(title_content & query_content) / len(title_content) if title_content else 0.0,
                float(len(query_names & names)),
                float(len(query_names - words)),
                float(bool(query_numbers & numbers)),
                float(bool(query_numbers) and bool(numbers) and not query_numbers & numbers),
                math.log((1 + len(candidate.units)) / (1 + len(query.units))),
            )
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(points), len(FEATURES))


@dataclass(frozen=True)
class RerankModel:
    """A logistic regression over standardized ``FEATURES``, and the fusion it was trained behind."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    fusion: Fusion

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RerankModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: trained on features {data['features']}, this code computes {FEATURES}")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            fusion=Fusion(**data["fusion"]),
        )

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds that each candidate is the fact-check the query repeats."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def rerank(self, query_text: str, points: Sequence[StoredPoint]) -> list[StoredPoint]:
        """The candidates, most likely first."""
        if len(points) < 2:
            return list(points)
        scores = self.scores(candidate_features(query_text, points))
        order = np.argsort(-scores, kind="stable")
        return [points[i] for i in order]

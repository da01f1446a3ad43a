"""Re-ranking of the memory's candidates: which stored fact-check is this claim a repeat of?

Hybrid retrieval (``factmem.store.lexical``) returns a few dozen candidates with their cosine similarity and
BM25 score; this module orders them with a small learned model over features a fact-checker would look at:
how close the meaning is (cosine, its gap to the best), how much rare wording they share (BM25, its share of
the best, the rank in each list), how much of the claim the candidate covers and the reverse, whether the
fact-check's title matches, whether names, numbers and dates agree, and their lengths.

The model is a logistic regression trained by ``scripts/train_reranker.py`` on the CheckThat! 2022 2A train
split only, chosen on the dev split, and shipped as ``factmem/data/reranker.json`` (a few hundred bytes).
Inference is one matrix-vector product in numpy, plus the features: a regex and a stem per word of each
candidate's claim and title (cached per text; ~15 µs for one not seen before).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from factmem.polarity import NON_CONTENT_WORDS, stem
from factmem.store.base import StoredPoint
from factmem.store.lexical import Fusion
from factmem.text import fold

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


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


class _Words(NamedTuple):
    """What the features compare: content stems, names, numbers, and how many words."""

    content: frozenset[str]
    names: frozenset[str]
    numbers: frozenset[str]
    length: int


@lru_cache(maxsize=2048)
def _read_words(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]:
    """A light reading of a text (a regex and a stem per word), cached for stored claims and titles.

    Kept as tuples: a cached reading lives as long as the process, and a small tuple costs a fraction of
    a frozenset; the sets are made per use.
    """
    content: dict[str, None] = {}
    names: dict[str, None] = {}
    numbers: dict[str, None] = {}
    tokens = _WORD.findall(text)
    for index, token in enumerate(tokens):
        if token.isdigit():
            numbers[token.lstrip("0") or "0"] = None
            continue
        folded = fold(token)
        if folded in NON_CONTENT_WORDS:
            continue
        key = stem(folded)
        content[key] = None
        if index and token[:1].isupper():
            names[key] = None
    return tuple(content), tuple(names), tuple(numbers), len(tokens)


def _words(text: str) -> _Words:
    content, names, numbers, length = _read_words(text)
    return _Words(frozenset(content), frozenset(names), frozenset(numbers), length)


_EMPTY = _Words(frozenset(), frozenset(), frozenset(), 0)


def _ranks(values: Sequence[float]) -> list[float]:
    """1 / (1 + rank) by descending value; 0 for a value of 0 (not retrieved by that method)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    for rank, index in enumerate(order):
        ranks[index] = 1.0 / (1.0 + rank) if values[index] > 0 else 0.0
    return ranks


def candidate_features(query_text: str, points: Sequence[StoredPoint]) -> np.ndarray:
    """One row of ``FEATURES`` per candidate."""
    query = _words(query_text)
    cosines = [float(p.score or 0.0) for p in points]
    lexical = [float(p.lexical_score or 0.0) for p in points]
    fused = [float(p.fused_score or 0.0) for p in points]
    best_cosine, best_lexical = max(cosines, default=0.0), max(lexical, default=0.0)
    dense_rank, lexical_rank, fused_rank = _ranks(cosines), _ranks(lexical), _ranks(fused)
    rows = []
    for i, point in enumerate(points):
        claim = _words(str(point.payload.get("claim_text", "")))
        title_text = point.payload.get("title")
        title = _words(str(title_text)) if title_text else _EMPTY
        words = claim.content | title.content
        names = claim.names | title.names
        numbers = claim.numbers | title.numbers
        rows.append(
            (
                cosines[i],
                cosines[i] - best_cosine,
                math.log1p(lexical[i]),
                lexical[i] / best_lexical if best_lexical > 0 else 0.0,
                dense_rank[i],
                lexical_rank[i],
                fused_rank[i],
                len(query.content & words) / len(query.content) if query.content else 0.0,
                len(claim.content & query.content) / len(claim.content) if claim.content else 0.0,
                len(title.content & query.content) / len(title.content) if title.content else 0.0,
                float(len(query.names & names)),
                float(len(query.names - words)),
                float(bool(query.numbers & numbers)),
                float(bool(query.numbers) and bool(numbers) and not query.numbers & numbers),
                math.log((1 + claim.length) / (1 + query.length)),
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

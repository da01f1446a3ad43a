"""The lexical half of hybrid retrieval: BM25 sparse vectors, made the same way for both store backends.

A dense vector finds paraphrases; a sparse BM25 vector finds the rare words a paraphrase keeps (a name, a
number, "wombats"), which is what matching a tweet to its fact-check most often needs. Qdrant Edge ships the
BM25 model in-process (``qdrant_edge.Bm25``: tokenizer, English stop words and Snowball stemmer, mirroring the
Qdrant server's BM25), so both backends take their sparse vectors from this one module and store them under
one name with the IDF modifier: the engine (embedded or server) weighs terms by their rarity in the memory,
and the same query gives the same scores on both.

What a claim is indexed by: its text and, for a curated fact-check, its title (a fact-check's headline often
names what the claim only describes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import qdrant_edge as qe

#: The name of the sparse vector in both backends.
SPARSE_VECTOR = "bm25"
#: BM25's expected document length in tokens. Claims (with a title) are ~20 tokens after stop words, not
#: the 256 of a web page that Qdrant defaults to; it sets how much a long claim's term weights are damped.
#: Stored weights depend on it: changing it needs ``python -m factmem reindex --recompute``.
AVERAGE_CLAIM_TOKENS = 20.0
#: Payload fields a claim is indexed by.
LEXICAL_FIELDS = ("claim_text", "title")
#: A stored text is indexed by its first this many words. Every posting stays in RAM while the memory
#: grows, so a pasted paragraph would cost the index many times what a claim does; a claim with its title
#: fits whole (the README's "bounded index per claim" gives the numbers). Vectors stored before a change
#: keep their terms until ``python -m factmem reindex --recompute``.
MAX_INDEXED_WORDS = 128


@dataclass(frozen=True)
class SparseVector:
    """Term ids (hashes of stemmed tokens) and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


@lru_cache(maxsize=1)
def _model() -> qe.Bm25:
    # Imported on first use: a Qdrant-server deployment loads this wheel only for its BM25 model (+4.7 MB
    # RSS, +1.0 MB anonymous, measured), and not at all with HYBRID_RETRIEVAL=false.
    import qdrant_edge as qe

    return qe.Bm25(qe.Bm25Config(avg_len=AVERAGE_CLAIM_TOKENS, language="english"))


def leading_words(text: str, limit: int = MAX_INDEXED_WORDS) -> str:
    """``text`` cut after its first ``limit`` whitespace-separated words (unchanged when it is shorter)."""
    words = text.split(maxsplit=limit)
    return text if len(words) <= limit else " ".join(words[:limit])


def document_vector(text: str) -> SparseVector:
    """Term-frequency weights of a stored text's first ``MAX_INDEXED_WORDS`` words (the engine applies IDF
    at search time)."""
    vector = _model().embed_document(leading_words(text))
    return SparseVector(tuple(vector.indices), tuple(vector.values))


def query_vector(text: str) -> SparseVector:
    """Each distinct query term with weight 1."""
    vector = _model().embed_query(text)
    return SparseVector(tuple(vector.indices), tuple(vector.values))


def lexical_text(payload: Mapping[str, Any]) -> str:
    """The text a stored claim is indexed by."""
    return " ".join(str(payload[f]) for f in LEXICAL_FIELDS if payload.get(f))


@dataclass(frozen=True)
class Fusion:
    """How the dense and lexical rankings are fused (reciprocal rank fusion), and how many candidates."""

    candidates: int = 30
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0


def fuse(dense_ids: Sequence[str], lexical_ids: Sequence[str], fusion: Fusion) -> dict[str, float]:
    """Reciprocal rank fusion of two rankings (best first), as the Qdrant engines compute it: each side adds
    ``weight / (rrf_k + rank)`` with ranks from 0. The ``fusion.candidates`` best ids with their scores,
    best first; ties keep the dense ranking's order, then the lexical one's."""
    scores: dict[str, float] = {}
    for ranking, weight in ((dense_ids, fusion.dense_weight), (lexical_ids, fusion.lexical_weight)):
        for rank, point_id in enumerate(ranking):
            scores[point_id] = scores.get(point_id, 0.0) + weight / (fusion.rrf_k + rank)
    best = sorted(scores.items(), key=lambda item: item[1], reverse=True)[: fusion.candidates]
    return dict(best)

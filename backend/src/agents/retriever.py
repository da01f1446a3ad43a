"""Retriever: finds what the claim memory already knows about a claim, and decides a cache hit.

A cache hit must be the *same* claim, not merely a similar sentence: embeddings put "Vaccines cause autism"
and "Vaccines do not cause autism" close together, so similarity alone would serve the wrong verdict. A hit
therefore needs high similarity, a recent verdict that is not Uncertain, and the same polarity
(``factmem.polarity``: no negation flipped, no number or named entity changed).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from factmem.agents.base import MemoryMatch, NormalizedClaim, Retrieval
from factmem.agents.memory_update import CURATED, verdict_producer
from factmem.embeddings import Embedder
from factmem.polarity import ClaimRelation, ClaimSignature, claim_relation, claim_signature
from factmem.rerank import RerankModel
from factmem.store.base import ClaimStore, StoredPoint
from factmem.store.ids import claim_point_id
from factmem.store.lexical import Fusion
from factmem.time_decay import age_days, time_decayed_score, utc_now

if TYPE_CHECKING:
    from factmem.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalPolicy:
    """The retriever's settings; :meth:`from_settings` is the only place they are read from ``Settings``."""

    top_k: int
    cache_similarity: float
    cache_max_age_days: float
    decay_sigma_days: float
    #: Below this similarity no agent looks at a match's polarity, so it is not computed ("unrelated").
    relation_floor: float
    #: Vectors of recently seen normalized claims kept for repeats (bounded; 0 turns it off).
    vector_cache_size: int
    #: Dense + BM25 candidates fused by rank (used when the store has sparse vectors); None: dense only.
    fusion: Fusion | None = None
    #: Orders the fused candidates (``factmem.rerank``); None keeps the order of similarity.
    reranker: RerankModel | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RetrievalPolicy:
        return cls(
            top_k=settings.top_k,
            cache_similarity=settings.cache_similarity_threshold,
            cache_max_age_days=settings.cache_max_age_days,
            decay_sigma_days=settings.decay_sigma_days,
            # the lowest similarity at which any agent (reasoner, cache, dedup) looks at a match's relation
            relation_floor=min(
                settings.min_evidence_similarity,
                settings.cache_similarity_threshold,
                settings.dedup_similarity_threshold,
                settings.strong_match_similarity,
                settings.contradiction_similarity,
            ),
            vector_cache_size=settings.vector_cache_size,
            **_hybrid_from_settings(settings),
        )


def _hybrid_from_settings(settings: Settings) -> dict[str, object]:
    """The fusion and re-ranker of ``HYBRID_RETRIEVAL`` and ``RERANK`` (the model is read here, once)."""
    if not settings.hybrid_retrieval:
        return {}
    # the re-ranker was trained behind a given fusion (its candidates are what it learned to order)
    reranker = RerankModel.load() if settings.rerank else None
    return {
        "fusion": reranker.fusion if reranker else Fusion(candidates=settings.top_k),
        "reranker": reranker,
    }


#: Only the closest matches by cosine are compared word by word (``factmem.polarity``: the costliest step of
#: a cache hit once the model's vector is cached): a repeat of a stored claim, however misspelt, is among
#: them, and every decision (cache hit, transfer, contradiction, dedup) reads the closest matches.
CLOSEST_COMPARED = 5


def search_text(claim: NormalizedClaim) -> str:
    """What the memory is searched with by words: the claim, and who a pasted post is by (it may name the
    claim's subject: "— Ilhan Omar (@IlhanMN)")."""
    return f"{claim.normalized_text} {claim.attribution}".strip()


class VectorCache:
    """A small LRU of claim vectors: a viral claim repeated a thousand times is embedded once.

    Bounded by entries (384 float32 = 1.5 KB each, ~0.4 MB at the default 256: full within the first few
    hundred requests, so it never reads as growth later), keyed by a 16-byte digest of the normalized text
    in lower case (a key costs the same for a 2,000-character claim as for a short one): the model is
    uncased (its tokenizer lower-cases first), so a hit returns the vector it would compute.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, text: str) -> bool:
        """Whether the vector of ``text`` is cached (the LRU order is left as it is)."""
        with self._lock:
            return _key(text) in self._vectors

    def get_or_compute(self, text: str, compute: Callable[[str], np.ndarray]) -> np.ndarray:
        if self._size <= 0:
            return compute(text)
        key = _key(text)
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
                return vector
        vector = compute(text)
        vector.setflags(write=False)  # shared between requests: nobody may modify it in place
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.lower().encode(), digest_size=16).digest()


@dataclass(frozen=True)
class OwnRecord:
    """What a read by id found for a claim: its own record in the memory, with its stored vector, or none.

    The server reads it before it queues a verification (to know whether the model must run) and hands it
    to :meth:`Retriever.retrieve`, so the memory is asked once, not twice (a round trip with a Qdrant
    server). If the record changes in between, the result stays right: a vector belongs to its text.
    """

    point: StoredPoint | None

    @property
    def vector(self) -> np.ndarray | None:
        return self.point.vector if self.point is not None else None


class Retriever:
    name = "retriever"

    def __init__(self, store: ClaimStore, embedder: Embedder, policy: RetrievalPolicy) -> None:
        self._store = store
        self._embedder = embedder
        self.policy = policy
        self._vectors = VectorCache(policy.vector_cache_size)
        if policy.fusion is not None and not store.hybrid:
            logger.warning(
                "claim memory %r has no BM25 sparse vectors (made before hybrid retrieval): searching by "
                "meaning only; stop the server and run `python -m factmem reindex` to add them",
                store.name,
            )

    def own_record(self, claim: NormalizedClaim) -> OwnRecord:
        """The memory's record of this very claim (its id derives from the normalized text): a read by id."""
        stored = self._store.retrieve([claim_point_id(claim.comparison_key)], with_vectors=True)
        return OwnRecord(stored[0] if stored else None)

    def needs_model(self, claim: NormalizedClaim, own: OwnRecord) -> bool:
        """Whether retrieving ``claim`` will run the model: neither its own record (whose stored vector is
        used) nor the vector cache holds its vector."""
        return own.vector is None and not self._vectors.holds(claim.normalized_text)

    def retrieve(
        self, claim: NormalizedClaim, *, now: datetime | None = None, own: OwnRecord | None = None
    ) -> Retrieval:
        """Embed the claim once, search the memory, score matches and pick a cache hit if there is one.

        A claim the memory holds already (the same after normalization: its record's id derives from that)
        is not embedded at all: its record's stored vector is the vector of the same text, and a read by id
        costs a few hundredths of a millisecond where the model costs one or two. ``own``: that record,
        when the caller read it already (:meth:`own_record`).
        """
        now = now or utc_now()
        if own is None:
            own = self.own_record(claim)
        if own.vector is not None:
            vector = own.vector
            vector.setflags(write=False)  # like a cached vector: read by every agent, written by none
        else:
            vector = self._vectors.get_or_compute(claim.normalized_text, self._embedder.embed_one)
        searched_at = time.monotonic()
        points = self._candidates(claim, vector, known=own.point is not None)
        signature = claim_signature(claim.normalized_text)
        closest = sorted(points, key=lambda p: p.score or 0.0, reverse=True)[:CLOSEST_COMPARED]
        compared = {p.id for p in closest}
        matches = [self._to_match(point, claim, signature, now, point.id in compared) for point in points]
        if not self._reranked:
            matches.sort(key=lambda m: m.time_decayed_score, reverse=True)
        return Retrieval(
            vector=vector,
            matches=tuple(matches),
            cache_hit=self._cache_hit(matches),
            signature=signature,
            searched_at=searched_at,
        )

    @property
    def _hybrid(self) -> bool:
        return self.policy.fusion is not None and self._store.hybrid

    @property
    def _reranked(self) -> bool:
        return self._hybrid and self.policy.reranker is not None

    def _candidates(self, claim: NormalizedClaim, vector: np.ndarray, *, known: bool) -> list[StoredPoint]:
        """Dense search, or hybrid candidates (re-ranked when a model is set), best first, at most top_k.

        ``known``: the memory holds this claim's own record. The record answers it whatever the order of the
        rest, so the hot path of the cache skips the lexical search, the fusion and the re-ranker.
        """
        fusion = self.policy.fusion
        if fusion is None or not self._store.hybrid or known:
            return self._store.search(vector, self.policy.top_k)
        query = search_text(claim)
        points = self._store.hybrid_search(vector, query, fusion)
        if self.policy.reranker is not None:
            points = self.policy.reranker.rerank(query, points)
        return points[: self.policy.top_k]

    def _to_match(
        self,
        point: StoredPoint,
        claim: NormalizedClaim,
        signature: ClaimSignature,
        now: datetime,
        compare: bool = True,
    ) -> MemoryMatch:
        payload = point.payload
        similarity = float(np.clip(point.score or 0.0, -1.0, 1.0))
        age = age_days(float(payload.get("timestamp_ts", now.timestamp())), now)
        if payload.get("comparison_key") == claim.comparison_key:
            relation = ClaimRelation(kind="same", reason="identical after normalization")
        elif similarity < self.policy.relation_floor:
            floor = self.policy.relation_floor
            relation = ClaimRelation(kind="unrelated", reason=f"similarity below {floor}")
        elif not compare:
            relation = ClaimRelation(kind="unrelated", reason=f"not among the {CLOSEST_COMPARED} closest")
        else:
            relation = claim_relation(str(payload.get("claim_text", "")), claim.normalized_text, signature)
        return MemoryMatch(
            id=point.id,
            claim_text=str(payload.get("claim_text", "")),
            verdict=payload.get("verdict", "Uncertain"),
            confidence=float(payload.get("confidence", 0.0)),
            explanation=str(payload.get("explanation", "")),
            source=str(payload.get("source", "")),
            source_url=payload.get("source_url"),
            source_reliability=float(payload.get("source_reliability", 0.5)),
            similarity=similarity,
            time_decayed_score=time_decayed_score(similarity, age, self.policy.decay_sigma_days),
            age_days=age,
            seen_count=int(payload.get("seen_count", 1)),
            timestamp=str(payload.get("timestamp", "")),
            relation=relation.kind,
            relation_reason=relation.reason,
            verdict_by=verdict_producer(payload),
            conflict=relation.conflict,
        )

    def _cache_hit(self, matches: list[MemoryMatch]) -> MemoryMatch | None:
        eligible = [
            m
            for m in matches
            if m.relation == "same"
            and m.similarity >= self.policy.cache_similarity
            and m.age_days <= self.policy.cache_max_age_days
            and m.verdict != "Uncertain"
        ]
        # A person's fact-check of the claim is served before a verdict this service produced itself.
        return max(eligible, key=lambda m: (m.verdict_by == CURATED, m.similarity), default=None)

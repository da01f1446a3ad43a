"""Memory update: records each verification, deduplicating so the memory counts how often a claim is seen.

A near-identical, same-polarity claim (similarity ≥ the dedup threshold) updates that record: ``seen_count``
+1, ``last_seen`` now, and the more confident verdict kept. Anything else becomes a new point whose id
derives from the claim's comparison key, so a retried request cannot create a duplicate.

``seen_count + 1`` is a read-modify-write. Within a process each point id maps to one of a fixed set of
locks (bounded memory, no per-claim objects); between processes (instances sharing a Qdrant server) the
write itself is conditional: it applies only if the payload is still the version that was read
(``ClaimStore.compare_and_set_payload``), else it is read again and retried, and a new claim is created only
if absent (``insert_if_absent``). Rewordings of one new claim verified at the same moment are decided one at
a time: each is checked against the claims this process inserted since its own retrieval began
(:class:`RecentInserts`), so the second one finds the first without a second search of the memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from factmem.agents.base import MemoryMatch, MemoryWrite, NormalizedClaim, Retrieval, VerificationResult
from factmem.errors import StoreError, StoreUnavailableError
from factmem.polarity import claim_relation
from factmem.store.base import ClaimStore, PointWrite
from factmem.store.ids import claim_point_id
from factmem.striped_locks import StripedLocks
from factmem.time_decay import to_iso, utc_now

logger = logging.getLogger(__name__)

#: Conditional writes retried before giving up on a claim many writers update at once.
_CONDITIONAL_ATTEMPTS = 32

LOCAL_SOURCE = "factmem-local-reasoner"
#: How far a verdict of the local rules is trusted when it is read back (it only restates stored verdicts).
LOCAL_RELIABILITY = 0.5
#: ``verdict_by`` of a person's fact-check (admin import, seed file): no other verdict replaces it.
CURATED = "curated"
_CURATED_ORIGINS = frozenset({"curated", "seed"})


def verdict_producer(payload: dict[str, Any]) -> str:
    """Who produced a stored verdict; records written before provenance was kept tell it by their origin."""
    by = payload.get("verdict_by")
    if isinstance(by, str) and by:
        return by
    return CURATED if payload.get("origin") in _CURATED_ORIGINS else "local"


#: New claims remembered for the check of concurrent rewordings (384 float32 + text: ~2 KB each).
RECENT_INSERTS = 128


@dataclass(frozen=True)
class _Inserted:
    at: float
    point_id: str
    claim_text: str
    vector: np.ndarray


class RecentInserts:
    """The claims this process inserted lately, newest last, in constant memory.

    A new claim's retrieval cannot see a rewording inserted while it ran; this log can. It answers only for
    a window it still holds whole: once an insert newer than the window's start has been pushed out, the
    caller must search the memory instead.
    """

    def __init__(self, size: int = RECENT_INSERTS) -> None:
        self._entries: deque[_Inserted] = deque(maxlen=size)
        #: when the newest entry pushed out so far was inserted
        self._dropped_at = float("-inf")
        self._lock = threading.Lock()

    def add(self, point_id: str, claim_text: str, vector: np.ndarray) -> None:
        """Log an insert once the store has it (a search that starts later sees it)."""
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self._dropped_at = self._entries[0].at
            self._entries.append(_Inserted(time.monotonic(), point_id, claim_text, vector))

    def since(self, searched_at: float) -> list[_Inserted] | None:
        """Inserts logged at or after ``searched_at`` (``time.monotonic()``, a clock no adjustment moves);
        ``None`` when some of them may have been pushed out already."""
        with self._lock:
            if self._dropped_at >= searched_at:
                return None
            return [entry for entry in self._entries if entry.at >= searched_at]


def new_claim_payload(
    claim: NormalizedClaim,
    result: VerificationResult,
    *,
    now: datetime,
    source: str,
    source_url: str | None = None,
    source_reliability: float = LOCAL_RELIABILITY,
    source_date: str | None = None,
    origin: str = "verified",
    seen_count: int = 1,
    embedding_model: str = "",
    title: str | None = None,
) -> dict[str, Any]:
    """The payload of a new claim record; the single definition of the stored schema.

    ``verdict_by`` records who produced the verdict: ``curated`` for the curated origins, else the result's
    producer (``local`` rules or ``llm:<model>``); ``source_reliability`` is how far it is trusted.
    """
    stamp = to_iso(now)
    return {
        "claim_text": claim.normalized_text,
        "title": title,
        "comparison_key": claim.comparison_key,
        "original_text": claim.original_text,
        "verdict": result.verdict,
        "confidence": result.confidence,
        "explanation": result.explanation,
        "reasoning": result.reasoning,
        "evidence_ids": list(result.evidence_ids),
        "source": source,
        "source_url": source_url,
        "source_reliability": source_reliability,
        "source_date": source_date,
        "entities": list(claim.entities),
        "temporal_markers": list(claim.temporal_markers),
        "origin": origin,
        "verdict_by": CURATED if origin in _CURATED_ORIGINS else result.verdict_by,
        "embedding_model": embedding_model,
        "seen_count": seen_count,
        "first_seen": stamp,
        "first_seen_ts": now.timestamp(),
        "last_seen": stamp,
        "timestamp": stamp,
        "timestamp_ts": now.timestamp(),
    }


def _is_better(result: VerificationResult, stored: dict[str, Any]) -> bool:
    """Keep the more confident verdict; a decided verdict always beats a stored Uncertain; nothing but
    another curated fact-check replaces a curated one (an LLM's verdict never outranks a person's)."""
    if result.verdict == "Uncertain":
        return False
    if verdict_producer(stored) == CURATED and result.verdict_by != CURATED:
        return False
    if stored.get("verdict") == "Uncertain":
        return True
    return result.confidence > float(stored.get("confidence", 0.0))


class MemoryUpdater:
    name = "memory_update"

    def __init__(
        self,
        store: ClaimStore,
        *,
        dedup_similarity: float,
        embedding_model: str,
        llm_verdict_reliability: float,
        recheck: Callable[[NormalizedClaim], Retrieval] | None = None,
    ) -> None:
        """``recheck``: retrieves a claim afresh (the retriever); used when :class:`RecentInserts` no longer
        holds everything inserted since a new claim's retrieval began."""
        self._store = store
        self._recheck = recheck
        self._new_claims = threading.Lock()
        self._recent = RecentInserts()
        self._embedding_model = embedding_model
        self._dedup_similarity = dedup_similarity
        self._llm_verdict_reliability = llm_verdict_reliability
        self._locks = StripedLocks()

    def _provenance(self, result: VerificationResult) -> dict[str, Any]:
        """Where a verdict of this service comes from, as stored: the LLM with its model, or local rules."""
        if result.verdict_by.startswith("llm:"):
            return {"source": result.verdict_by, "source_reliability": self._llm_verdict_reliability}
        return {"source": LOCAL_SOURCE, "source_reliability": LOCAL_RELIABILITY}

    def update(
        self,
        claim: NormalizedClaim,
        retrieval: Retrieval,
        result: VerificationResult,
        *,
        now: datetime | None = None,
    ) -> MemoryWrite:
        now = now or utc_now()
        target = self._duplicate_of(retrieval)
        point_id = target.id if target is not None else claim_point_id(claim.comparison_key)
        try:
            if target is None and self._recheck is not None:
                # A new claim: decided one at a time, against what was inserted since its retrieval began,
                # so two rewordings of one claim verified at once become one record (the second finds the
                # first) whatever the interleaving. Increments never wait on this lock.
                with self._new_claims:
                    fresh = self._inserted_since(claim, retrieval)
                    point_id = fresh if fresh is not None else point_id
                    write = self._write(point_id, claim, retrieval, result, now)
                    if write.inserted:
                        self._recent.add(write.id, claim.normalized_text, retrieval.vector)
                    return write
            return self._write(point_id, claim, retrieval, result, now)
        except StoreUnavailableError as exc:
            # The verdict is still worth answering; the response says it was not stored.
            logger.warning("verification not stored claim_id=%s: %s", point_id, exc)
            seen = target.seen_count if target is not None else 0
            return MemoryWrite(
                id=point_id, inserted=False, seen_count=seen, timestamp=to_iso(now), stored=False
            )

    def _write(
        self,
        point_id: str,
        claim: NormalizedClaim,
        retrieval: Retrieval,
        result: VerificationResult,
        now: datetime,
    ) -> MemoryWrite:
        """Insert the claim, or count it in; conditional writes, so instances sharing a Qdrant server (which
        share no lock) neither overwrite each other's record nor lose an increment."""
        with self._locks.for_key(point_id):
            for _ in range(_CONDITIONAL_ATTEMPTS):
                existing = self._store.retrieve([point_id])
                if existing:
                    written = self._increment(point_id, existing[0].payload, result, now)
                    if written is not None:
                        return written
                    continue  # another writer got there first: read again
                payload = new_claim_payload(
                    claim, result, now=now, embedding_model=self._embedding_model, **self._provenance(result)
                )
                point = PointWrite(id=point_id, vector=retrieval.vector, payload=payload)
                if self._store.insert_if_absent(point):
                    return MemoryWrite(
                        id=point_id, inserted=True, seen_count=1, timestamp=payload["timestamp"]
                    )
        raise StoreError(f"claim {point_id} is being written by too many writers at once; retry")

    def _inserted_since(self, claim: NormalizedClaim, retrieval: Retrieval) -> str | None:
        """The id of a claim inserted since the retrieval searched that says the same as ``claim``, if any."""
        recent = self._recent.since(retrieval.searched_at)
        if recent is None:  # the log lost part of the window: search the memory as it is now
            assert self._recheck is not None
            fresh = self._duplicate_of(self._recheck(claim))
            return fresh.id if fresh is not None else None
        # The retrieval saw the inserts among its matches and judged them already (none was a duplicate, or
        # this would not be a new claim); only those it could not see are compared here.
        seen = {match.id for match in retrieval.matches}
        text, signature = claim.normalized_text, retrieval.signature
        for entry in reversed(recent):
            if entry.point_id in seen:
                continue
            similarity = float(np.dot(entry.vector, retrieval.vector))
            if (
                similarity >= self._dedup_similarity
                and claim_relation(entry.claim_text, text, signature).kind == "same"
            ):
                return entry.point_id
        return None

    def _duplicate_of(self, retrieval: Retrieval) -> MemoryMatch | None:
        if retrieval.cache_hit is not None:
            return retrieval.cache_hit
        candidates = [
            m for m in retrieval.matches if m.relation == "same" and m.similarity >= self._dedup_similarity
        ]
        return max(candidates, key=lambda m: m.similarity, default=None)

    def _increment(
        self, point_id: str, stored: dict[str, Any], result: VerificationResult, now: datetime
    ) -> MemoryWrite | None:
        """Count one more sighting of the stored claim; ``None`` if its payload changed since it was read."""
        stamp = to_iso(now)
        update: dict[str, Any] = {"seen_count": int(stored.get("seen_count", 1)) + 1, "last_seen": stamp}
        if _is_better(result, stored):
            update |= {
                "verdict": result.verdict,
                "confidence": result.confidence,
                "explanation": result.explanation,
                "reasoning": result.reasoning,
                "evidence_ids": list(result.evidence_ids),
                "verdict_by": result.verdict_by,
                **self._provenance(result),
                "timestamp": stamp,
                "timestamp_ts": now.timestamp(),
            }
        if not self._store.compare_and_set_payload(point_id, stored, update):
            return None
        return MemoryWrite(
            id=point_id,
            inserted=False,
            seen_count=update["seen_count"],
            timestamp=str(update.get("timestamp", stored.get("timestamp", stamp))),
        )

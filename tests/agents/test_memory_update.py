"""The memory-update agent on both store backends: dedup, verdict precedence, retries and concurrent counts.

Claims are normalized, embedded and retrieved by the real agents; only the verdict is chosen by the test,
and the boundary tests hand the updater a match with an exact similarity.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from factmem.agents.base import MemoryWrite, NormalizedClaim, Retrieval, Verdict, VerificationResult
from factmem.agents.memory_update import RecentInserts, verdict_producer
from factmem.pipeline import VerificationPipeline
from factmem.time_decay import utc_now


def result(verdict: Verdict, confidence: float) -> VerificationResult:
    return VerificationResult(
        verdict=verdict, confidence=confidence, reasoning="test", explanation=f"{verdict} at {confidence}"
    )


def retrieve(pipeline: VerificationPipeline, text: str) -> tuple[NormalizedClaim, Retrieval]:
    claim = pipeline.normalizer.normalize(text)
    return claim, pipeline.retriever.retrieve(claim)


def update(pipeline: VerificationPipeline, text: str, verdict: Verdict, confidence: float) -> MemoryWrite:
    claim, retrieval = retrieve(pipeline, text)
    return pipeline.memory_updater.update(claim, retrieval, result(verdict, confidence))


def stored(pipeline: VerificationPipeline, point_id: str) -> dict[str, Any]:
    (point,) = pipeline.claim_store.retrieve([point_id])
    return point.payload


# --- dedup ---


def test_first_verification_inserts_then_the_same_claim_increments(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, "The Harbor of Quillon freezes over every winter.", "Uncertain", 0.0)
    assert first.inserted and first.seen_count == 1

    second = update(
        pipeline, "did u know the harbor of quillon freezes over every winter!!!", "Uncertain", 0.0
    )

    assert (second.id, second.inserted, second.seen_count) == (first.id, False, 2)
    assert pipeline.claim_store.count() == 1
    payload = stored(pipeline, first.id)
    assert payload["seen_count"] == 2
    assert payload["last_seen"] >= payload["first_seen"]


def test_near_duplicate_with_the_same_polarity_updates_the_existing_record(
    pipeline: VerificationPipeline,
) -> None:
    first = update(pipeline, "Vaccines given to children cannot cause autism.", "Uncertain", 0.0)
    claim, retrieval = retrieve(pipeline, "Vaccines given to children do not cause autism.")
    (match,) = retrieval.matches
    assert match.id == first.id and match.relation == "same" and match.similarity >= 0.90, match
    assert claim.comparison_key != stored(pipeline, first.id)["comparison_key"]

    write = pipeline.memory_updater.update(claim, retrieval, result("Uncertain", 0.0))

    assert (write.id, write.inserted, write.seen_count) == (first.id, False, 2)
    assert pipeline.claim_store.count() == 1


def test_opposite_polarity_inserts_a_separate_record(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, "Sound travels faster in water than in air.", "True", 0.9)
    claim, retrieval = retrieve(pipeline, "Sound does not travel faster in water than in air.")
    (match,) = retrieval.matches
    assert match.relation == "opposite" and match.similarity >= 0.90, (
        "close enough to be deduplicated otherwise"
    )

    write = pipeline.memory_updater.update(claim, retrieval, result("False", 0.7))

    assert write.inserted and write.id != first.id
    assert pipeline.claim_store.count() == 2
    assert stored(pipeline, first.id)["seen_count"] == 1
    assert stored(pipeline, first.id)["verdict"] == "True"
    assert stored(pipeline, write.id)["verdict"] == "False"


# (similarity, relation, whether the update lands on the existing record)
DEDUP_CASES = (
    (0.30, "same", True),  # DEDUP_SIMILARITY_THRESHOLD: the words decide sameness, the cosine only guards
    (0.2999, "same", False),
    (0.99, "opposite", False),
    (0.99, "different", False),
)


def test_dedup_needs_the_threshold_and_the_same_polarity(pipeline: VerificationPipeline) -> None:
    mills = ("Tellwick", "Ambershaw", "Corrowdale", "Fenmarsh")
    for mill, (similarity, relation, deduplicated) in zip(mills, DEDUP_CASES, strict=True):
        existing = update(pipeline, f"The {mill} Mill ground flour for 300 years.", "Uncertain", 0.0)
        claim, retrieval = retrieve(pipeline, f"The {mill} watermill milled grain for three centuries.")
        (found,) = [m for m in retrieval.matches if m.id == existing.id]
        # The model's own score is whatever it is; pin it to the boundary under test.
        pinned = dataclasses.replace(
            found, similarity=similarity, time_decayed_score=similarity, relation=relation
        )
        retrieval = dataclasses.replace(retrieval, matches=(pinned,), cache_hit=None)
        count = pipeline.claim_store.count()

        write = pipeline.memory_updater.update(claim, retrieval, result("Uncertain", 0.0))

        case = (similarity, relation)
        assert (write.id == existing.id) is deduplicated, case
        assert write.inserted is not deduplicated, case
        assert stored(pipeline, existing.id)["seen_count"] == (2 if deduplicated else 1), case
        assert pipeline.claim_store.count() == count + (0 if deduplicated else 1), case


# --- which verdict is kept ---

TEXT = "The Orrin Aqueduct carried water for 40 kilometres."


def test_the_more_confident_verdict_is_kept(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, TEXT, "True", 0.6)

    update(pipeline, TEXT, "False", 0.9)
    assert (stored(pipeline, first.id)["verdict"], stored(pipeline, first.id)["confidence"]) == ("False", 0.9)
    assert stored(pipeline, first.id)["explanation"] == "False at 0.9"

    update(pipeline, TEXT, "True", 0.7)
    payload = stored(pipeline, first.id)
    assert (payload["verdict"], payload["confidence"], payload["seen_count"]) == ("False", 0.9, 3)
    assert pipeline.claim_store.count() == 1


def test_a_decided_verdict_replaces_a_stored_uncertain(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, TEXT, "Uncertain", 0.45)
    update(pipeline, TEXT, "True", 0.2)  # less confident, but decided
    payload = stored(pipeline, first.id)
    assert (payload["verdict"], payload["confidence"], payload["seen_count"]) == ("True", 0.2, 2)


def test_an_uncertain_verdict_never_replaces_a_decided_one(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, TEXT, "False", 0.5)
    update(pipeline, TEXT, "Uncertain", 0.99)
    payload = stored(pipeline, first.id)
    assert (payload["verdict"], payload["confidence"], payload["seen_count"]) == ("False", 0.5, 2)
    assert payload["explanation"] == "False at 0.5"


# --- retries and concurrency ---


def test_a_retried_update_does_not_duplicate(pipeline: VerificationPipeline) -> None:
    """A retry carries the retrieval made before the first write: it saw no match, yet must not insert."""
    claim, retrieval = retrieve(pipeline, TEXT)
    assert retrieval.matches == ()

    first = pipeline.memory_updater.update(claim, retrieval, result("Uncertain", 0.0))
    retried = pipeline.memory_updater.update(claim, retrieval, result("Uncertain", 0.0))

    assert first.inserted and not retried.inserted
    assert retried.id == first.id and retried.seen_count == 2
    assert pipeline.claim_store.count() == 1


def test_concurrent_updates_of_one_claim_lose_no_count(pipeline: VerificationPipeline) -> None:
    first = update(pipeline, TEXT, "Uncertain", 0.0)
    claim, retrieval = retrieve(pipeline, TEXT)
    threads, per_thread = 16, 10
    barrier = threading.Barrier(threads)

    def work(_: int) -> list[int]:
        barrier.wait()
        return [
            pipeline.memory_updater.update(claim, retrieval, result("Uncertain", 0.0)).seen_count
            for _ in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        counts = [count for batch in pool.map(work, range(threads)) for count in batch]

    assert stored(pipeline, first.id)["seen_count"] == 1 + threads * per_thread == 161
    assert sorted(counts) == list(range(2, 162)), "each update saw a distinct count"
    assert pipeline.claim_store.count() == 1


# --- provenance: who produced a verdict ---


def llm_result(verdict: Verdict, confidence: float) -> VerificationResult:
    return dataclasses.replace(result(verdict, confidence), verdict_by="llm:test-model")


def test_an_llm_verdict_is_stored_with_its_model_and_reliability(pipeline: VerificationPipeline) -> None:
    claim, retrieval = retrieve(pipeline, "The Quillon lighthouse was first lit in 1861.")
    write = pipeline.memory_updater.update(claim, retrieval, llm_result("True", 0.8))
    payload = stored(pipeline, write.id)
    assert (payload["verdict_by"], payload["source"]) == ("llm:test-model", "llm:test-model")
    assert payload["source_reliability"] == pipeline.settings.llm_verdict_reliability


def test_an_llm_verdict_replaces_a_local_uncertain_but_never_a_curated_fact_check(
    pipeline: VerificationPipeline,
) -> None:
    local = update(pipeline, "The Quillon lighthouse keeper lived on the island.", "Uncertain", 0.0)
    claim, retrieval = retrieve(pipeline, "The Quillon lighthouse keeper lived on the island.")
    pipeline.memory_updater.update(claim, retrieval, llm_result("True", 0.7))
    assert stored(pipeline, local.id)["verdict_by"] == "llm:test-model"

    curated = pipeline.memory_updater.update(
        *retrieve(pipeline, "The Quillon lighthouse was painted red."), result("False", 0.6)
    )
    pipeline.claim_store.set_payload(curated.id, {"origin": "curated", "verdict_by": "curated"})
    claim, retrieval = retrieve(pipeline, "The Quillon lighthouse was painted red.")
    pipeline.memory_updater.update(claim, retrieval, llm_result("True", 0.99))
    payload = stored(pipeline, curated.id)
    assert (payload["verdict"], payload["verdict_by"], payload["seen_count"]) == ("False", "curated", 2)


def test_records_from_before_provenance_tell_it_by_their_origin() -> None:
    assert verdict_producer({"origin": "seed"}) == "curated"
    assert verdict_producer({"origin": "curated"}) == "curated"
    assert verdict_producer({"origin": "verified"}) == "local"
    assert verdict_producer({"origin": "verified", "verdict_by": "llm:m"}) == "llm:m"


# --- rewordings inserted while a claim was being checked ---


def test_a_rewording_inserted_after_a_retrieval_is_found_without_searching_again(
    pipeline: VerificationPipeline,
) -> None:
    """The second of two rewordings was retrieved before the first was stored: the recent-inserts log, not
    a second search, makes it count the first."""
    searches: list[str] = []
    updater = pipeline.memory_updater
    original = updater._recheck
    updater._recheck = lambda claim: searches.append(claim.normalized_text) or original(claim)  # type: ignore[assignment,func-returns-value]
    started = utc_now()
    first = retrieve(pipeline, "The harbour of Quillon freezes over every winter")
    second = retrieve(pipeline, "The harbor of Quillon freezes over every winter")
    written = [updater.update(*checked, result("True", 0.9), now=started) for checked in (first, second)]
    assert [w.inserted for w in written] == [True, False]
    assert written[1].id == written[0].id and written[1].seen_count == 2
    assert searches == []


def test_recent_inserts_answer_only_for_a_window_they_hold_whole() -> None:
    log = RecentInserts(size=3)
    vector = np.zeros(4, dtype=np.float32)
    before = time.monotonic()
    for i in range(3):
        log.add(f"id{i}", f"claim {i}", vector)
    assert [e.point_id for e in log.since(before) or []] == ["id0", "id1", "id2"]
    log.add("id3", "claim 3", vector)  # id0 is pushed out, and it was newer than `before`
    assert log.since(before) is None
    assert log.since(time.monotonic()) == []


def test_inserts_the_retrieval_already_saw_are_not_compared_again(pipeline: VerificationPipeline) -> None:
    """Sequential requests: whatever was inserted before a search began, the search saw; the log is only
    for inserts that landed after it."""
    updater = pipeline.memory_updater
    first = retrieve(pipeline, "The Quillon ferry sails twice a day")
    updater.update(*first, result("True", 0.9))
    second = retrieve(pipeline, "The Quillon ferry sails twice every day")
    assert updater._recent.since(second[1].searched_at) == []
    third = retrieve(pipeline, "The Quillon ferry sails three times a day")
    racing = retrieve(pipeline, "The Quillon ferry sails three times a day!")
    updater.update(*third, result("False", 0.8))
    assert [e.claim_text for e in updater._recent.since(racing[1].searched_at) or []] == [
        third[0].normalized_text
    ]


def test_a_window_longer_than_the_log_searches_the_memory_again(pipeline: VerificationPipeline) -> None:
    updater = pipeline.memory_updater
    updater._recent = RecentInserts(size=1)
    started = utc_now()
    first = retrieve(pipeline, "Corrowdale Abbey was founded by monks from France")
    other = retrieve(pipeline, "The Fenmarsh canal was dug by hand")
    second = retrieve(pipeline, "Corrowdale Abbey was founded by monks from Frnace")
    written = [
        updater.update(*checked, result("True", 0.9), now=started) for checked in (first, other, second)
    ]
    assert written[2].id == written[0].id and written[2].seen_count == 2  # found by searching again

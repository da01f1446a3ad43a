"""The server's driver of the pipeline: under load, a claim the memory holds is not queued behind misses."""

from __future__ import annotations

import asyncio

import pytest
from conftest import make_guard

from factmem.admission import Admission
from factmem.cpu_slots import CpuSlots
from factmem.errors import InputError
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.pipeline import ClaimCheck, TextVerification, Verification, VerificationPipeline
from factmem.store.ids import claim_point_id
from factmem.verifier import Verifier

KNOWN = "The Tellwick Mill ground flour for 300 years."
NEW = [f"The Harbor of Quillon froze over in {year}." for year in (1901, 1902, 1903)]


def verifier_with_one_slot(pipeline: VerificationPipeline) -> Verifier:
    return Verifier(
        pipeline,
        Admission(make_guard(None), CpuSlots(1), retry_after_s=5, max_queued=16, max_queue_wait_s=30),
    )


def test_a_claim_the_memory_holds_overtakes_misses_queued_before_it(pipeline: VerificationPipeline) -> None:
    pipeline.verify(KNOWN)
    verifier = verifier_with_one_slot(pipeline)
    slots = verifier.admission.slots

    async def scenario() -> list[str]:
        finished: list[str] = []

        async def verify(text: str) -> TextVerification:
            result = await verifier.verify(text, render=lambda verification: verification)
            finished.append(text)
            return result

        assert slots.try_acquire()  # the server is busy
        misses = [asyncio.create_task(verify(text)) for text in NEW]
        await asyncio.sleep(0.01)
        known = asyncio.create_task(verify(KNOWN))  # arrives last
        await asyncio.sleep(0.01)
        assert slots.waiting == len(NEW) + 1
        slots.release()
        outcomes = await asyncio.gather(*misses, known)
        assert all(len(outcome.claims) == 1 for outcome in outcomes)
        assert slots.free == 1 and slots.waiting == 0
        return finished

    finished = asyncio.run(scenario())
    # Each miss reads its claim (short work, in arrival order), finds it needs the model and queues again
    # behind short work; the known claim, short work from start to end, is answered before any of them.
    assert finished == [KNOWN, *NEW]
    for text in NEW:  # and every miss was verified and stored
        assert not pipeline.look_up([pipeline.normalizer.normalize(text)]).needs_model


def test_bad_text_is_refused_before_anything_else(pipeline: VerificationPipeline) -> None:
    verifier = verifier_with_one_slot(pipeline)
    with pytest.raises(InputError):
        asyncio.run(verifier.verify("!!! ???", render=lambda verification: verification))
    assert verifier.admission.slots.free == 1


def test_the_memory_is_asked_for_a_claim_once_before_it_is_recalled(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-up that decides the queue hands its record to the retriever: with a Qdrant server every
    read by id is a round trip."""
    # Stored by an ingest, so only the memory holds its vector (as after a restart), not the vector cache.
    ingest_claims(pipeline, [CuratedClaim(claim=KNOWN, verdict="True", explanation="Mill records.")])
    own_id = claim_point_id(pipeline.normalizer.normalize(KNOWN).comparison_key)
    reads_before_the_update: list[bool] = []
    updating = False
    read, remember = pipeline.claim_store.retrieve, pipeline.remember

    def counted(ids: list[str], *, with_vectors: bool = False) -> list:
        if own_id in ids and not updating:
            reads_before_the_update.append(with_vectors)
        return read(ids, with_vectors=with_vectors)

    def remembered(check: ClaimCheck) -> Verification:
        nonlocal updating
        updating = True  # the memory update reads the record again to count the repeat: its own business
        return remember(check)

    monkeypatch.setattr(pipeline.claim_store, "retrieve", counted)
    monkeypatch.setattr(pipeline, "remember", remembered)
    outcome = asyncio.run(
        verifier_with_one_slot(pipeline).verify(KNOWN, render=lambda verification: verification)
    )
    assert outcome.claims[0].cache_hit and outcome.claims[0].write.seen_count == 2
    assert reads_before_the_update == [True]  # the look-up, with the stored vector the search then uses

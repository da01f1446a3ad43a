"""Admission: a CPU slot, then room in memory, before any work; every refusal counted once, by reason."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from conftest import make_guard

from factmem.admission import Admission
from factmem.cpu_slots import CpuSlots
from factmem.errors import OverloadedError
from factmem.memory.readings import get_memory_usage


class RecordingObserver:
    def __init__(self) -> None:
        self.refusals: list[str] = []

    def request_shed(self, reason: str) -> None:
        self.refusals.append(reason)


def admission(
    limit_mb: float, *, slots: int = 2, retry_after_s: int = 5
) -> tuple[Admission, RecordingObserver]:
    guard = make_guard(limit_mb)
    observer = RecordingObserver()
    gate = Admission(guard, CpuSlots(slots), retry_after_s=retry_after_s, observer=observer)
    return gate, observer


def never_run() -> str:
    raise AssertionError("a refused verification must not run")


def test_admits_when_far_below_the_limit_and_gives_the_slot_back() -> None:
    gate, observer = admission(limit_mb=1_000_000.0, slots=1)

    async def three_in_a_row() -> list[str]:  # one slot, used by one verification after another
        return [await gate.run_new_verification(lambda: "verified") for _ in range(3)]

    assert asyncio.run(three_in_a_row()) == ["verified"] * 3
    assert (gate.admitted, gate.refused_total, gate.guard.shedding, gate.slots.free) == (3, 0, False, 1)
    assert observer.refusals == []


def test_sheds_over_the_hard_threshold_then_recovers_when_memory_falls_below_it() -> None:
    rss = get_memory_usage().rss_mb
    gate, observer = admission(limit_mb=rss / 4, retry_after_s=7)

    with pytest.raises(OverloadedError) as refused:
        asyncio.run(gate.run_new_verification(never_run))
    assert refused.value.retry_after_s == 7
    assert "memory" in str(refused.value)
    assert gate.guard.shedding and gate.refused == {"memory": 1} and gate.admitted == 0
    assert gate.guard.cleanups == 1, "a cleanup must be tried before shedding"
    assert observer.refusals == ["memory"]
    assert gate.slots.free == 2, "a request refused for memory gives its slot back"

    # The budget grows (or, equivalently, usage falls): the next request is served again.
    gate.guard.policy = replace(gate.guard.policy, limit_mb=rss * 100)
    assert asyncio.run(gate.run_new_verification(lambda: "verified")) == "verified"
    assert not gate.guard.shedding and gate.admitted == 1


def test_with_every_slot_taken_a_new_verification_is_refused_not_queued() -> None:
    gate, observer = admission(limit_mb=1_000_000.0, slots=2)
    assert gate.slots.try_acquire() and gate.slots.try_acquire()

    with pytest.raises(OverloadedError, match="concurrent") as refused:
        asyncio.run(gate.run_new_verification(never_run))
    assert refused.value.retry_after_s == 5
    assert gate.refused == {"concurrency": 1} and gate.admitted == 0
    assert gate.guard.last_check is None, "memory is not even read for a request that finds no slot"
    assert observer.refusals == ["concurrency"]


def test_a_refusal_for_any_reason_is_counted_once() -> None:
    gate, observer = admission(limit_mb=1_000_000.0, retry_after_s=9)
    error = gate.refuse("warming_up", "service is warming up")
    assert isinstance(error, OverloadedError) and error.retry_after_s == 9
    gate.refuse("warming_up", "service is warming up")
    gate.refuse("startup_failed", "failed")
    assert gate.refused == {"warming_up": 2, "startup_failed": 1} and gate.refused_total == 3
    assert observer.refusals == ["warming_up", "warming_up", "startup_failed"]

"""CPU slots: short work goes first, long work still moves; a request back from a provider waits its turn."""

from __future__ import annotations

import asyncio
import threading

import pytest

from factmem.cpu_slots import CpuSlots


class Full(Exception):
    pass


def test_try_acquire_takes_free_slots_only() -> None:
    slots = CpuSlots(2)
    assert slots.try_acquire() and slots.try_acquire()
    assert not slots.try_acquire()
    slots.release()
    assert slots.free == 1
    assert slots.try_acquire()


def test_release_more_than_acquired_is_a_bug() -> None:
    slots = CpuSlots(1)
    with pytest.raises(RuntimeError):
        slots.release()


@pytest.mark.parametrize("fast", [True, False], ids=["short line", "long line"])
def test_waiters_are_served_in_order_and_new_requests_do_not_jump_the_queue(fast: bool) -> None:
    async def scenario() -> list[str]:
        slots = CpuSlots(1)
        assert slots.try_acquire()
        served: list[str] = []

        async def waiter(name: str) -> None:
            await slots.acquire(fast=fast)
            served.append(name)

        first = asyncio.create_task(waiter("first"))
        second = asyncio.create_task(waiter("second"))
        await asyncio.sleep(0)
        assert slots.waiting == 2
        slots.release()  # handed to "first", not back to the pool
        assert not slots.try_acquire(), "a newcomer must not take a slot while others wait"
        await first
        slots.release()
        await second
        slots.release()
        assert slots.free == 1
        return served

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    async def scenario() -> None:
        slots = CpuSlots(1)
        assert slots.try_acquire()
        cancelled = asyncio.create_task(slots.acquire())
        patient = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        cancelled.cancel()
        slots.release()
        await patient
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        slots.release()
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())


def test_run_holds_a_slot_in_a_worker_thread_and_refuses_when_full() -> None:
    async def scenario() -> None:
        slots = CpuSlots(1)
        started, finish = threading.Event(), threading.Event()

        def work() -> str:
            started.set()
            finish.wait(5)
            return threading.current_thread().name

        running = asyncio.create_task(slots.run(work, on_full=Full))
        while not started.is_set():
            await asyncio.sleep(0.001)
        with pytest.raises(Full):
            await slots.run(lambda: "never", on_full=Full)
        queued = asyncio.create_task(slots.run(lambda: "queued", on_full=None))
        await asyncio.sleep(0.01)
        assert not queued.done()
        finish.set()
        assert await running != threading.current_thread().name
        assert await queued == "queued"
        assert slots.free == 1

    asyncio.run(scenario())


def test_a_new_request_waits_in_a_bounded_line_then_is_refused() -> None:
    async def scenario() -> list[str]:
        slots = CpuSlots(1)
        assert slots.try_acquire()
        outcomes: list[str] = []

        async def newcomer(name: str, wait_s: float) -> None:
            try:
                outcomes.append(await slots.run(lambda: name, on_full=Full, max_waiting=1, wait_s=wait_s))
            except Full:
                outcomes.append(f"{name} refused")

        waiting = asyncio.create_task(newcomer("served", 5.0))
        await asyncio.sleep(0.01)
        await newcomer("second in line", 5.0)  # the line holds one: refused at once
        await newcomer("no patience", 0.0)
        slots.release()  # the first in line gets the slot
        await waiting
        assert slots.try_acquire()
        await newcomer("timed out", 0.05)
        slots.release()
        return outcomes

    assert asyncio.run(scenario()) == [
        "second in line refused",
        "no patience refused",
        "served",
        "timed out refused",
    ]


def test_short_work_goes_ahead_of_long_work_until_long_work_waited_its_bound() -> None:
    async def scenario(long_wait_bound_s: float) -> list[str]:
        slots = CpuSlots(1, long_wait_bound_s=long_wait_bound_s)
        assert slots.try_acquire()
        served: list[str] = []

        async def waiter(name: str, *, fast: bool) -> None:
            await slots.acquire(fast=fast)
            served.append(name)
            slots.release()

        tasks = [asyncio.create_task(waiter(f"long {i}", fast=False)) for i in (1, 2)]
        await asyncio.sleep(0.02)
        tasks += [asyncio.create_task(waiter(f"short {i}", fast=True)) for i in (1, 2)]
        await asyncio.sleep(0)
        assert slots.waiting == 4, "both lines count against a new request's bounded wait"
        slots.release()
        await asyncio.gather(*tasks)
        assert slots.free == 1
        return served

    assert asyncio.run(scenario(long_wait_bound_s=60)) == ["short 1", "short 2", "long 1", "long 2"]
    # waited past the bound: the long line goes first
    assert asyncio.run(scenario(long_wait_bound_s=0.01)) == ["long 1", "long 2", "short 1", "short 2"]


def test_a_timed_out_short_waiter_does_not_hold_up_the_long_line() -> None:
    async def scenario() -> None:
        slots = CpuSlots(1)
        assert slots.try_acquire()
        assert not await slots.acquire(timeout=0.01, fast=True)  # gave up: still at the head of its line
        long_waiter = asyncio.create_task(slots.acquire(fast=False))
        await asyncio.sleep(0)
        slots.release()
        assert await long_waiter
        slots.release()
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())

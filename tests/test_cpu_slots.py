"""CPU slots: a request coming back from a provider waits its turn; a new request is refused instead."""

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


def test_waiters_are_served_in_order_and_new_requests_do_not_jump_the_queue() -> None:
    async def scenario() -> list[str]:
        slots = CpuSlots(1)
        assert slots.try_acquire()
        served: list[str] = []

        async def waiter(name: str) -> None:
            await slots.acquire()
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

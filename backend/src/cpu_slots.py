"""CPU slots: how many verifications may run CPU work (model, store, JSON) at once.

A verification alternates between CPU work, which runs in a worker thread, and waiting on a remote provider
(an LLM, a web search), which is awaited on the event loop. Only the CPU work holds a slot, so a request
waiting two seconds on an LLM does not keep a cache hit from running.

Two ways to take a slot, because they mean different things:

- ``try_acquire()`` for a request that has done nothing yet: no slot free means 503 + Retry-After (shedding
  costs nothing at that point, and a queue would only grow);
- ``await acquire()`` for a request coming back from a provider: its outbound call is already paid for, so
  it waits its turn (first come, first served) instead of throwing that work away. While anyone waits, a new
  request does not jump the queue: ``try_acquire()`` refuses it.

Slots are taken and given back on the event loop (a worker thread only runs the work), so a plain counter
and a queue of futures suffice; no lock is needed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

T = TypeVar("T")


class CpuSlots:
    """A counting semaphore for the event loop with a non-blocking and a queued way in."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one CPU slot is needed")
        self.total = slots
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        return self._free

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is queued for one; never waits."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting in line behind earlier waiters if none is free."""
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as the wait was cancelled: pass it on
            raise

    def release(self) -> None:
        """Give a slot back: to the first live waiter if there is one, else to the pool."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._free >= self.total:
            raise RuntimeError("CpuSlots released more often than acquired")
        self._free += 1

    async def run(self, work: Callable[[], T], *, on_full: Callable[[], Exception] | None) -> T:
        """Run ``work`` in a worker thread while holding a slot.

        Args:
            work: The CPU work (it must not await anything).
            on_full: Builds the exception raised at once when no slot is free; ``None`` queues for one.
        """
        if on_full is None:
            await self.acquire()
        elif not self.try_acquire():
            raise on_full()
        try:
            return await to_thread.run_sync(work)
        finally:
            self.release()

"""CPU slots: how many verifications may run CPU work (model, store, JSON) at once.

A verification alternates between CPU work, which runs in a worker thread, and waiting on a remote provider
(an LLM, a web search), which is awaited on the event loop. Only the CPU work holds a slot, so a request
waiting two seconds on an LLM does not keep a cache hit from running.

Every way in goes through one first-come, first-served line, so nobody jumps it:

- a new request may wait a little, in a bounded line (``max_waiting`` requests, each at most ``wait_s``):
  it holds only its body while it waits (no model activations, no store pages), and a burst of requests a
  few times the slot count is served in milliseconds instead of refused; past either bound it gets 503 +
  Retry-After at once, so the line cannot grow without bound;
- a request coming back from a provider waits as long as it takes: its outbound call is already paid for,
  and the CPU work left is a few milliseconds.

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

    async def acquire(self, timeout: float | None = None) -> bool:
        """Take a slot, waiting in line behind earlier waiters if none is free; False after ``timeout``."""
        if self.try_acquire():
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except (asyncio.CancelledError, TimeoutError) as exc:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as the wait ended: pass it on
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    async def _wait_in_line(self, max_waiting: int, wait_s: float) -> bool:
        """Wait for a slot if the line is short enough; False when it is not, or the wait ran out."""
        if self.waiting >= max_waiting or wait_s <= 0:
            return False
        return await self.acquire(timeout=wait_s)

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

    async def run(
        self,
        work: Callable[[], T],
        *,
        on_full: Callable[[], Exception] | None,
        max_waiting: int = 0,
        wait_s: float = 0.0,
    ) -> T:
        """Run ``work`` in a worker thread while holding a slot.

        Args:
            work: The CPU work (it must not await anything).
            on_full: Builds the exception raised when no slot can be had within the bounds below; ``None``
                waits for one as long as it takes.
            max_waiting: With ``on_full``: wait in line only while fewer than this many already wait.
            wait_s: With ``on_full``: wait at most this long.
        """
        if on_full is None:
            await self.acquire()
        elif not (self.try_acquire() or await self._wait_in_line(max_waiting, wait_s)):
            raise on_full()
        try:
            return await to_thread.run_sync(work)
        finally:
            self.release()

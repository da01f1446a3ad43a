"""CPU slots: how many verifications may run CPU work (model, store, JSON) at once.

A verification alternates between CPU work, which runs in a worker thread, and waiting on a remote provider
(an LLM, a web search), which is awaited on the event loop. Only the CPU work holds a slot, so a request
waiting two seconds on an LLM does not keep a cache hit from running.

Waiters stand in two first-come, first-served lines, and a freed slot goes to the short line first:

- **short work** (``fast=True``): a new request's first step (read the claim, look it up in the memory,
  and, for a claim the memory holds, the whole answer) and a request coming back from a provider (a few
  milliseconds left). A new request may wait only a little, in a bounded line (``max_waiting`` waiters of
  both lines, each at most ``wait_s``): it holds only its body while it waits, and a burst a few times the
  slot count is served in milliseconds instead of refused; past either bound it gets 503 + Retry-After at
  once, so the lines cannot grow without bound.
- **long work**: a claim the memory does not hold, which needs the model. It waits as long as it takes
  (it was admitted already and holds only its normalized claim), but behind short work: with first come,
  first served for all, a cache hit waited for every miss ahead of it. So that long work always moves,
  the long line goes first once its head has waited ``LONG_WAIT_BOUND_S``: a steady stream of short work
  delays a miss by at most that much more.

Slots are taken and given back on the event loop (a worker thread only runs the work), so a plain counter
and queues of futures suffice; no lock is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

T = TypeVar("T")

#: How long the head of the long line may wait before it goes ahead of short work.
LONG_WAIT_BOUND_S = 0.5


class CpuSlots:
    """A counting semaphore for the event loop with a non-blocking and two queued ways in."""

    def __init__(self, slots: int, *, long_wait_bound_s: float = LONG_WAIT_BOUND_S) -> None:
        if slots < 1:
            raise ValueError("at least one CPU slot is needed")
        self.total = slots
        self.long_wait_bound_s = long_wait_bound_s
        self._free = slots
        self._short: deque[asyncio.Future[None]] = deque()
        self._long: deque[tuple[float, asyncio.Future[None]]] = deque()  # (when it joined, waiter)

    @property
    def free(self) -> int:
        return self._free

    @property
    def waiting(self) -> int:
        """Waiters of both lines."""
        short = sum(1 for waiter in self._short if not waiter.done())
        return short + sum(1 for _, waiter in self._long if not waiter.done())

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is queued for one; never waits."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return True
        return False

    async def acquire(self, timeout: float | None = None, *, fast: bool = True) -> bool:
        """Take a slot, waiting in the short (``fast``) or the long line if none is free; False after
        ``timeout``."""
        if self.try_acquire():
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if fast:
            self._short.append(waiter)
        else:
            self._long.append((time.monotonic(), waiter))
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
        """Give a slot back: to the next live waiter if there is one (short line first), else to the pool."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)
            return
        if self._free >= self.total:
            raise RuntimeError("CpuSlots released more often than acquired")
        self._free += 1

    def _next_waiter(self) -> asyncio.Future[None] | None:
        """The live waiter a freed slot goes to: the long line's head once it waited its bound, else the
        short line's, else the long line's."""
        while self._short and self._short[0].done():
            self._short.popleft()
        while self._long and self._long[0][1].done():
            self._long.popleft()
        if self._long and (not self._short or time.monotonic() - self._long[0][0] >= self.long_wait_bound_s):
            return self._long.popleft()[1]
        return self._short.popleft() if self._short else None

    async def run(
        self,
        work: Callable[[], T],
        *,
        on_full: Callable[[], Exception] | None,
        max_waiting: int = 0,
        wait_s: float = 0.0,
        fast: bool = True,
    ) -> T:
        """Run ``work`` in a worker thread while holding a slot.

        Args:
            work: The CPU work (it must not await anything).
            on_full: Builds the exception raised when no slot can be had within the bounds below; ``None``
                waits for one as long as it takes.
            max_waiting: With ``on_full``: wait in line only while fewer than this many already wait.
            wait_s: With ``on_full``: wait at most this long.
            fast: Wait in the short line (short work) rather than the long one.
        """
        if on_full is None:
            await self.acquire(fast=fast)
        elif not (self.try_acquire() or await self._wait_in_line(max_waiting, wait_s)):
            raise on_full()
        try:
            return await to_thread.run_sync(work)
        finally:
            self.release()

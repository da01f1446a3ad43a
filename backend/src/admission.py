"""Admission: the one decision taken before a verification does any work, and where refusals are counted.

A request is refused with 503 + Retry-After, before it changes anything, when the service is still warming
up or failed to start, when every CPU slot is taken (``MAX_CONCURRENT_REQUESTS``), or when memory has no
room for it (:class:`factmem.memory.guard.MemoryGuard`): a refusal the client retries costs nothing, a queue
of requests each holding model activations is how a small instance runs out of memory. Every refusal, of
every reason, is counted here and told to the observer (the Prometheus metrics), so ``/health``, ``/stats``
and ``/metrics`` agree.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Protocol, TypeVar

from factmem.cpu_slots import CpuSlots
from factmem.errors import OverloadedError
from factmem.memory.guard import MemoryGuard

T = TypeVar("T")

#: Why a request was refused; label values of ``factmem_requests_shed_total``.
REFUSAL_REASONS = ("memory", "concurrency", "providers_busy", "warming_up", "startup_failed")


class RefusalObserver(Protocol):
    """Told about every refused request (e.g. to count it); must not raise."""

    def request_shed(self, reason: str) -> None: ...


class Admission:
    """Shared by all requests of the process.

    Args:
        guard: decides whether memory has room for one more request.
        slots: the CPU slots verifications hold while they compute.
        retry_after_s: the ``Retry-After`` of every refusal (``RETRY_AFTER_S``).
        observer: told about every refusal.
        max_queued: new verifications that may wait for a CPU slot (``MAX_QUEUED_REQUESTS``): one waiting
            holds only its request body, so a burst is served in turn instead of refused.
        max_queue_wait_s: the longest one waits (``MAX_QUEUE_WAIT_S``) before it is refused.
    """

    def __init__(
        self,
        guard: MemoryGuard,
        slots: CpuSlots,
        *,
        retry_after_s: int,
        observer: RefusalObserver | None = None,
        max_queued: int = 0,
        max_queue_wait_s: float = 0.0,
    ) -> None:
        self.guard = guard
        self.slots = slots
        self.max_queued = max_queued
        self.max_queue_wait_s = max_queue_wait_s
        self.retry_after_s = retry_after_s
        self.observer = observer
        self.admitted = 0
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()  # refusals are counted from the event loop and from worker threads

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def refuse(self, reason: str, message: str) -> OverloadedError:
        """Count a refusal for ``reason`` and return the error that answers it (503 + Retry-After)."""
        with self._lock:
            self.refused[reason] += 1
        if self.observer is not None:
            self.observer.request_shed(reason)
        return OverloadedError(message, self.retry_after_s)

    def _require_room(self) -> None:
        """Refuse (503) when memory has no room for one more verification; run in a worker thread."""
        if not self.guard.has_room():
            raise self.refuse("memory", "server is low on memory; retry shortly")

    async def run_new_verification(self, work: Callable[[], T]) -> T:
        """Admit a new verification and run its first CPU work, or raise ``OverloadedError``.

        A CPU slot first: at once if one is free, else in a short, bounded line (``max_queued`` waiting,
        each at most ``max_queue_wait_s``; beyond either, refused); then, in the worker thread that holds
        it, room in memory (checking may run a cleanup, which must not hold up the event loop); then
        ``work``. A request refused for memory gives its slot straight back.
        """

        def admitted_work() -> T:
            self._require_room()
            with self._lock:
                self.admitted += 1
            return work()

        def no_free_slot() -> OverloadedError:
            return self.refuse("concurrency", "too many concurrent verifications; retry shortly")

        return await self.slots.run(
            admitted_work, on_full=no_free_slot, max_waiting=self.max_queued, wait_s=self.max_queue_wait_s
        )

    async def run_verification_needing_the_model(self, work: Callable[[], T]) -> T:
        """Run the rest of an admitted verification whose claim the memory does not hold.

        Its first step found that it needs the model, so it gave its slot back and waits in the long line
        (``CpuSlots``: short work goes first) as long as it takes. Memory is checked again in the worker
        thread before the model runs: requests admitted meanwhile may have filled it.
        """

        def work_if_room() -> T:
            self._require_room()
            return work()

        return await self.slots.run(work_if_room, on_full=None, fast=False)

    async def run_returning_verification(self, work: Callable[[], T]) -> T:
        """Run the last CPU work of a verification coming back from a remote provider.

        It was admitted already and its outbound call is paid for, so it queues for a CPU slot in the short
        line (a few milliseconds of work are left; new requests are refused meanwhile) instead of being
        shed.
        """
        return await self.slots.run(work, on_full=None)

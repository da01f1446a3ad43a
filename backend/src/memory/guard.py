"""The memory guard: clean up early, and tell admission when memory is too high to serve one more request.

Before each ``/verify`` the guard reads the process's memory (a cheap kernel-file read). Above the soft
threshold it runs a cleanup (``gc.collect`` + ``malloc_trim``); if anonymous memory is still above the hard
threshold there is no room, and admission (:mod:`factmem.admission`) refuses the request with 503 +
Retry-After before it changes anything. Every N requests it cleans up anyway, so fragmentation never
accumulates. With ``release_file_pages`` a soft-threshold cleanup also hands file-backed pages back to the
kernel, at most once per ``file_pages_interval_s``: the pages in use are read back after each release, so
doing it on every request over the threshold would only thrash.

An optional ``CleanupObserver`` (the Prometheus metrics, in the app) hears of every cleanup; it is
duck-typed so this module never imports a metrics library.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from factmem.memory.cleanup import CleanupResult, cleanup_memory
from factmem.memory.limits import MemoryCheck, Thresholds, check_memory
from factmem.memory.readings import get_memory_usage

if TYPE_CHECKING:
    from factmem.settings import Settings

logger = logging.getLogger(__name__)

_MB = 1024 * 1024

#: Why a cleanup ran: after warm-up, over the soft threshold, or on the every-N cadence.
CLEANUP_REASONS = ("ready", "soft-threshold", "periodic")

#: The generation each reason collects (a full collection when not listed). The cadence cleanup only has to
#: free what recent requests left behind; Python's own collector still walks the old generation on its
#: schedule, and pressure (the soft threshold) always gets a full collection.
_COLLECTED_GENERATION = {"periodic": 1}


class CleanupObserver(Protocol):
    """Told about every cleanup (e.g. to count it); must not raise."""

    def memory_cleaned(self, reason: str, released_bytes: int) -> None: ...


@dataclass(frozen=True)
class GuardPolicy:
    """The guard's settings; :meth:`from_settings` is the only place they are read from ``Settings``."""

    #: the ``MEMORY_LIMIT_MB`` setting (a stricter container limit still wins, reading by reading)
    limit_mb: float | None
    thresholds: Thresholds
    cleanup_every: int
    release_file_pages: bool
    #: at most one file-page release per this many seconds over the soft threshold
    file_pages_interval_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardPolicy:
        return cls(
            limit_mb=settings.memory_limit_mb,
            thresholds=Thresholds(settings.memory_soft_fraction, settings.memory_hard_fraction),
            cleanup_every=settings.memory_cleanup_every,
            release_file_pages=settings.memory_release_file_pages,
        )


class MemoryGuard:
    """Shared by all requests of the process; thread-safe."""

    def __init__(
        self,
        policy: GuardPolicy,
        observer: CleanupObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.observer = observer
        self._clock = clock
        self._file_pages_released_at: float | None = None
        self._lock = threading.Lock()
        self._finished_requests = 0
        self.cleanups = 0
        self.last_check: MemoryCheck | None = None

    def check(self) -> MemoryCheck:
        """A fresh reading against the policy's thresholds (cheap: a few kernel-file reads)."""
        check = check_memory(get_memory_usage(self.policy.limit_mb), self.policy.thresholds)
        self.last_check = check
        return check

    @property
    def shedding(self) -> bool:
        """Whether the latest reading was over the hard threshold (readiness reports it)."""
        return self.last_check is not None and self.last_check.over_hard

    def has_room(self) -> bool:
        """Whether memory allows one more request; over the soft threshold it cleans up first."""
        check = self.check()
        if check.over_soft:
            self.cleanup("soft-threshold", release_file_pages=self._file_pages_release_due())
            check = self.check()
        if check.over_hard:
            logger.warning(
                "memory shed rss_mb=%.1f rss_anon_mb=%s limit_mb=%s hard_fraction=%.2f",
                check.usage.rss_mb,
                check.usage.rss_anon_mb,
                check.limit_mb,
                self.policy.thresholds.hard_fraction,
            )
        return not check.over_hard

    def after_request(self) -> bool:
        """Count one served request; whether it is the N-th since the last periodic cleanup (the caller
        schedules that cleanup, after the response is sent)."""
        with self._lock:
            self._finished_requests += 1
            return self._finished_requests % self.policy.cleanup_every == 0

    def _file_pages_release_due(self) -> bool:
        if not self.policy.release_file_pages:
            return False
        now = self._clock()
        with self._lock:
            last = self._file_pages_released_at
            if last is not None and now - last < self.policy.file_pages_interval_s:
                return False
            self._file_pages_released_at = now
        return True

    def cleanup(self, reason: str, *, release_file_pages: bool = False) -> CleanupResult:
        """Collect, trim and (when asked) release file-backed pages; counted and logged under ``reason``."""
        result = cleanup_memory(
            release_file_pages=release_file_pages, generation=_COLLECTED_GENERATION.get(reason, 2)
        )
        with self._lock:
            self.cleanups += 1
        if self.observer is not None:
            self.observer.memory_cleaned(reason, round(max(0.0, result.released_mb) * _MB))
        logger.info(
            "memory cleanup reason=%s rss_before_mb=%.1f rss_after_mb=%.1f released_mb=%.1f "
            "file_released_mb=%.1f duration_ms=%.1f",
            reason,
            result.rss_before_mb,
            result.rss_after_mb,
            result.released_mb,
            result.file_released_mb,
            result.duration_ms,
        )
        return result

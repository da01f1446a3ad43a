"""Admission control by memory: clean up early, shed load before the platform kills the process.

Before each ``/verify`` the guard reads the process's memory (a cheap ``/proc`` read). Above the soft
threshold it runs a cleanup (``gc.collect`` + ``malloc_trim``); if anonymous memory is still above the hard
threshold the request is refused with 503 + Retry-After and changes nothing. Every N requests it cleans up
anyway, so fragmentation never accumulates. With ``release_file_pages`` a soft-threshold cleanup also hands
file-backed pages back to the kernel (at most once per ``file_pages_interval_s``: the pages in use are read
back after each release, so doing it on every request over the threshold would only thrash). Anonymous RSS
is what it compares: file-backed pages of the vector store's mmap can be dropped by the kernel and do not get
a container killed.

An optional ``GuardObserver`` (the Prometheus metrics, in the app) hears of every cleanup and shed; it is
duck-typed so this module never imports a metrics library.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from factmem.errors import OverloadedError
from factmem.memory_monitor import CleanupResult, MemoryCheck, check_memory_limit, cleanup_memory

logger = logging.getLogger(__name__)

_MB = 1024 * 1024


class GuardObserver(Protocol):
    """Told about cleanups and refused requests (e.g. to count them); must not raise."""

    def memory_cleaned(self, reason: str, released_bytes: int) -> None: ...

    def request_shed(self, reason: str) -> None: ...


@dataclass(frozen=True)
class GuardPolicy:
    limit_mb: float | None = 512.0
    soft_fraction: float = 0.80
    hard_fraction: float = 0.95
    cleanup_every: int = 10
    retry_after_s: int = 5
    release_file_pages: bool = False
    file_pages_interval_s: float = 30.0


class MemoryGuard:
    """Shared by all requests of the process; thread-safe."""

    def __init__(
        self,
        policy: GuardPolicy,
        observer: GuardObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.observer = observer
        self._clock = clock
        self._file_pages_released_at: float | None = None
        self._lock = threading.Lock()
        self.requests_admitted = 0
        self.requests_shed = 0
        self.cleanups = 0
        self.released_mb_total = 0.0
        self.last_check: MemoryCheck | None = None

    def check(self) -> MemoryCheck:
        """A fresh reading against the policy's thresholds (cheap: a ``/proc`` read)."""
        check = check_memory_limit(
            self.policy.limit_mb,
            soft_fraction=self.policy.soft_fraction,
            hard_fraction=self.policy.hard_fraction,
        )
        self.last_check = check
        return check

    @property
    def shedding(self) -> bool:
        """Whether the latest reading was over the hard threshold (readiness reports it)."""
        return self.last_check is not None and self.last_check.over_hard

    def admit(self) -> None:
        """Raise ``OverloadedError`` when memory is too high to serve one more request."""
        check = self.check()
        if check.over_soft:
            self.cleanup("soft-threshold", release_file_pages=self._file_pages_release_due())
            check = self.check()
        if check.over_hard:
            with self._lock:
                self.requests_shed += 1
            if self.observer is not None:
                self.observer.request_shed("memory")
            logger.warning(
                "memory shed rss_mb=%.1f rss_anon_mb=%s limit_mb=%s hard_fraction=%.2f",
                check.usage.rss_mb,
                check.usage.rss_anon_mb,
                check.limit_mb,
                self.policy.hard_fraction,
            )
            raise OverloadedError("server is low on memory; retry shortly", self.policy.retry_after_s)
        with self._lock:
            self.requests_admitted += 1

    def after_request(self) -> bool:
        """Whether this request is the N-th since the last periodic cleanup (the caller schedules it)."""
        with self._lock:
            return self.requests_admitted % self.policy.cleanup_every == 0

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
        result = cleanup_memory(release_file_pages=release_file_pages)
        with self._lock:
            self.cleanups += 1
            self.released_mb_total += max(0.0, result.released_mb)
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

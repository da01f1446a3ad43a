"""One memory cleanup: collect garbage, give freed heap pages back, and (when asked) clean file pages too.

CPython's collector frees objects into malloc, but glibc keeps freed arenas mapped, so RSS does not fall
until ``malloc_trim(0)``. ``release_file_pages`` also asks the kernel to reclaim the file-backed pages (see
:mod:`factmem.memory.file_pages`): worth it once after startup and under pressure, not on every cleanup,
because the pages in use must then be read back. What the last cleanup released is kept for ``/health``.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

from factmem.memory import file_pages
from factmem.memory.allocator import malloc_trim
from factmem.memory.kernel_files import kb_to_mb, read_status

_KB_PER_MB = 1024.0

_cleanup_lock = threading.Lock()
_last_cleanup_released_mb = 0.0


@dataclass(frozen=True)
class CleanupResult:
    """What one ``cleanup_memory()`` achieved; ``released_mb`` is the RSS drop, never negative."""

    rss_before_mb: float
    rss_after_mb: float
    released_mb: float
    anon_before_mb: float | None
    anon_after_mb: float | None
    gc_collected: int
    trimmed: bool
    duration_ms: float
    #: file-backed RSS handed back by ``release_file_pages`` (0.0 when not asked or not supported)
    file_released_mb: float = 0.0


def cleanup_memory(
    *, proc: str = "/proc", release_file_pages: bool = False, generation: int = 2
) -> CleanupResult:
    """Run ``gc.collect(generation)`` (2: a full collection), then ``malloc_trim(0)``, then (when asked)
    release file pages.

    A young-generation collection (``generation=1``) frees the cycles a request left behind without walking
    every long-lived object: the process's caches keep thousands of tracked objects in the old generation,
    and a full walk holds the GIL that long for every thread.

    A module lock keeps concurrent requests from running two cleanups at once (the second would only cost
    time).
    """
    global _last_cleanup_released_mb
    with _cleanup_lock:
        started = time.perf_counter()
        before = read_status(proc)
        collected = gc.collect(generation)
        trimmed = malloc_trim()
        if release_file_pages:
            file_pages.release_file_pages()
        after = read_status(proc)
        rss_before = kb_to_mb(before.get("VmRSS")) or 0.0
        rss_after = kb_to_mb(after.get("VmRSS")) or 0.0
        released = max(0.0, rss_before - rss_after)
        _last_cleanup_released_mb = released
        return CleanupResult(
            rss_before_mb=rss_before,
            rss_after_mb=rss_after,
            released_mb=released,
            anon_before_mb=kb_to_mb(before.get("RssAnon")),
            anon_after_mb=kb_to_mb(after.get("RssAnon")),
            gc_collected=collected,
            trimmed=trimmed,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            file_released_mb=max(0.0, _file_kb(before) - _file_kb(after)) / _KB_PER_MB
            if release_file_pages
            else 0.0,
        )


def last_cleanup_released_mb() -> float:
    """RSS the last ``cleanup_memory()`` of this process released (0.0 before the first)."""
    return _last_cleanup_released_mb


def _file_kb(status: dict[str, int]) -> int:
    """File-backed resident kB of a status reading (shared memory included, as in ``rss_file_mb``)."""
    return status.get("RssFile", 0) + status.get("RssShmem", 0)

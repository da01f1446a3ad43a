"""glibc's allocator, told to give memory back: fewer arenas, large buffers mmap'd, free pages trimmed.

Freed memory does not leave a process by itself: CPython frees into malloc, and glibc keeps freed heap pages,
per-thread arenas and the buffers under its adaptive mmap threshold. For a service judged by its RSS these
three calls decide whether "freed" means "returned". Each is a no-op returning False outside glibc
(musl/Alpine, macOS, Windows), so callers need not care which libc the container has; none raises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factmem.settings import Settings

# glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def malloc_trim() -> bool:
    """Ask glibc to return free heap memory to the OS; True if ``malloc_trim(0)`` ran."""
    libc = _libc()
    if libc is None:
        return False
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    try:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
        trim(0)
    except (OSError, AttributeError, TypeError, ctypes.ArgumentError):
        return False
    return True


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (like ``MALLOC_ARENA_MAX``); True if the cap was applied.

    glibc gives busy threads their own heap arenas (up to 8 per core); a thread pool running model
    inference then fragments memory across arenas and RSS climbs under concurrency without any leak. Call it
    before worker threads start. A no-op returning False for ``arenas < 1``.
    """
    return arenas >= 1 and _mallopt(_M_ARENA_MAX, arenas)


def set_malloc_mmap_threshold(kib: int) -> bool:
    """Serve allocations of ``kib`` KiB and more with their own ``mmap`` (like ``MALLOC_MMAP_THRESHOLD_``).

    glibc starts at 128 KiB but raises the threshold to the size of every mmap'd block freed (up to 32
    MiB), so after the first long text the model's activation tensors (1-3 MB each) come from the heap,
    and what a burst of long texts needed stays there, fragmented. A fixed threshold gives each such
    tensor back to the OS when it is freed, for a few page faults on fresh pages. A no-op returning False
    for ``kib < 1`` (glibc's adaptive default).
    """
    return kib >= 1 and _mallopt(_M_MMAP_THRESHOLD, kib * 1024)


def configure_allocator(settings: Settings) -> None:
    """``MALLOC_ARENAS`` and ``MALLOC_MMAP_THRESHOLD_KB``, for every process that runs the model (the server,
    the operator commands, the benchmark's builders). Call it before any worker thread exists: threads made
    later share these arenas instead of fragmenting new ones."""
    limit_malloc_arenas(settings.malloc_arenas)
    set_malloc_mmap_threshold(settings.malloc_mmap_threshold_kb)


def _mallopt(param: int, value: int) -> bool:
    """glibc ``mallopt``; False outside glibc or when glibc refuses the value. Never raises."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    try:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        return bool(mallopt(param, value))
    except (OSError, AttributeError, TypeError, ctypes.ArgumentError):
        return False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once; None where it cannot be loaded."""
    try:
        return ctypes.CDLL(None)  # the process's global symbols: glibc/musl on Linux
    except (OSError, TypeError):
        pass
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None

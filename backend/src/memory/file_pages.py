"""Hand back the file-backed pages the process touched once, so RSS shows what the service uses.

After startup much of factmem's RSS is file-backed pages it will not touch again: shared-library code that
only runs while loading (onnxruntime registers every kernel it has, Qdrant Edge opens its segments, numpy and
the tokenizer initialise), and store pages read once. Such clean pages never get a container killed (the
kernel drops them under pressure and reads them back on demand), but until then they count in RSS, in the
container's usage and in this service's soft threshold, which then report history instead of need.
``madvise(MADV_PAGEOUT)`` (Linux 5.4+) asks the kernel to reclaim them now; the pages the service really
uses fault back in on first touch (read from disk once), so RSS afterwards measures the working set. The
README has what it releases.

It is a hint and loses nothing: the kernel skips pages other processes also map (a shared libc stays where
it is), keeps dirty pages of shared file mappings until they are written back, and anonymous memory is
never passed to it. Where the call does not exist (other systems, older kernels) it does nothing.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import sys
from collections.abc import Callable

__all__ = ["file_backed_ranges", "release_file_pages"]

logger = logging.getLogger(__name__)

#: linux/mman-common.h (since 5.4)
_MADV_PAGEOUT = 21

#: Mappings of these are device memory or shared memory with no file to read back from.
_SKIPPED_PREFIXES = ("/dev/", "/memfd:", "/SYSV")


def release_file_pages(maps_path: str = "/proc/self/maps") -> int | None:
    """Ask the kernel to reclaim this process's file-backed pages; how many mappings it accepted.

    ``None`` when the system cannot do it (not Linux, no ``madvise``, or a kernel older than 5.4), so the
    caller can report "unsupported" rather than "nothing to release". Never raises. ctypes drops the GIL
    during each call, so other threads keep running (the whole pass takes a few milliseconds).
    """
    madvise = _madvise()
    if madvise is None:
        return None
    try:
        ranges = file_backed_ranges(_read_maps(maps_path))
    except OSError:
        return None
    accepted = 0
    for start, length in ranges:
        if madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), _MADV_PAGEOUT) == 0:
            accepted += 1
            continue
        error = ctypes.get_errno()
        if error == errno.EINVAL and accepted == 0:
            logger.info("MADV_PAGEOUT is not supported by this kernel; file pages stay resident")
            return None
        # ENOMEM: the mapping went away meanwhile (a store segment was replaced); EPERM/EAGAIN: locked or
        # busy pages. Nothing to do about either: the rest is still worth releasing.
    return accepted


def file_backed_ranges(maps_text: str) -> list[tuple[int, int]]:
    """(start, length) of each mapping in ``/proc/<pid>/maps`` text with a file to read pages back from."""
    ranges = []
    for line in maps_text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6:
            continue  # anonymous memory: never passed on
        path = fields[5]
        if not path.startswith("/") or path.startswith(_SKIPPED_PREFIXES):
            continue  # [heap], [stack], [vdso], device and shared memory
        start_hex, _, end_hex = fields[0].partition("-")
        try:
            start, end = int(start_hex, 16), int(end_hex, 16)
        except ValueError:
            continue
        if end > start:
            ranges.append((start, end - start))
    return ranges


def _read_maps(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as maps:
        return maps.read()


@functools.cache
def _madvise() -> Callable[..., int] | None:
    """libc's ``madvise`` with errno captured, or None where MADV_PAGEOUT cannot exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise

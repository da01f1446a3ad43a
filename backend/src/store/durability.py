"""Whether an embedded store may take writes: room on its disk, and flushes that succeed.

Qdrant Edge maps pre-sized, sparse files (a new shard maps ~80 MB per collection of which a few hundred KB
are allocated) and writes into them through the mapping. A write that lands in a hole when the filesystem
is full cannot fail with an error: the kernel sends SIGBUS and the process dies without a log line (on tmpfs
and on ext4 alike), and a restart on the still-full disk dies again. So the store never writes unless the
disk has room for every hole its files may still fill *plus* ``reserve_bytes`` for what it creates (new
segments, the manifest, the model cache); below that, writes are refused with a reason until space returns.

A flush that fails (a disk turned read-only, an I/O error) keeps its writes pending and is retried; until one
succeeds, new writes are refused too, so nothing is acknowledged that the disk is not taking.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factmem.errors import StoreUnavailableError
from factmem.libc_keeping_gil import libc_function

_MB = 1024 * 1024


@dataclass(frozen=True)
class StorageStatus:
    """What ``/health`` and ``/metrics`` say about a store's ability to take writes."""

    writable: bool
    reason: str | None = None
    #: below the free-space reserve (507: make room); otherwise a refusal is a failing disk (503)
    disk_full: bool = False
    disk_free_bytes: int | None = None
    #: free space minus the holes the store's files may still fill: what a write can really use
    disk_headroom_bytes: int | None = None
    disk_reserve_bytes: int | None = None
    flush_failures: int = 0

    def as_dict(self) -> dict[str, object]:
        def mb(value: int | None) -> float | None:
            return None if value is None else round(value / _MB, 1)

        return {
            "writable": self.writable,
            "reason": self.reason,
            "disk_free_mb": mb(self.disk_free_bytes),
            "disk_headroom_mb": mb(self.disk_headroom_bytes),
            "disk_reserve_mb": mb(self.disk_reserve_bytes),
            "flush_failures": self.flush_failures,
        }


class _Statvfs(ctypes.Structure):
    """glibc's and musl's ``struct statvfs`` on 64-bit Linux: eleven longs, then spare room."""

    _fields_ = [
        (name, ctypes.c_ulong)
        for name in (
            "f_bsize",
            "f_frsize",
            "f_blocks",
            "f_bfree",
            "f_bavail",
            "f_files",
            "f_ffree",
            "f_favail",
            "f_fsid",
            "f_flag",
            "f_namemax",
        )
    ] + [("spare", ctypes.c_int * 16)]


@functools.cache
def _statvfs_keeping_gil() -> Any | None:
    """libc's ``statvfs``, called keeping the GIL (:mod:`factmem.libc_keeping_gil`); None where it cannot
    be, or where the struct's layout above is not known to hold."""
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_ulong) != 8:
        return None
    return libc_function("statvfs", [ctypes.c_char_p, ctypes.POINTER(_Statvfs)], ctypes.c_int)


def free_space(directory: Path) -> tuple[int, bool]:
    """Bytes an unprivileged writer may still use under ``directory``, and whether it is read-only.

    Every store write asks this, holding its point's lock: made through ``os.statvfs``, winning the GIL
    back afterwards would keep the lock held behind every busy worker thread, so it keeps the GIL where
    libc allows. Raises ``OSError`` like ``os.statvfs``.
    """
    statvfs = _statvfs_keeping_gil()
    if statvfs is None:
        st = os.statvfs(directory)
        return st.f_bavail * st.f_frsize, bool(st.f_flag & os.ST_RDONLY)
    result = _Statvfs()
    if statvfs(os.fsencode(directory), ctypes.byref(result)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), str(directory))
    return result.f_bavail * result.f_frsize, bool(result.f_flag & os.ST_RDONLY)


def sparse_hole_bytes(directory: Path) -> int:
    """Bytes the files under ``directory`` span but have not allocated (what writes into them may claim)."""
    holes = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:  # replaced while we looked (an index build swaps segments)
                continue
            holes += max(0, st.st_size - st.st_blocks * 512)
    return holes


class WriteGate:
    """Decides, for one store directory, whether writes may go ahead; thread-safe and cheap to ask.

    Each write reads the filesystem's free space and read-only flag (one ``statvfs``); the holes of the
    store's files (a walk of a few dozen files) are re-read at most every ``refresh_s`` (a write that fills
    a hole lowers free space and holes alike, so the headroom in between stays right). Flush outcomes are
    reported by the store as they happen.

    A status question that is not about to write (``/health``, ``/metrics``) takes the last reading while it
    is younger than ``reading_max_age_s``: the store's flusher re-reads the disk every flush interval, and a
    ``statvfs`` or ``stat`` releases the GIL, which the event loop then waits to get back behind every busy
    worker thread.
    """

    #: How old the holes' reading may be when a write asks, unless the owner refreshes it more often.
    REFRESH_S = 0.5

    def __init__(
        self,
        directory: Path,
        reserve_bytes: int,
        *,
        holes_root: Path | None = None,
        refresh_s: float = REFRESH_S,
        reading_max_age_s: float = 0.0,
    ) -> None:
        self.directory = directory
        #: where every store sharing this disk keeps its files: their holes compete for the same free space
        self.holes_root = holes_root or directory
        self.reserve_bytes = reserve_bytes
        self.refresh_s = refresh_s
        self.reading_max_age_s = reading_max_age_s
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._statvfs_at = float("-inf")
        self._free: int | None = None
        self._headroom: int | None = None
        self._holes: int | None = None
        self._read_only = False
        self.flush_failures = 0
        self.last_flush_error: str | None = None

    def _refresh(self, force: bool = False) -> None:
        """Re-read the filesystem's state (one ``statvfs``: microseconds, on every write) and, at most every
        ``refresh_s``, the holes of the store's files (a walk of a few dozen files)."""
        now = time.monotonic()
        try:
            free, read_only = free_space(self.directory)
        except OSError:
            with self._lock:
                self._free = self._headroom = None
            return
        with self._lock:
            stale = force or now - self._read_at >= self.refresh_s
            holes = self._holes if not stale else None
        if holes is None:
            holes = sparse_hole_bytes(self.holes_root)
        with self._lock:
            self._free, self._headroom, self._holes, self._read_only = free, free - holes, holes, read_only
            self._statvfs_at = now
            if stale:
                self._read_at = now

    def status(self, *, fresh: bool = False) -> StorageStatus:
        """Whether writes may go ahead: ``fresh`` re-reads everything now; otherwise the last reading serves
        while it is younger than ``reading_max_age_s``."""
        with self._lock:
            reading_age = time.monotonic() - self._statvfs_at
        if fresh or reading_age >= self.reading_max_age_s:
            self._refresh(force=fresh)
        return self._current()

    def _current(self) -> StorageStatus:
        with self._lock:
            free, headroom, failures = self._free, self._headroom, self.flush_failures
            read_only = self._read_only
        disk_full = headroom is not None and headroom < self.reserve_bytes
        reason = None
        if read_only:
            reason = (
                f"the filesystem under {self.directory} has turned read-only (an I/O error, or remounted); "
                "writes are refused until it is writable again"
            )
        elif disk_full:  # first: a full disk also makes flushes fail (ENOSPC), and space is the remedy
            reason = (
                f"disk almost full under {self.directory}: {free / _MB:.1f} MB free, of which "
                f"{(free - headroom) / _MB:.1f} MB are promised to the stores' mapped files; writes need "
                f"{self.reserve_bytes / _MB:.0f} MB beyond that (DISK_RESERVE_MB); free space to resume"
            )
        elif failures:
            reason = (
                f"flushing to disk failed {failures} time(s) in a row ({self.last_flush_error}); writes are "
                "refused until a flush succeeds (retried every flush interval)"
            )
        return StorageStatus(
            writable=reason is None,
            reason=reason,
            disk_full=disk_full and not read_only,
            disk_free_bytes=free,
            disk_headroom_bytes=headroom,
            disk_reserve_bytes=self.reserve_bytes,
            flush_failures=failures,
        )

    def require_writable(self, *, probe: bool = False) -> None:
        """Raise ``StoreUnavailableError`` unless a write may go ahead now.

        ``probe`` also writes and syncs a small file (an admin write checks the filesystem takes writes
        before it changes anything, so a disk turned read-only is refused up front, not half-way).
        """
        self._refresh(force=probe)
        status = self._current()
        if not status.writable:
            raise StoreUnavailableError(status.reason or "store not writable", disk_full=status.disk_full)
        if probe:
            self._probe()

    def _probe(self) -> None:
        path = self.directory.with_name(self.directory.name + ".write-probe")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"ok\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreUnavailableError(
                f"the filesystem under {self.directory} refuses writes ({exc.strerror}); nothing was written",
                disk_full=False,
            ) from exc

    def flush_succeeded(self) -> None:
        with self._lock:
            self.flush_failures = 0
            self.last_flush_error = None

    def flush_failed(self, error: str) -> None:
        with self._lock:
            self.flush_failures += 1
            self.last_flush_error = error

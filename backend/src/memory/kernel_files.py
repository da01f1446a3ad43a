"""Reading the small text files of /proc and the cgroup filesystem, cheaply enough for every request.

Memory readings happen before each ``/verify`` and on every ``/health``, so how they read matters more than
what they read. Kernel files stay open and are re-read with one ``pread`` at offset 0 (the kernel
regenerates them): one syscall instead of open, read and close. What made ``/health`` slow under load was not
the reads but winning the GIL back after each of them, so ``_pread`` keeps the GIL (the README has the
measurement). Files outside /proc and /sys (the test fixtures) are read the ordinary way.

Every reader swallows ``OSError``/``ValueError``: telemetry yields fewer values (``None`` or an empty dict)
rather than failing a request. Only the stdlib is used so this can be imported before anything heavy.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from typing import Any

from factmem.libc_keeping_gil import libc_function

_MB = 1024 * 1024
_KB_PER_MB = 1024.0

_KERNEL_ROOTS = ("/proc/", "/sys/")
_kernel_fds: dict[str, int] = {}
#: One read covers /proc/self/status (~1.5 kB) and every cgroup file we read, with a buffer small enough to
#: come from malloc's small bins on every request.
_KERNEL_READ_BYTES = 8192
_kernel_fds_lock = threading.Lock()

#: /proc/self/status keys we read, all in kB.
STATUS_KEYS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "VmSize")


def read_text(path: str) -> str | None:
    """The whole file, or None. Raw ``os`` calls because this runs on every request and a buffered text
    file object costs more than the read itself for these tiny kernel files."""
    if path.startswith(_KERNEL_ROOTS):
        return _read_kernel_file(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 8192):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", errors="replace")


def read_status(proc: str) -> dict[str, int]:
    """The kB values of ``{proc}/self/status`` named in ``STATUS_KEYS``; missing lines are simply absent."""
    text = read_text(os.path.join(proc, "self", "status"))
    values: dict[str, int] = {}
    if text is None:
        return values
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if sep and key in STATUS_KEYS:
            try:
                values[key] = int(rest.split()[0])  # "   1576 kB"
            except (IndexError, ValueError):
                continue
            if len(values) == len(STATUS_KEYS):
                break  # the rest of the file (signals, capabilities, cpus) is of no interest
    return values


def read_mem_available_mb(proc: str) -> float | None:
    """``MemAvailable`` of ``{proc}/meminfo`` in MB: what the host could still give."""
    text = read_text(os.path.join(proc, "meminfo"))
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            try:
                return int(line.split()[1]) / _KB_PER_MB
            except (IndexError, ValueError):
                return None
    return None


def read_bytes_as_mb(path: str) -> float | None:
    """A single-number cgroup file in bytes, as MB; None for "max", unreadable or malformed."""
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    try:
        return int(text) / _MB
    except ValueError:
        return None


def read_keyed_ints(path: str) -> dict[str, int]:
    """A flat-keyed cgroup file (``key value`` per line, e.g. memory.events); bad lines skipped."""
    text = read_text(path)
    values: dict[str, int] = {}
    if text is None:
        return values
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                values[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return values


def read_keyed_int(path: str, key: str) -> int | None:
    """One value of a flat-keyed cgroup file, found without splitting the rest (memory.stat has 30–60
    lines and only one of them is wanted); None when the file or the key is missing or malformed."""
    text = read_text(path)
    if text is None:
        return None
    needle = key + " "
    if text.startswith(needle):
        start = len(needle)
    else:
        at = text.find("\n" + needle)
        if at < 0:
            return None
        start = at + 1 + len(needle)
    end = text.find("\n", start)
    try:
        return int(text[start : end if end >= 0 else None])
    except ValueError:
        return None


def kb_to_mb(value: int | None) -> float | None:
    return None if value is None else value / _KB_PER_MB


def _read_kernel_file(path: str) -> str | None:
    fd = _kernel_fds.get(path)
    if fd is None:
        try:
            opened = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        with _kernel_fds_lock:
            fd = _kernel_fds.setdefault(path, opened)
        if fd != opened:
            os.close(opened)  # another thread opened it first
    try:
        data = _pread(fd, _KERNEL_READ_BYTES, 0)
        while len(data) % _KERNEL_READ_BYTES == 0 and data:  # larger than one read (never for these files)
            more = _pread(fd, _KERNEL_READ_BYTES, len(data))
            if not more:
                break
            data += more
    except OSError:
        with _kernel_fds_lock:
            if _kernel_fds.get(path) == fd:
                del _kernel_fds[path]
                os.close(fd)
        return None
    return data.decode("ascii", errors="replace")


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``os.pread`` without letting go of the GIL, where libc can be called that way.

    ``os.pread`` releases the GIL around the syscall; getting it back can take a switch interval (5 ms) per
    read while worker threads run Python, and ``/health`` reads four of these files. Reading a /proc or
    cgroup file takes microseconds, so holding the GIL through it costs the other threads nothing.
    """
    pread = _pread_keeping_gil()
    if pread is None:
        return os.pread(fd, size, offset)
    buffer = ctypes.create_string_buffer(size)
    count = pread(fd, buffer, size, offset)
    if count < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return buffer.raw[:count]


@functools.cache
def _pread_keeping_gil() -> Any | None:
    """libc's ``pread``, called keeping the GIL (:mod:`factmem.libc_keeping_gil`); None if absent."""
    return libc_function(
        "pread", [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long], ctypes.c_ssize_t
    )

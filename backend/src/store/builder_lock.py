"""One owner per shard, index builder included.

The server builds an embedded shard's HNSW index in a child process (``factmem.store.edge_optimize``) while
it keeps the shard's lock. Killed with SIGKILL, the server used to leave that child running for ~35 s beside
its restarted successor: two processes wrote one shard and the new server's own build failed. Two things
stop that now:

- the child asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``, Linux) and exits at
  once if the parent is already gone;
- the child holds ``<shard>.build.lock`` (an ``flock``, with its pid inside) for its whole run, and a store
  opening the shard first takes that lock: a builder still running (on a kernel without the death signal)
  is stopped and waited for before the shard is opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import time
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def build_lock_path(shard: Path) -> Path:
    return shard.with_name(shard.name + ".build.lock")


def die_with_parent(parent_pid: int) -> None:
    """In a child: be killed when the parent dies; exit now if it already has (it died before this ran)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        raise SystemExit(f"parent {parent_pid} is gone; not building")


def hold_build_lock(shard: Path) -> int:
    """In the builder: take the shard's build lock for the life of the process (returns its descriptor)."""
    fd = os.open(build_lock_path(shard), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: another builder runs
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def stop_stale_builder(shard: Path, wait_s: float = 30.0) -> None:
    """Before opening ``shard``: make sure no index builder of a previous process still writes it."""
    path = build_lock_path(shard)
    if not path.exists():
        return
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # nobody holds it
        except OSError:
            pass
        pid_text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        logger.warning(
            "a stale index builder (pid %s) still writes %s; stopping it before opening", pid_text, shard
        )
        if pid_text.isdigit():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid_text), signal.SIGKILL)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        os.close(fd)  # releases the lock taken above

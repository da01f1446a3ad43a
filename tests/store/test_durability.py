"""The write gate (``factmem.store.durability``): when it reads the disk, and what it refuses."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

from factmem.errors import StoreUnavailableError
from factmem.store import durability
from factmem.store.durability import WriteGate


@pytest.fixture
def statvfs_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = durability.free_space

    def counting(directory: Path) -> tuple[int, bool]:
        calls.append(os.fspath(directory))
        return real(directory)

    monkeypatch.setattr(durability, "free_space", counting)
    return calls


def test_free_space_is_what_os_statvfs_says(tmp_path: Path) -> None:
    """The GIL-keeping ``statvfs`` reads the same struct as Python's (here, where its layout is known)."""
    if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64"):
        assert durability._statvfs_keeping_gil() is not None
    free, read_only = durability.free_space(tmp_path)
    st = os.statvfs(tmp_path)
    assert read_only is bool(st.f_flag & os.ST_RDONLY)
    assert abs(free - st.f_bavail * st.f_frsize) <= 64 * 1024 * 1024  # other writers share the disk
    with pytest.raises(FileNotFoundError):
        durability.free_space(tmp_path / "missing")


def test_a_status_question_takes_a_young_reading_and_a_write_reads_the_disk(
    tmp_path: Path, statvfs_calls: list[str]
) -> None:
    """``/health`` asks without writing: a ``statvfs`` there releases the GIL on the event loop, so it takes
    the flusher's reading; a write always reads the disk it is about to fill."""
    gate = WriteGate(tmp_path, reserve_bytes=0, reading_max_age_s=60.0)
    assert gate.status().writable
    assert gate.status().writable
    assert len(statvfs_calls) == 1
    gate.status(fresh=True)
    assert len(statvfs_calls) == 2
    gate.require_writable()
    gate.require_writable()
    assert len(statvfs_calls) == 4


def test_without_a_reading_age_every_question_reads_the_disk(
    tmp_path: Path, statvfs_calls: list[str]
) -> None:
    gate = WriteGate(tmp_path, reserve_bytes=0)
    gate.status()
    gate.status()
    assert len(statvfs_calls) == 2


def test_below_the_reserve_writes_are_refused_with_the_reason(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    gate = WriteGate(tmp_path, reserve_bytes=free + (1 << 40), reading_max_age_s=60.0)
    status = gate.status()
    assert not status.writable and status.disk_full
    assert "disk almost full" in (status.reason or "")
    with pytest.raises(StoreUnavailableError, match="disk almost full"):
        gate.require_writable()

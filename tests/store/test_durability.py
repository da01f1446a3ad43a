"""The write gate (``factmem.store.durability``): when it reads the disk, and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factmem.errors import StoreUnavailableError
from factmem.store.durability import WriteGate


@pytest.fixture
def statvfs_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = os.statvfs

    def counting(path: str | os.PathLike[str]) -> os.statvfs_result:
        calls.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "statvfs", counting)
    return calls


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

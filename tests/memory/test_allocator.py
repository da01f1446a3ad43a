"""glibc's allocator settings (``factmem.memory.allocator``): the calls glibc gets, and no-ops elsewhere."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from factmem.memory import allocator
from factmem.memory.allocator import limit_malloc_arenas, malloc_trim, set_malloc_mmap_threshold
from factmem.memory.cleanup import cleanup_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc-only")
def test_malloc_trim_runs_on_glibc() -> None:
    assert malloc_trim() is True
    assert allocator._libc() is allocator._libc()  # looked up once


class _LibcWithoutTrim:
    """Behaves like ``ctypes.CDLL`` of a libc lacking the symbol (musl): attribute lookup fails."""

    def __getattr__(self, name: str) -> object:
        raise AttributeError(name)


@pytest.mark.parametrize("libc", [None, _LibcWithoutTrim()])
def test_malloc_trim_absent_is_a_noop(monkeypatch: pytest.MonkeyPatch, libc: object) -> None:
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    assert malloc_trim() is False
    assert cleanup_memory().trimmed is False


class _RecordingTrim:
    """Stands in for the ctypes function so the test sees the call glibc would get."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[int] = []
        self.error = error

    def __call__(self, pad: int) -> int:
        self.calls.append(pad)
        if self.error is not None:
            raise self.error
        return 1


class _FakeLibc:
    def __init__(self, trim: _RecordingTrim) -> None:
        self.malloc_trim = trim


def test_malloc_trim_calls_libc_with_zero_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    trim = _RecordingTrim()
    monkeypatch.setattr(allocator, "_libc", lambda: _FakeLibc(trim))
    assert malloc_trim() is True
    assert trim.calls == [0]


def test_malloc_trim_swallows_call_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    trim = _RecordingTrim(error=OSError("no"))
    monkeypatch.setattr(allocator, "_libc", lambda: _FakeLibc(trim))
    assert malloc_trim() is False
    assert trim.calls == [0]


class _RecordingMallopt:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


class _LibcWithMallopt:
    def __init__(self, mallopt: _RecordingMallopt) -> None:
        self.mallopt = mallopt


def test_malloc_tuning_passes_glibc_its_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    mallopt = _RecordingMallopt()
    monkeypatch.setattr(allocator, "_libc", lambda: _LibcWithMallopt(mallopt))
    assert set_malloc_mmap_threshold(128) is True
    assert limit_malloc_arenas(2) is True
    assert set_malloc_mmap_threshold(0) is False  # 0: keep glibc's adaptive threshold
    assert limit_malloc_arenas(0) is False
    assert mallopt.calls == [(-3, 128 * 1024), (-8, 2)]  # M_MMAP_THRESHOLD, M_ARENA_MAX


@pytest.mark.parametrize("libc", [None, _LibcWithoutTrim()])
def test_malloc_tuning_without_glibc_is_a_noop(monkeypatch: pytest.MonkeyPatch, libc: object) -> None:
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    assert set_malloc_mmap_threshold(128) is False
    assert limit_malloc_arenas(2) is False


_CHURN = """
import sys
import numpy as np
from factmem.memory.allocator import set_malloc_mmap_threshold

if sys.argv[1] == "fixed":
    assert set_malloc_mmap_threshold(128)

def anon_mb():
    status = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) // 1024 for line in status if line.startswith("RssAnon"))

before = anon_mb()
for _ in range(3):  # activation-sized buffers (1-3 MB), freed in another order than allocated
    blocks = [np.ones(256 * 1024 * (1 + i % 3), dtype=np.float32) for i in range(60)]
    kept = blocks[::7]
    del blocks
print(anon_mb() - before - sum(b.nbytes for b in kept) // 2**20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc-only")
def test_fixed_mmap_threshold_gives_freed_buffers_back(tmp_path: Path) -> None:
    """The reason for MALLOC_MMAP_THRESHOLD_KB: with glibc's adaptive threshold, freed multi-MB buffers stay
    in the heap (this churn keeps ~100 MB it no longer uses); with a fixed one they go back to the OS."""
    retained = {}
    for mode in ("adaptive", "fixed"):
        done = subprocess.run(
            [sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, timeout=60, check=True
        )
        retained[mode] = int(done.stdout)
    assert retained["fixed"] <= 10, retained
    assert retained["adaptive"] >= 50, retained  # the baseline the fix is measured against

"""One cleanup (``factmem.memory.cleanup``): what it collects, what it reports, and on fixture data."""

from __future__ import annotations

import gc
import platform

import pytest
from memory_fixtures import ANON_MB, PROC, RSS_MB

from factmem.memory import cleanup
from factmem.memory.cleanup import cleanup_memory
from factmem.memory.readings import get_memory_usage


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cleanup_memory_collects_and_records_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cleanup, "_last_cleanup_released_mb", -1.0)
    was_enabled = gc.isenabled()
    gc.disable()  # keep the automatic collector from freeing the cycles first
    try:
        for _ in range(1000):
            _Cycle()
        result = cleanup_memory()
    finally:
        if was_enabled:
            gc.enable()
    assert result.gc_collected >= 1000
    assert result.rss_before_mb > 0 and result.rss_after_mb > 0
    assert result.released_mb == pytest.approx(max(0.0, result.rss_before_mb - result.rss_after_mb))
    assert result.anon_before_mb is not None and result.anon_after_mb is not None
    assert 0 < result.duration_ms < 5_000
    assert result.trimmed is (platform.libc_ver()[0] == "glibc")
    assert get_memory_usage().last_cleanup_released_mb == result.released_mb


def test_cleanup_memory_on_fixture_proc() -> None:
    result = cleanup_memory(proc=str(PROC))
    assert result.rss_before_mb == pytest.approx(RSS_MB)
    assert result.rss_after_mb == pytest.approx(RSS_MB)
    assert result.released_mb == 0.0
    assert result.anon_after_mb == pytest.approx(ANON_MB)


def test_a_young_generation_cleanup_leaves_old_garbage_for_a_full_one() -> None:
    """Cycles that survived into the old generation are not walked by ``generation=1`` (that walk is what a
    cadence cleanup avoids), and a full cleanup still frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        survivors = [_Cycle() for _ in range(500)]
        gc.collect()  # the survivors are now in the oldest generation
        del survivors
        young = cleanup_memory(generation=1)
        full = cleanup_memory()
    finally:
        if was_enabled:
            gc.enable()
    assert young.gc_collected < 500
    assert full.gc_collected >= 500

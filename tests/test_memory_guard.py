"""Admission control by memory: shed over the hard threshold, recover below it, clean up on cadence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from factmem import memory_guard
from factmem.errors import OverloadedError
from factmem.memory_guard import GuardPolicy, MemoryGuard
from factmem.memory_monitor import CleanupResult, get_memory_usage


def test_admits_when_far_below_the_limit() -> None:
    guard = MemoryGuard(GuardPolicy(limit_mb=1_000_000.0))
    guard.admit()
    assert (guard.requests_admitted, guard.requests_shed, guard.shedding) == (1, 0, False)


def test_sheds_over_the_hard_threshold_then_recovers_when_memory_falls_below_it() -> None:
    rss = get_memory_usage().rss_mb
    guard = MemoryGuard(GuardPolicy(limit_mb=rss / 4, retry_after_s=7))

    with pytest.raises(OverloadedError) as refused:
        guard.admit()
    assert refused.value.retry_after_s == 7
    assert guard.shedding and guard.requests_shed == 1 and guard.requests_admitted == 0
    assert guard.cleanups == 1, "a cleanup must be tried before shedding"

    # The budget grows (or, equivalently, usage falls): the next request is served again.
    guard.policy = replace(guard.policy, limit_mb=rss * 100)
    guard.admit()
    assert not guard.shedding and guard.requests_admitted == 1


def test_soft_threshold_cleans_up_without_shedding() -> None:
    rss = get_memory_usage().rss_mb
    # Soft at 50% of a limit twice the RSS is crossed; hard at 150% is not.
    guard = MemoryGuard(GuardPolicy(limit_mb=rss * 1.5, soft_fraction=0.5, hard_fraction=1.5))
    guard.admit()
    assert guard.cleanups == 1 and guard.requests_shed == 0


@pytest.mark.parametrize("every", [1, 3, 10])
def test_periodic_cleanup_cadence(every: int) -> None:
    guard = MemoryGuard(GuardPolicy(limit_mb=1_000_000.0, cleanup_every=every))
    due = 0
    for _ in range(30):
        guard.admit()
        due += guard.after_request()
    assert due == 30 // every


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_file_pages_are_released_under_pressure_at_most_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each release makes the pages in use fault back in: over the soft threshold on every request, it would
    thrash. gc + trim still run on every one of those requests."""
    releases: list[bool] = []

    def recording_cleanup(*, release_file_pages: bool = False) -> CleanupResult:
        releases.append(release_file_pages)
        return CleanupResult(100.0, 90.0, 10.0, 80.0, 80.0, 0, True, 1.0, 5.0 if release_file_pages else 0.0)

    monkeypatch.setattr(memory_guard, "cleanup_memory", recording_cleanup)
    rss = get_memory_usage().rss_mb
    clock = _Clock()
    policy = GuardPolicy(limit_mb=rss * 1.5, soft_fraction=0.5, hard_fraction=1.5, release_file_pages=True)
    guard = MemoryGuard(replace(policy, file_pages_interval_s=30.0), clock=clock)

    for step in (0.0, 10.0, 19.9, 0.2, 31.0):
        clock.now += step
        guard.admit()
    assert releases == [True, False, False, True, True]
    assert guard.cleanups == 5 and guard.requests_shed == 0


def test_file_pages_stay_when_the_policy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    releases: list[bool] = []

    def recording_cleanup(*, release_file_pages: bool = False) -> CleanupResult:
        releases.append(release_file_pages)
        return CleanupResult(100.0, 90.0, 10.0, 80.0, 80.0, 0, True, 1.0)

    monkeypatch.setattr(memory_guard, "cleanup_memory", recording_cleanup)
    rss = get_memory_usage().rss_mb
    guard = MemoryGuard(GuardPolicy(limit_mb=rss * 1.5, soft_fraction=0.5, hard_fraction=1.5))
    guard.admit()
    guard.cleanup("periodic")
    assert releases == [False, False]

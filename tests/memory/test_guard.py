"""The memory guard: room below the hard threshold, a cleanup before saying no, cleanups on cadence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from factmem.memory import guard as guard_module
from factmem.memory.cleanup import CleanupResult
from factmem.memory.guard import CLEANUP_REASONS, GuardPolicy, MemoryGuard
from factmem.memory.limits import Thresholds
from factmem.memory.readings import get_memory_usage
from factmem.settings import Settings


def policy(limit_mb: float, soft: float = 0.8, hard: float = 0.95, **overrides: object) -> GuardPolicy:
    values: dict[str, object] = {
        "limit_mb": limit_mb,
        "thresholds": Thresholds(soft_fraction=soft, hard_fraction=hard),
        "cleanup_every": 10,
        "release_file_pages": False,
    }
    return GuardPolicy(**(values | overrides))  # type: ignore[arg-type]


def test_the_policy_comes_from_the_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        memory_limit_mb=300,
        memory_soft_fraction=0.7,
        memory_hard_fraction=0.9,
        memory_cleanup_every=4,
        memory_release_file_pages=False,
    )
    assert GuardPolicy.from_settings(settings) == GuardPolicy(
        limit_mb=300.0,
        thresholds=Thresholds(soft_fraction=0.7, hard_fraction=0.9),
        cleanup_every=4,
        release_file_pages=False,
    )


def test_room_when_far_below_the_limit() -> None:
    guard = MemoryGuard(policy(limit_mb=1_000_000.0))
    assert guard.has_room()
    assert (guard.cleanups, guard.shedding) == (0, False)


def test_no_room_over_the_hard_threshold_then_room_again_when_memory_falls_below_it() -> None:
    rss = get_memory_usage().rss_mb
    guard = MemoryGuard(policy(limit_mb=rss / 4))

    assert not guard.has_room()
    assert guard.shedding
    assert guard.cleanups == 1, "a cleanup must be tried before shedding"

    # The budget grows (or, equivalently, usage falls): the next request is served again.
    guard.policy = replace(guard.policy, limit_mb=rss * 100)
    assert guard.has_room()
    assert not guard.shedding


def test_soft_threshold_cleans_up_without_shedding() -> None:
    rss = get_memory_usage().rss_mb
    # Soft at 50% of a limit twice the RSS is crossed; hard at 150% is not.
    guard = MemoryGuard(policy(limit_mb=rss * 1.5, soft=0.5, hard=1.5))
    assert guard.has_room()
    assert guard.cleanups == 1 and not guard.shedding


@pytest.mark.parametrize("every", [1, 3, 10])
def test_periodic_cleanup_cadence(every: int) -> None:
    guard = MemoryGuard(policy(limit_mb=1_000_000.0, cleanup_every=every))
    due = 0
    for _ in range(30):
        assert guard.has_room()
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

    def recording_cleanup(*, release_file_pages: bool = False, generation: int = 2) -> CleanupResult:
        releases.append(release_file_pages)
        return CleanupResult(100.0, 90.0, 10.0, 80.0, 80.0, 0, True, 1.0, 5.0 if release_file_pages else 0.0)

    monkeypatch.setattr(guard_module, "cleanup_memory", recording_cleanup)
    rss = get_memory_usage().rss_mb
    clock = _Clock()
    pressured = policy(limit_mb=rss * 1.5, soft=0.5, hard=1.5, release_file_pages=True)
    guard = MemoryGuard(replace(pressured, file_pages_interval_s=30.0), clock=clock)

    for step in (0.0, 10.0, 19.9, 0.2, 31.0):
        clock.now += step
        assert guard.has_room()
    assert releases == [True, False, False, True, True]
    assert guard.cleanups == 5 and not guard.shedding


def test_file_pages_stay_when_the_policy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    releases: list[bool] = []

    def recording_cleanup(*, release_file_pages: bool = False, generation: int = 2) -> CleanupResult:
        releases.append(release_file_pages)
        return CleanupResult(100.0, 90.0, 10.0, 80.0, 80.0, 0, True, 1.0)

    monkeypatch.setattr(guard_module, "cleanup_memory", recording_cleanup)
    rss = get_memory_usage().rss_mb
    guard = MemoryGuard(policy(limit_mb=rss * 1.5, soft=0.5, hard=1.5))
    guard.has_room()
    guard.cleanup("periodic")
    assert releases == [False, False]


def test_only_the_cadence_cleanup_leaves_the_old_generation_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    generations: list[int] = []

    def recording_cleanup(*, release_file_pages: bool = False, generation: int = 2) -> CleanupResult:
        generations.append(generation)
        return CleanupResult(100.0, 90.0, 10.0, 80.0, 80.0, 0, True, 1.0)

    monkeypatch.setattr(guard_module, "cleanup_memory", recording_cleanup)
    guard = MemoryGuard(policy(limit_mb=get_memory_usage().rss_mb * 4))
    for reason in CLEANUP_REASONS:
        guard.cleanup(reason)
    assert dict(zip(CLEANUP_REASONS, generations, strict=True)) == {
        "ready": 2,
        "soft-threshold": 2,
        "periodic": 1,
    }

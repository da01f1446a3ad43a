"""Admission control by memory: shed over the hard threshold, recover below it, clean up on cadence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from factmem.errors import OverloadedError
from factmem.memory_guard import GuardPolicy, MemoryGuard
from factmem.memory_monitor import get_memory_usage


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

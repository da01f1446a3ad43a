"""The effective limit and the soft/hard thresholds (``factmem.memory.limits``), on synthetic readings."""

from __future__ import annotations

import pytest
from memory_fixtures import synthetic_usage

from factmem.memory.limits import MemoryLimit, Thresholds, check_memory, effective_limit

DEFAULT = Thresholds(soft_fraction=0.8, hard_fraction=0.95)


def test_the_setting_wins_unless_the_container_is_stricter() -> None:
    assert effective_limit(400.0, 512.0, "cgroup_v2") == MemoryLimit(400.0, "setting")
    assert effective_limit(400.0, None, "none") == MemoryLimit(400.0, "setting")
    assert effective_limit(2048.0, 512.0, "cgroup_v1") == MemoryLimit(512.0, "cgroup_v1")
    assert effective_limit(None, 512.0, "cgroup_v2") == MemoryLimit(512.0, "cgroup_v2")
    assert effective_limit(None, None, "none") == MemoryLimit(None, "none")


def test_check_under_limit() -> None:
    check = check_memory(synthetic_usage(rss_mb=300.0, rss_anon_mb=250.0), DEFAULT)
    assert check.limit_mb == 512.0
    assert (check.over_soft, check.over_hard) == (False, False)


def test_check_file_backed_rss_is_soft_only() -> None:
    # 500 MB resident but most of it a droppable mmap: clean up, don't refuse requests.
    check = check_memory(synthetic_usage(rss_mb=500.0, rss_anon_mb=200.0), DEFAULT)
    assert (check.over_soft, check.over_hard) == (True, False)


def test_check_anonymous_over_hard() -> None:
    check = check_memory(synthetic_usage(rss_mb=495.0, rss_anon_mb=490.0), DEFAULT)
    assert (check.over_soft, check.over_hard) == (True, True)


def test_check_hard_falls_back_to_rss_without_anon() -> None:
    check = check_memory(synthetic_usage(rss_mb=490.0, rss_anon_mb=None), DEFAULT)
    assert check.over_hard is True


def test_check_fractions_and_a_tighter_limit() -> None:
    usage = synthetic_usage(rss_mb=300.0, rss_anon_mb=300.0)
    assert check_memory(usage, Thresholds(soft_fraction=0.5, hard_fraction=0.95)).over_soft is True
    assert check_memory(usage, Thresholds(soft_fraction=0.8, hard_fraction=0.5)).over_hard is True
    tight = check_memory(synthetic_usage(rss_mb=300.0, rss_anon_mb=300.0, limit_mb=256.0), DEFAULT)
    assert tight.limit_mb == 256.0
    assert (tight.over_soft, tight.over_hard) == (True, True)


def test_check_without_limit_is_never_over() -> None:
    check = check_memory(synthetic_usage(rss_mb=10_000.0, rss_anon_mb=10_000.0, limit_mb=None), DEFAULT)
    assert check.limit_mb is None
    assert (check.over_soft, check.over_hard) == (False, False)


@pytest.mark.parametrize(("soft", "hard"), [(0.0, 0.95), (0.8, -1.0)])
def test_check_rejects_non_positive_fractions(soft: float, hard: float) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        Thresholds(soft_fraction=soft, hard_fraction=hard)

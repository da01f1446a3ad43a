"""Percentiles and slopes (``factmem_bench.stats``)."""

from __future__ import annotations

import pytest

from factmem_bench.stats import max_known, percentile, slope


def test_percentile_interpolates_between_ranks() -> None:
    data = [4.0, 1.0, 3.0, 2.0]
    assert percentile(data, 0) == 1.0
    assert percentile(data, 50) == 2.5
    assert percentile(data, 100) == 4.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_slope_is_least_squares() -> None:
    xs = [0.0, 1.0, 2.0, 3.0]
    assert slope(xs, [1.0, 3.0, 5.0, 7.0]) == pytest.approx(2.0)
    assert slope(xs, [1.0, 2.0, 1.0, 2.0]) == pytest.approx(0.2)
    assert slope([1.0, 1.0], [1.0, 5.0]) is None
    assert slope([1.0], [1.0]) is None


def test_max_known_ignores_unknown_values() -> None:
    assert max_known(1.0, None, 3.0) == 3.0
    assert max_known(None, None) is None

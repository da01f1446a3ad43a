"""Percentiles, least-squares slopes and latency summaries: plain Python, no numpy in the load tool."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks, like numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys on xs; ``None`` with fewer than two distinct xs."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def latency_stats(values: Sequence[float]) -> dict[str, float | int | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "count": len(values),
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values) if values else None),
    }


def rolling_percentiles(values: Sequence[float], window: int, qs: Sequence[float]) -> list[list[float]]:
    """For each position, the percentiles of the last ``window`` values (fewer at the start)."""
    return [
        [percentile(values[max(0, i + 1 - window) : i + 1], q) or 0.0 for q in qs] for i in range(len(values))
    ]


def max_known(*values: float | None) -> float | None:
    """The largest of the values that are known; ``None`` if none is."""
    known = [v for v in values if v is not None]
    return max(known) if known else None

"""Memory over a load run, and the verdict: under the limit, flat on the second half, answers as allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from factmem_bench.stats import slope

# A least-squares slope over a few dozen requests is mostly allocator noise (1 MB over 30 requests reads as
# 33 MB per 1,000), so growth is only judged when the second half spans at least this many requests.
MIN_SLOPE_SPAN = 250
MIN_SLOPE_SAMPLES = 3


@dataclass(frozen=True)
class HealthSample:
    """One ``GET /health`` reading; memory fields are ``None`` when the server did not answer or say.

    Memory comes from the server's own ``/health`` (factmem reports it) or, for a server whose ``/health``
    does not, from ``/proc/<pid>/status`` of the process the user names.
    """

    request_index: int  # completed /verify requests when the sample was taken
    elapsed_s: float
    rss_mb: float | None
    rss_anon_mb: float | None
    peak_rss_mb: float | None
    status: str  # what /health said ("healthy", "degraded", ...) | "http-<code>" | "unreachable"
    latency_ms: float

    @property
    def answered(self) -> bool:
        """``/health`` answered 200 with JSON (whether or not it reported memory)."""
        return self.status != "unreachable" and not self.status.startswith("http-")

    @property
    def has_memory(self) -> bool:
        return self.rss_mb is not None


@dataclass(frozen=True)
class MemoryTrend:
    """Memory over the run, with growth measured on the second half: the first half holds the warm-up
    (model arenas, caches filling), which is expected and bounded; a leak shows as a slope after it."""

    rss_start: float | None = None
    rss_end: float | None = None
    rss_peak: float | None = None
    anon_start: float | None = None
    anon_end: float | None = None
    anon_peak: float | None = None
    server_peak_rss: float | None = None
    series: str | None = None  # "rss_anon_mb" or "rss_mb": what growth and slope are measured on
    growth_mb: float | None = None
    slope_mb_per_1k: float | None = None
    second_half_samples: int = 0
    second_half_span: int = 0
    fit_start: tuple[float, float] | None = None  # (request index, MB) ends of the fitted line, for the plot
    fit_end: tuple[float, float] | None = None

    @property
    def peak(self) -> float | None:
        """The highest RSS known: sampled, or the server's own high-water mark (catches spikes between
        samples, and startup)."""
        known = [v for v in (self.rss_peak, self.server_peak_rss) if v is not None]
        return max(known) if known else None

    @property
    def slope_judged(self) -> bool:
        return (
            self.slope_mb_per_1k is not None
            and self.second_half_samples >= MIN_SLOPE_SAMPLES
            and self.second_half_span >= MIN_SLOPE_SPAN
        )


def _first_last_max(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return round(values[0], 1), round(values[-1], 1), round(max(values), 1)


def memory_trend(samples: Sequence[HealthSample]) -> MemoryTrend:
    """Start, end and peak of RSS and anonymous RSS, and growth and slope over the second half."""
    answered = sorted((s for s in samples if s.has_memory), key=lambda s: (s.request_index, s.elapsed_s))
    if not answered:
        return MemoryTrend()
    rss = [s.rss_mb for s in answered if s.rss_mb is not None]
    anon = [s.rss_anon_mb for s in answered if s.rss_anon_mb is not None]
    peaks = [s.peak_rss_mb for s in answered if s.peak_rss_mb is not None]
    half = [s for s in answered if s.request_index >= answered[-1].request_index / 2]
    use_anon = all(s.rss_anon_mb is not None for s in half)
    xs = [float(s.request_index) for s in half]
    ys = [float((s.rss_anon_mb if use_anon else s.rss_mb) or 0.0) for s in half]
    per_request = slope(xs, ys)
    fit_start = fit_end = None
    if per_request is not None:
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        fit_start = (xs[0], mean_y + per_request * (xs[0] - mean_x))
        fit_end = (xs[-1], mean_y + per_request * (xs[-1] - mean_x))
    rss_start, rss_end, rss_peak = _first_last_max(rss)
    anon_start, anon_end, anon_peak = _first_last_max(anon)
    return MemoryTrend(
        rss_start=rss_start,
        rss_end=rss_end,
        rss_peak=rss_peak,
        anon_start=anon_start,
        anon_end=anon_end,
        anon_peak=anon_peak,
        server_peak_rss=max(peaks) if peaks else None,
        series="rss_anon_mb" if use_anon else "rss_mb",
        growth_mb=round(ys[-1] - ys[0], 2),
        slope_mb_per_1k=None if per_request is None else round(per_request * 1000, 3),
        second_half_samples=len(half),
        second_half_span=int(xs[-1] - xs[0]),
        fit_start=fit_start,
        fit_end=fit_end,
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]  # why it failed; empty on PASS
    warnings: list[str]  # worth reading, not failing


def judge(
    trend: MemoryTrend,
    *,
    limit_mb: float,
    max_growth_mb_per_1k: float,
    outcomes: dict[str, int] | None = None,
    health_failures: int = 0,
    degraded: int = 0,
    stopped_early: str | None = None,
) -> Verdict:
    """PASS only if memory stayed under the limit and flat, and every answer was one the contract allows."""
    outcomes = outcomes or {}
    reasons: list[str] = []
    warnings: list[str] = []
    if trend.peak is None:
        reasons.append(
            "memory was not measured: no /health sample reported it (for a server whose /health does not, "
            "give --server-pid)"
        )
    elif trend.peak > limit_mb:
        reasons.append(f"peak RSS {trend.peak:.1f} MB is above the limit of {limit_mb:.0f} MB")
    if trend.slope_judged and (trend.slope_mb_per_1k or 0.0) > max_growth_mb_per_1k:
        series = "anonymous RSS" if trend.series == "rss_anon_mb" else "RSS"
        reasons.append(
            f"{series} grows {trend.slope_mb_per_1k:.2f} MB per 1,000 "
            f"requests over the second half (threshold {max_growth_mb_per_1k:g})"
        )
    elif trend.peak is not None and not trend.slope_judged:
        warnings.append(
            f"growth not judged: the second half spans {trend.second_half_span} requests in "
            f"{trend.second_half_samples} samples (needs >= {MIN_SLOPE_SPAN} requests and "
            f">= {MIN_SLOPE_SAMPLES} samples; raise -n or lower --health-every)"
        )
    if outcomes.get("error"):
        reasons.append(f"{outcomes['error']} errors (5xx other than 503, or no answer)")
    if outcomes.get("unexpected"):
        reasons.append(f"{outcomes['unexpected']} answers the contract does not allow")
    if health_failures:
        reasons.append(f"{health_failures} /health checks failed")
    good = sum(outcomes.get(k, 0) for k in ("ok", "shed", "error", "unexpected"))
    if good and not outcomes.get("ok"):
        reasons.append("no claim was verified: every valid request was shed or failed")
    if stopped_early:
        reasons.append(stopped_early)
    if outcomes.get("shed"):
        warnings.append(f"{outcomes['shed']} requests shed with 503 (overload or memory pressure)")
    if degraded:
        warnings.append(f"/health said 'degraded' in {degraded} samples")
    return Verdict(not reasons, reasons, warnings)

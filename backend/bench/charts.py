"""``memory.png``: memory against completed requests, and rolling ``/verify`` latency (needs matplotlib)."""

from __future__ import annotations

import sys
from pathlib import Path

from factmem_bench.load_run import LoadRun
from factmem_bench.memory_trend import MemoryTrend, Verdict
from factmem_bench.stats import rolling_percentiles


def plot(run: LoadRun, trend: MemoryTrend, limit_mb: float, verdict: Verdict, path: Path) -> bool:
    """``memory.png``: memory against completed requests, and rolling latency. ``False`` if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping memory.png (pip install matplotlib)", file=sys.stderr)
        return False
    samples = [s for s in run.samples if s.has_memory]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    top.plot([s.request_index for s in samples], [s.rss_mb for s in samples], marker=".", label="RSS")
    anon = [s for s in samples if s.rss_anon_mb is not None]
    if anon:
        top.plot(
            [s.request_index for s in anon], [s.rss_anon_mb for s in anon], marker=".", label="anonymous RSS"
        )
    top.axhline(limit_mb, color="red", linestyle="--", label=f"limit {limit_mb:.0f} MB")
    if trend.fit_start and trend.fit_end:
        top.plot(
            [trend.fit_start[0], trend.fit_end[0]],
            [trend.fit_start[1], trend.fit_end[1]],
            color="black",
            linestyle=":",
            label=f"second-half fit: {trend.slope_mb_per_1k:+.2f} MB / 1k req",
        )
    top.set_ylabel("MB")
    top.set_title(f"factmem memory under load: {'PASS' if verdict.passed else 'FAIL'}")
    top.set_ylim(bottom=0)
    top.legend(loc="best")
    top.grid(alpha=0.3)
    done = sorted((r for r in run.results if r.outcome == "ok"), key=lambda r: r.completed)
    window = max(10, len(done) // 20)
    rolling = rolling_percentiles([r.latency_ms for r in done], window, (50, 95))
    bottom.plot([r.completed for r in done], [p[0] for p in rolling], label="p50")
    bottom.plot([r.completed for r in done], [p[1] for p in rolling], label="p95")
    bottom.set_xlabel("completed requests")
    bottom.set_ylabel(f"/verify latency, ms (2xx, rolling {window})")
    bottom.legend(loc="upper right")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True

"""How much this process may use, and what "near the limit" means.

The limit comes, in order, from the ``MEMORY_LIMIT_MB`` setting (the operator knows the plan's size even
where the cgroup is not visible) unless the container's own limit is stricter, then the container's limit,
else none. It is worked out once per reading (:func:`factmem.memory.readings.get_memory_usage`); checks
use the reading's limit and never work it out again.

Two thresholds act on a reading. The soft one compares **RSS** (cheap to act on: collect and trim early). The
hard one compares **anonymous RSS** (falling back to RSS where the kernel does not report it): heap, Python
objects, ONNX arenas, numpy buffers, memory with no file behind it, which is what the container's OOM killer
ends up counting. File-backed pages of the vector store's mmap can be dropped by the kernel, so a large,
droppable mmap never makes the service refuse requests it can afford.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factmem.memory.readings import MemoryUsage


@dataclass(frozen=True)
class MemoryLimit:
    """The limit a reading is judged against, and where it came from."""

    mb: float | None
    source: str  # "setting" | "cgroup_v2" | "cgroup_v1" | "none"


def effective_limit(setting_mb: float | None, container_limit_mb: float | None, cgroup: str) -> MemoryLimit:
    """The setting wins unless the container's own limit is stricter: shedding must start before the kernel
    kills the process, whatever the operator typed. ``cgroup`` names where ``container_limit_mb`` is from."""
    setting = setting_mb if setting_mb is not None and setting_mb > 0 else None
    if setting is not None and (container_limit_mb is None or setting <= container_limit_mb):
        return MemoryLimit(float(setting), "setting")
    if container_limit_mb is not None:
        return MemoryLimit(container_limit_mb, cgroup)
    return MemoryLimit(None, "none")


@dataclass(frozen=True)
class Thresholds:
    """Fractions of the limit: above ``soft`` clean up, above ``hard`` shed load.

    ``hard`` may exceed 1.0 when the setting is deliberately below the real container limit.
    """

    soft_fraction: float
    hard_fraction: float

    def __post_init__(self) -> None:
        # a misconfiguration should fail at startup, not at the first request
        if self.soft_fraction <= 0 or self.hard_fraction <= 0:
            raise ValueError(
                "soft_fraction and hard_fraction must be > 0, "
                f"got {self.soft_fraction} and {self.hard_fraction}"
            )


@dataclass(frozen=True)
class MemoryCheck:
    """Whether the process is near its limit: soft means "clean up", hard means "shed load"."""

    usage: MemoryUsage
    over_soft: bool  # RSS above soft_fraction * limit
    over_hard: bool  # anonymous RSS (fallback RSS) above hard_fraction * limit

    @property
    def limit_mb(self) -> float | None:
        return self.usage.limit_mb


def check_memory(usage: MemoryUsage, thresholds: Thresholds) -> MemoryCheck:
    """Compare a reading with its own limit; with no known limit nothing is ever "over"."""
    limit = usage.limit_mb
    if limit is None:
        return MemoryCheck(usage=usage, over_soft=False, over_hard=False)
    anon = usage.rss_anon_mb if usage.rss_anon_mb is not None else usage.rss_mb
    return MemoryCheck(
        usage=usage,
        over_soft=usage.rss_mb > thresholds.soft_fraction * limit,
        over_hard=anon > thresholds.hard_fraction * limit,
    )

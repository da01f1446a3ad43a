"""How much memory this process uses: one snapshot of the process and its container, for every consumer.

factmem runs in a 512 MB container, so two numbers matter and they are not the same:

* **RSS** (``VmRSS``) counts every resident page, including *file-backed* pages: the memory-mapped
  segments of the vector store and the shared libraries. The kernel can drop those under pressure and
  read them back from disk later, so a high RSS made of them is not a threat.
* **Anonymous RSS** (``RssAnon``) is heap, Python objects, ONNX arenas, numpy buffers: memory with no
  file behind it. It can only be swapped (containers usually have no swap), so it is what the cgroup
  OOM killer ends up counting against the limit.

One reading (:func:`get_memory_usage`) serves ``/health``, the guard before each ``/verify``, the
Prometheus scrape and the log lines, and carries its limit (:mod:`factmem.memory.limits`) so nobody works
it out again. Like prometheus_client's ``ProcessCollector``, the data sources are arguments
(``proc="/proc"``, ``cgroup_root="/sys/fs/cgroup"``) so tests run on fixture directories.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from factmem.memory.cgroup import read_container_memory
from factmem.memory.cleanup import last_cleanup_released_mb
from factmem.memory.kernel_files import kb_to_mb, read_mem_available_mb, read_status
from factmem.memory.limits import effective_limit

_KB_PER_MB = 1024.0


@dataclass(frozen=True)
class MemoryUsage:
    """One snapshot of the process's and its container's memory, in MB (MiB); ``None`` = unknown."""

    rss_mb: float  # VmRSS; 0.0 when /proc is unavailable (non-Linux)
    rss_anon_mb: float | None  # RssAnon: what gets a container OOM-killed
    rss_file_mb: float | None  # RssFile + RssShmem: file-backed pages (vector store mmap), droppable
    peak_rss_mb: float | None  # VmHWM
    vms_mb: float | None  # VmSize
    limit_mb: float | None  # effective limit (setting, else cgroup v2, else cgroup v1)
    limit_source: str  # "setting" | "cgroup_v2" | "cgroup_v1" | "none"
    percent: float | None  # rss_mb / limit_mb * 100
    #: limit - container working set in a limited container; limit - RSS when only the setting limits;
    #: else MemAvailable.
    available_mb: float | None
    container_usage_mb: float | None  # cgroup v2 memory.current / v1 memory.usage_in_bytes
    #: container usage less inactive page cache (Docker's and the kubelet's figure); None without a limit
    container_working_set_mb: float | None
    container_limit_mb: float | None  # the cgroup's own limit; None for "max"/unlimited
    oom_events: int | None  # cgroup v2 memory.events "oom"
    oom_kill_events: int | None  # cgroup v2 memory.events "oom_kill" (v1: memory.oom_control "oom_kill")
    gc_counts: tuple[int, int, int]  # gc.get_count()
    last_cleanup_released_mb: float  # from the last cleanup_memory() in this process

    def as_dict(self) -> dict[str, float | int | str | list[int] | None]:
        """JSON-ready form for ``/health`` and logs, sizes rounded to 0.1 MB."""
        return {
            "rss_mb": _round(self.rss_mb),
            "rss_anon_mb": _round(self.rss_anon_mb),
            "rss_file_mb": _round(self.rss_file_mb),
            "peak_rss_mb": _round(self.peak_rss_mb),
            "vms_mb": _round(self.vms_mb),
            "limit_mb": _round(self.limit_mb),
            "limit_source": self.limit_source,
            "percent": _round(self.percent),
            "available_mb": _round(self.available_mb),
            "container_usage_mb": _round(self.container_usage_mb),
            "container_working_set_mb": _round(self.container_working_set_mb),
            "container_limit_mb": _round(self.container_limit_mb),
            "oom_events": self.oom_events,
            "oom_kill_events": self.oom_kill_events,
            "gc_counts": list(self.gc_counts),
            "last_cleanup_released_mb": _round(self.last_cleanup_released_mb),
        }


def get_memory_usage(
    limit_mb: float | None = None, *, proc: str = "/proc", cgroup_root: str = "/sys/fs/cgroup"
) -> MemoryUsage:
    """Read a fresh snapshot; cheap enough (a few kernel-file reads) for ``GET /health`` and every request.

    Args:
        limit_mb: The ``MEMORY_LIMIT_MB`` setting; when given (and positive) it wins over the cgroup
            (the plan's size is what the operator budgets for) unless the cgroup's limit is stricter.
        proc: Root of the proc filesystem (a fixture directory in tests).
        cgroup_root: Mount point of the cgroup filesystem (a fixture directory in tests).

    Never raises: anything unreadable comes back as ``None``.
    """
    status = read_status(proc)
    rss_kb = status.get("VmRSS")
    rss_mb = rss_kb / _KB_PER_MB if rss_kb is not None else 0.0
    rss_file_kb = status.get("RssFile")
    if rss_file_kb is not None:
        rss_file_kb += status.get("RssShmem", 0)
    container = read_container_memory(proc, cgroup_root)
    limit = effective_limit(limit_mb, container.limit_mb, container.version)
    return MemoryUsage(
        rss_mb=rss_mb,
        rss_anon_mb=kb_to_mb(status.get("RssAnon")),
        rss_file_mb=kb_to_mb(rss_file_kb),
        peak_rss_mb=kb_to_mb(status.get("VmHWM")),
        vms_mb=kb_to_mb(status.get("VmSize")),
        limit_mb=limit.mb,
        limit_source=limit.source,
        percent=rss_mb / limit.mb * 100.0 if limit.mb and rss_kb is not None else None,
        available_mb=_available_mb(limit.mb, container.limit_mb, container.working_set_mb, rss_mb, proc),
        container_usage_mb=container.usage_mb,
        container_working_set_mb=container.working_set_mb if container.limit_mb is not None else None,
        container_limit_mb=container.limit_mb,
        oom_events=container.oom_events,
        oom_kill_events=container.oom_kill_events,
        gc_counts=gc.get_count(),
        last_cleanup_released_mb=last_cleanup_released_mb(),
    )


def _available_mb(
    limit_mb: float | None,
    container_limit_mb: float | None,
    container_working_set_mb: float | None,
    rss_mb: float,
    proc: str,
) -> float | None:
    """Room left under the limit, charged the way the limit is enforced."""
    if limit_mb is not None and container_working_set_mb is not None and container_limit_mb is not None:
        # In a limited container its usage is what the limit applies to, less the page cache the kernel
        # drops before it would reclaim anything else.
        return max(0.0, limit_mb - container_working_set_mb)
    if limit_mb is not None:
        # No container limit: the cgroup may hold other processes (a shared host), so count this one only.
        return max(0.0, limit_mb - rss_mb)
    return read_mem_available_mb(proc)


def log_memory_usage(
    context: str, logger: logging.Logger | None = None, *, limit_mb: float | None = None, **extra: object
) -> MemoryUsage:
    """Log one logfmt-style INFO line (``memory context=startup rss_mb=... limit_source=...``).

    One grep-able line per event (startup, model loaded, cleanup) is what makes a memory regression
    visible in Render's log viewer. The full snapshot also rides along as ``record.memory_usage`` for JSON
    formatters. ``limit_mb`` is the ``MEMORY_LIMIT_MB`` setting, as for ``get_memory_usage``; every other
    keyword is appended as ``key=value``. Returns the snapshot so the caller can reuse it.
    """
    log = logger if logger is not None else logging.getLogger(__name__)
    usage = get_memory_usage(limit_mb)
    if log.isEnabledFor(logging.INFO):
        fields: dict[str, object] = {
            "context": context,
            "rss_mb": _round(usage.rss_mb),
            "rss_anon_mb": _round(usage.rss_anon_mb),
            "peak_rss_mb": _round(usage.peak_rss_mb),
            "limit_mb": _round(usage.limit_mb),
            "limit_source": usage.limit_source,
        }
        fields.update(extra)
        line = " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())
        log.info("memory %s", line, extra={"memory_usage": usage.as_dict()})
    return usage


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _logfmt_value(value: object) -> str:
    """Render one value so the line stays parseable: ``none`` for None, quoted when it has spaces."""
    if value is None:
        return "none"
    if isinstance(value, float):
        value = round(value, 1)
    text = str(value)
    if not text or any(ch in text for ch in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text

"""Fixture data of the memory tests: copies of real /proc and cgroup v1/v2 files, and synthetic readings.

Like prometheus_client's ``tests/proc``, the fixtures are data directories in the kernel's own formats
(``tests/fixtures/memory``), passed in as ``proc=`` and ``cgroup_root=`` instead of mocking ``open``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from factmem.memory.readings import MemoryUsage

FIXTURES = Path(__file__).parents[1] / "fixtures" / "memory"
PROC = FIXTURES / "proc"
CGROUP = FIXTURES / "cgroup"

# Values of the fixture proc/self/status and proc/meminfo, in MB.
RSS_MB = 287744 / 1024  # VmRSS
ANON_MB = 201728 / 1024  # RssAnon
FILE_MB = (84992 + 1024) / 1024  # RssFile + RssShmem
PEAK_MB = 301224 / 1024  # VmHWM
VMS_MB = 698112 / 1024  # VmSize
MEM_AVAILABLE_MB = 24319756 / 1024


def make_proc(tmp_path: Path, cgroup_variant: str) -> Path:
    """A copy of the fixture /proc whose self/cgroup is one of the ``proc_cgroup`` variants."""
    proc = tmp_path / "proc"
    shutil.copytree(PROC, proc)
    shutil.copyfile(FIXTURES / "proc_cgroup" / cgroup_variant, proc / "self" / "cgroup")
    return proc


def synthetic_usage(rss_mb: float, rss_anon_mb: float | None, limit_mb: float | None = 512.0) -> MemoryUsage:
    return MemoryUsage(
        rss_mb=rss_mb,
        rss_anon_mb=rss_anon_mb,
        rss_file_mb=None if rss_anon_mb is None else rss_mb - rss_anon_mb,
        peak_rss_mb=rss_mb,
        vms_mb=rss_mb * 2,
        limit_mb=limit_mb,
        limit_source="none" if limit_mb is None else "setting",
        percent=None if limit_mb is None else rss_mb / limit_mb * 100,
        available_mb=None,
        container_usage_mb=None,
        container_working_set_mb=None,
        container_limit_mb=None,
        oom_events=None,
        oom_kill_events=None,
        gc_counts=(0, 0, 0),
        last_cleanup_released_mb=0.0,
    )

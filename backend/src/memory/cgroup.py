"""The container's side of memory: which cgroup this process is in, its limit, its usage, its OOM events.

A container's limit is what the kernel enforces, whatever the process believes; its usage is what that
limit is charged against (this process, its children, and the page cache they cause). cgroup v2 keeps them
in ``memory.max`` / ``memory.current`` / ``memory.events``, v1 in ``memory.limit_in_bytes`` /
``memory.usage_in_bytes`` / ``memory.oom_control``, and v1's "unlimited" is a huge page-rounded number near
``2**63``. Usage includes page cache the kernel drops before anything else (files read once and no longer
used, such as a container image's libraries on their first start), so a cold cache can hold usage at the
limit with nothing at risk: the working set (usage less inactive file pages, from ``memory.stat``) is what
``docker stats`` and the kubelet report, and what the room left under the limit is worked out from.
Where the files are is resolved once per data source (a process does not change cgroup); the values are
re-read at every reading, since usage moves and a container can be resized in place.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from factmem.memory.kernel_files import read_bytes_as_mb, read_keyed_int, read_keyed_ints, read_text

_MB = 1024 * 1024

#: cgroup v1 reports "no limit" as PAGE_COUNTER_MAX pages, i.e. 9223372036854771712 with 4 KiB pages (and a
#: different rounding with 64 KiB pages). Nothing real is anywhere near an exbibyte, so treat that as none.
_V1_UNLIMITED_THRESHOLD = 1 << 60


@dataclass(frozen=True)
class ContainerMemory:
    """One reading of this process's cgroup; ``None`` = unknown or (for the limit) unlimited."""

    version: str  # "cgroup_v2" | "cgroup_v1" | "none"
    limit_mb: float | None
    usage_mb: float | None
    oom_events: int | None  # cgroup v2 memory.events "oom"
    oom_kill_events: int | None  # v2 memory.events "oom_kill"; v1 memory.oom_control "oom_kill"
    #: memory.stat "inactive_file" (v2) / "total_inactive_file" (v1); read only under a limit
    inactive_file_mb: float | None = None

    @property
    def working_set_mb(self) -> float | None:
        """Usage less the page cache the kernel reclaims first; the usage itself when that is unknown."""
        if self.usage_mb is None or self.inactive_file_mb is None:
            return self.usage_mb
        return max(0.0, self.usage_mb - self.inactive_file_mb)


@dataclass(frozen=True)
class _CgroupFiles:
    """Where this process's cgroup memory files live."""

    version: str  # "cgroup_v2" | "cgroup_v1" | "none"
    directory: str | None


def read_container_memory(proc: str, cgroup_root: str) -> ContainerMemory:
    """Limit, usage and OOM counts of this process's cgroup, read now (never raises)."""
    files = _resolve_cgroup(proc, cgroup_root)
    if files.directory is None:
        return ContainerMemory("none", None, None, None, None)
    directory = files.directory
    if files.version == "cgroup_v2":
        events = read_keyed_ints(os.path.join(directory, "memory.events"))
        limit = read_bytes_as_mb(os.path.join(directory, "memory.max"))
        return ContainerMemory(
            "cgroup_v2",
            limit_mb=limit,
            usage_mb=read_bytes_as_mb(os.path.join(directory, "memory.current")),
            oom_events=events.get("oom"),
            oom_kill_events=events.get("oom_kill"),
            inactive_file_mb=_inactive_file_mb(directory, "inactive_file") if limit is not None else None,
        )
    limit = read_bytes_as_mb(os.path.join(directory, "memory.limit_in_bytes"))
    if limit is not None and limit * _MB >= _V1_UNLIMITED_THRESHOLD:
        limit = None
    oom_control = read_keyed_ints(os.path.join(directory, "memory.oom_control"))
    return ContainerMemory(
        "cgroup_v1",
        limit_mb=limit,
        usage_mb=read_bytes_as_mb(os.path.join(directory, "memory.usage_in_bytes")),
        oom_events=None,  # v1 has no memory.events
        oom_kill_events=oom_control.get("oom_kill"),
        # v1's usage counts the cgroups below this one too: so do the "total_" counters
        inactive_file_mb=_inactive_file_mb(directory, "total_inactive_file") if limit is not None else None,
    )


def _inactive_file_mb(directory: str, key: str) -> float | None:
    """Inactive file pages of the cgroup (only read under a limit: without one nothing is worked out from
    them, and every reading runs before a request)."""
    value = read_keyed_int(os.path.join(directory, "memory.stat"), key)
    return None if value is None else value / _MB


def _parse_proc_cgroup(text: str) -> tuple[str | None, str | None]:
    """The (v2 path, v1 memory path) of ``/proc/self/cgroup``.

    v2 has one line ``0::/path``; v1 has ``N:memory:/path`` or ``N:cpu,memory:/path`` (hybrid systems
    have both, with the memory controller on v1).
    """
    v2_path: str | None = None
    v1_path: str | None = None
    for line in text.splitlines():
        hierarchy, sep, rest = line.partition(":")
        controllers, sep2, path = rest.partition(":")
        if not (sep and sep2):
            continue
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    return v2_path, v1_path


def _candidate_dirs(base: str, path: str | None) -> list[str]:
    """The cgroup's own directory, then ``base`` itself.

    Inside most containers the cgroup namespace root *is* the container's cgroup, while
    ``/proc/self/cgroup`` may still show the host-side path, which does not exist in the container.
    """
    dirs = []
    if path is not None:
        dirs.append(os.path.normpath(os.path.join(base, path.lstrip("/"))))
    root = os.path.normpath(base)
    if root not in dirs:
        dirs.append(root)
    return dirs


@functools.lru_cache(maxsize=8)
def _resolve_cgroup(proc: str, cgroup_root: str) -> _CgroupFiles:
    """Find which cgroup directory holds this process's memory files; cached per data source."""
    text = read_text(os.path.join(proc, "self", "cgroup"))
    v2_path, v1_path = _parse_proc_cgroup(text) if text is not None else (None, None)
    if v2_path is not None or text is None:
        for directory in _candidate_dirs(cgroup_root, v2_path):
            if os.path.isfile(os.path.join(directory, "memory.max")):
                return _CgroupFiles("cgroup_v2", directory)
    if v1_path is not None or text is None:
        for directory in _candidate_dirs(os.path.join(cgroup_root, "memory"), v1_path):
            if os.path.isfile(os.path.join(directory, "memory.limit_in_bytes")):
                return _CgroupFiles("cgroup_v1", directory)
    return _CgroupFiles("none", None)

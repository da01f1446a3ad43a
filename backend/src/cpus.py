"""How many CPUs this process can use: the default number of CPU slots (``MAX_CONCURRENT_REQUESTS``).

A verification's CPU work is mostly Python holding the GIL, so more verifications computing at once than
there are CPUs only makes them take the GIL from one another (and from the event loop that answers
``/health``): each waits a switch interval or more to get it back. One slot per usable CPU keeps the CPUs
busy without that contention (the README has the measurements). Usable means the CPUs the scheduler lets
this process run on (``taskset``, ``docker --cpuset-cpus``), capped by a cgroup v2 CPU quota
(``docker --cpus``, Kubernetes limits, Render's fractional CPUs), rounded up to a whole CPU.
"""

from __future__ import annotations

import math
import os


def usable_cpus(proc: str = "/proc", cgroup_root: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may run on, capped by its cgroup's CPU quota; at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(proc, cgroup_root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(cpus, 1)


def cgroup_cpu_quota(proc: str = "/proc", cgroup_root: str = "/sys/fs/cgroup") -> float | None:
    """The cgroup v2 CPU quota in CPUs (``cpu.max``: "quota period"), or None when there is none.

    The process's own cgroup directory is read first, then the root of the cgroup namespace (inside most
    containers ``/proc/self/cgroup`` names a host path that does not exist there).
    """
    candidates = [cgroup_root]
    try:
        with open(os.path.join(proc, "self", "cgroup"), encoding="ascii", errors="replace") as lines:
            for line in lines:
                if line.startswith("0::"):
                    candidates.insert(0, os.path.join(cgroup_root, line[3:].strip().lstrip("/")))
    except OSError:
        pass
    for directory in candidates:
        try:
            with open(os.path.join(directory, "cpu.max"), encoding="ascii") as cpu_max:
                fields = cpu_max.read().split()
        except OSError:
            continue
        if len(fields) != 2 or fields[0] == "max":
            return None
        try:
            quota, period = int(fields[0]), int(fields[1])
        except ValueError:
            return None
        return quota / period if quota > 0 and period > 0 else None
    return None

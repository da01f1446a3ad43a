"""Why a child process failed, in words an operator can act on.

The model conversion and the index build run in child processes. Killed by the kernel's OOM killer, a
child prints nothing: the parent used to report "no output". This names the signal, and the OOM killer
when the container's cgroup counted a kill while the child ran, with the memory limit in force.
"""

from __future__ import annotations

import signal

from factmem.memory.readings import get_memory_usage


def oom_kills_now() -> int | None:
    """The container's OOM-kill count (cgroup ``oom_kill``), or ``None`` where the kernel does not say."""
    return get_memory_usage().oom_kill_events


def describe_failure(returncode: int, output: str, oom_kills_before: int | None) -> str:
    """One line on why a child exited with ``returncode`` (negative: killed by that signal)."""
    if returncode >= 0:
        last = output.strip().splitlines()[-1:] or [f"exit code {returncode}, no output"]
        return last[0]
    name = signal.Signals(-returncode).name
    after = oom_kills_now()
    if (
        -returncode == signal.SIGKILL
        and after is not None
        and oom_kills_before is not None
        and after > oom_kills_before
    ):
        usage = get_memory_usage()
        return (
            "killed by the kernel's OOM killer (SIGKILL; the memory limit in force is "
            f"{usage.limit_mb} MB, from {usage.limit_source})"
        )
    if -returncode == signal.SIGKILL:
        return (
            "killed by SIGKILL (the kernel's OOM killer does this when memory runs out; no cgroup count here)"
        )
    return f"killed by {name}"

"""A server's memory read from outside: ``/proc/<pid>/status`` of it (and its children), sampled in a thread.

What a server says about itself on ``/health`` is read between requests; a thread reading ``/proc`` every
0.1 s also catches the peaks between those samples, and works for servers that report nothing.
"""

from __future__ import annotations

import os
import threading
import time

from factmem_bench.stats import max_known

SAMPLE_INTERVAL_S = 0.1


def read_process_memory(pid: int, proc: str = "/proc") -> dict[str, float | None]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process in MB; all ``None`` once it is gone."""
    keys = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb", "VmHWM": "hwm_mb"}
    values: dict[str, float | None] = dict.fromkeys(keys.values())
    try:
        with open(f"{proc}/{pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, rest = line.partition(":")
                if name in keys:
                    values[keys[name]] = round(int(rest.split()[0]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return values


def child_pids(pid: int, proc: str = "/proc") -> list[int]:
    """Direct children of a process (e.g. the server's index builder); empty once it is gone."""
    children: list[int] = []
    try:
        for task in os.listdir(f"{proc}/{pid}/task"):
            with open(f"{proc}/{pid}/task/{task}/children", encoding="ascii") as listed:
                children.extend(int(child) for child in listed.read().split())
    except (OSError, ValueError):
        pass
    return children


def read_tree_memory(pid: int) -> dict[str, float | None]:
    """``read_process_memory`` summed over a process and its children: what a container is charged."""
    total = read_process_memory(pid)
    for child in child_pids(pid):
        memory = read_process_memory(child)
        for key in ("rss_mb", "rss_anon_mb", "rss_file_mb"):
            if total[key] is not None and memory[key] is not None:
                total[key] = round(total[key] + memory[key], 1)  # type: ignore[operator]
    return total


class ProcSampler:
    """Reads a server's memory every ``interval_s`` in a thread, so peaks between /health samples count.

    With ``with_children`` the readings include the server's child processes (the index builder it may
    start before it is ready), since a container's limit applies to all of them together.
    """

    def __init__(
        self, pid: int, interval_s: float = SAMPLE_INTERVAL_S, *, with_children: bool = False
    ) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._read = read_tree_memory if with_children else read_process_memory
        self.samples: list[tuple[float, float | None, float | None]] = []  # (monotonic, rss, anon)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            memory = self._read(self.pid)
            if memory["rss_mb"] is None:
                return
            self.samples.append((time.monotonic(), memory["rss_mb"], memory["rss_anon_mb"]))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def peaks(self, since: float, until: float | None = None) -> dict[str, float | None]:
        window = [s for s in list(self.samples) if s[0] >= since and (until is None or s[0] <= until)]
        return {
            "rss_mb": max_known(*(s[1] for s in window)),
            "rss_anon_mb": max_known(*(s[2] for s in window)),
            "samples": len(window),
        }

"""Fault injection for the reliability tests: memory cgroups, small tmpfs mounts, process memory.

Each helper skips the calling test, with the reason, where the machine cannot do it (not root, no cgroup v1
memory controller, no tmpfs mounts), and undoes what it did.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


@contextlib.contextmanager
def memory_cgroup(limit_mb: int) -> Iterator[Path]:
    """A fresh cgroup v1 memory group limited to ``limit_mb`` (swap included where it is accounted)."""
    if os.geteuid() != 0 or not (CGROUP_V1_MEMORY / "cgroup.procs").is_file():
        pytest.skip("needs root and a cgroup v1 memory controller at /sys/fs/cgroup/memory")
    group = CGROUP_V1_MEMORY / f"factmem-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup: {exc}")
    try:
        limit = str(limit_mb * 1024 * 1024)
        (group / "memory.limit_in_bytes").write_text(limit)
        memsw = group / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text(limit)
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                os.kill(int(pid), 9)
        with contextlib.suppress(OSError):
            group.rmdir()


def oom_kills(group: Path) -> int:
    """Processes the kernel OOM-killed in ``group`` (cgroup v1 ``memory.oom_control``)."""
    for line in (group / "memory.oom_control").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


@contextlib.contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``"24m"``) mounted on ``directory`` for the duration."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@contextlib.contextmanager
def ext4_on_loop(directory: Path, size_mb: int, backing_dir: Path) -> Iterator[str]:
    """An ext4 filesystem (``errors=remount-ro``) on a loop device, mounted on ``directory``; yields the
    device's name (``loop3``): ``/sys/fs/ext4/<name>/trigger_fs_error`` makes it fail like a dying disk."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a loop device")
    image = backing_dir / "disk.img"
    with image.open("wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    attach = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=False
    )
    if attach.returncode != 0:
        pytest.skip(f"loop devices do not work here: {attach.stderr.strip()}")
    device = attach.stdout.strip()
    try:
        subprocess.run(["mkfs.ext4", "-q", device], check=True, capture_output=True)
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-o", "errors=remount-ro", device, str(directory)], check=True)
        try:
            yield Path(device).name
        finally:
            subprocess.run(["umount", "-l", str(directory)], check=False)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        image.unlink(missing_ok=True)


def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (``VmRSS``, ``RssAnon``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)

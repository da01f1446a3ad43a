"""How many CPUs the process may use: the default number of CPU slots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factmem.cpus import cgroup_cpu_quota, usable_cpus
from factmem.settings import Settings


def fake_cgroup(tmp_path: Path, cpu_max: str | None, *, own_path: str = "/app.slice") -> tuple[str, str]:
    """A /proc/self/cgroup naming ``own_path`` and a cgroup v2 tree whose directory holds ``cpu.max``."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(f"0::{own_path}\n", encoding="ascii")
    root = tmp_path / "cgroup"
    directory = root / own_path.lstrip("/")
    directory.mkdir(parents=True)
    if cpu_max is not None:
        (directory / "cpu.max").write_text(cpu_max + "\n", encoding="ascii")
    return str(proc), str(root)


@pytest.mark.parametrize(
    ("cpu_max", "quota"),
    [("max 100000", None), ("150000 100000", 1.5), ("10000 100000", 0.1), ("200000 100000", 2.0)],
)
def test_the_cgroup_quota_is_read_in_cpus(tmp_path: Path, cpu_max: str, quota: float | None) -> None:
    assert cgroup_cpu_quota(*fake_cgroup(tmp_path, cpu_max)) == quota


def test_a_fractional_quota_is_one_cpu_and_a_quota_above_the_cpus_changes_nothing(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(*fake_cgroup(tmp_path / "a", "10000 100000")) == 1  # Render's 0.1 CPU
    assert usable_cpus(*fake_cgroup(tmp_path / "b", f"{(affinity + 3) * 100000} 100000")) == affinity


def test_the_namespace_root_is_read_when_the_own_path_is_the_hosts(tmp_path: Path) -> None:
    """Inside a container /proc/self/cgroup may name a host path that does not exist there."""
    proc, root = fake_cgroup(tmp_path, None, own_path="/system.slice/docker-abc.scope")
    Path(root, "cpu.max").write_text("50000 100000\n", encoding="ascii")
    assert cgroup_cpu_quota(proc, root) == 0.5


def test_no_cgroup_files_means_no_quota_and_the_affinity_counts(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(str(tmp_path / "missing"), str(tmp_path / "missing")) is None
    assert usable_cpus(str(tmp_path / "missing"), str(tmp_path / "missing")) == len(os.sched_getaffinity(0))


def test_cpu_slots_default_to_the_usable_cpus_and_the_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAX_CONCURRENT_REQUESTS", raising=False)
    assert Settings(_env_file=None).cpu_slots == usable_cpus()  # type: ignore[call-arg]
    monkeypatch.setenv("MAX_CONCURRENT_REQUESTS", "5")
    assert Settings(_env_file=None).cpu_slots == 5  # type: ignore[call-arg]

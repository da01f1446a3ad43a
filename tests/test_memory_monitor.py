"""Tests for factmem.memory_monitor on fixture copies of real /proc and cgroup v1/v2 files.

Like prometheus_client's ``tests/proc``, the fixtures are data directories in the kernel's own formats
(``tests/fixtures/memory``), passed in as ``proc=`` and ``cgroup_root=`` instead of mocking ``open``.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from factmem import memory_monitor
from factmem.memory_monitor import (
    MemoryUsage,
    check_memory_limit,
    cleanup_memory,
    get_memory_usage,
    limit_malloc_arenas,
    log_memory_usage,
    malloc_trim,
    set_malloc_mmap_threshold,
)

FIXTURES = Path(__file__).parent / "fixtures" / "memory"
PROC = FIXTURES / "proc"
CGROUP = FIXTURES / "cgroup"

# Values of fixtures/memory/proc/self/status and proc/meminfo, in MB.
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
        container_limit_mb=None,
        oom_events=None,
        oom_kill_events=None,
        gc_counts=(0, 0, 0),
        last_cleanup_released_mb=0.0,
    )


# --- /proc/self/status ---------------------------------------------------------------------------


def test_status_fields_are_read_in_mb() -> None:
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(CGROUP / "v2_limit"))
    assert usage.rss_mb == pytest.approx(RSS_MB)
    assert usage.rss_anon_mb == pytest.approx(ANON_MB)
    assert usage.rss_file_mb == pytest.approx(FILE_MB)
    assert usage.peak_rss_mb == pytest.approx(PEAK_MB)
    assert usage.vms_mb == pytest.approx(VMS_MB)


# --- cgroup v2 -----------------------------------------------------------------------------------


def test_cgroup_v2_with_limit() -> None:
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(CGROUP / "v2_limit"))
    assert usage.limit_source == "cgroup_v2"
    assert usage.limit_mb == pytest.approx(512.0)
    assert usage.container_limit_mb == pytest.approx(512.0)
    assert usage.container_usage_mb == pytest.approx(304.0)
    assert usage.oom_events == 3
    assert usage.oom_kill_events == 1
    assert usage.percent == pytest.approx(RSS_MB / 512.0 * 100)
    assert usage.available_mb == pytest.approx(512.0 - 304.0)


def test_cgroup_v2_max_means_no_limit() -> None:
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(CGROUP / "v2_max"))
    assert usage.limit_mb is None
    assert usage.limit_source == "none"
    assert usage.container_limit_mb is None
    assert usage.container_usage_mb == pytest.approx(304.0)
    assert usage.percent is None
    assert usage.available_mb == pytest.approx(MEM_AVAILABLE_MB)
    assert (usage.oom_events, usage.oom_kill_events) == (0, 0)


def test_cgroup_v2_host_path_falls_back_to_namespace_root(tmp_path: Path) -> None:
    # /proc/self/cgroup names a host-side path that does not exist inside the container.
    proc = make_proc(tmp_path, "v2_host_path")
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(CGROUP / "v2_limit"))
    assert usage.limit_source == "cgroup_v2"
    assert usage.limit_mb == pytest.approx(512.0)


def test_cgroup_v2_prefers_the_process_own_cgroup(tmp_path: Path) -> None:
    proc = make_proc(tmp_path, "v2_host_path")
    root = tmp_path / "cgroup"
    own = root / "system.slice" / "docker-4f3c2a8e9b1d.scope"
    shutil.copytree(CGROUP / "v2_max", root)
    shutil.copytree(CGROUP / "v2_limit", own)
    (own / "memory.max").write_text("268435456\n")
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(root))
    assert usage.limit_mb == pytest.approx(256.0)
    assert usage.oom_kill_events == 1


def test_values_are_reread_on_every_call(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    shutil.copytree(CGROUP / "v2_limit", root)
    first = get_memory_usage(proc=str(PROC), cgroup_root=str(root))
    (root / "memory.current").write_text("419430400\n")
    (root / "memory.events").write_text("low 0\nhigh 0\nmax 40\noom 4\noom_kill 2\noom_group_kill 0\n")
    second = get_memory_usage(proc=str(PROC), cgroup_root=str(root))
    assert first.container_usage_mb == pytest.approx(304.0)
    assert second.container_usage_mb == pytest.approx(400.0)
    assert (second.oom_events, second.oom_kill_events) == (4, 2)


# --- cgroup v1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["v1_docker", "v1_combined", "hybrid"])
def test_cgroup_v1_with_limit(tmp_path: Path, variant: str) -> None:
    proc = make_proc(tmp_path, variant)
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(CGROUP / "v1_limit"))
    assert usage.limit_source == "cgroup_v1"
    assert usage.limit_mb == pytest.approx(512.0)
    assert usage.container_limit_mb == pytest.approx(512.0)
    assert usage.container_usage_mb == pytest.approx(308.0)
    assert usage.available_mb == pytest.approx(512.0 - 308.0)
    assert usage.oom_events is None  # v1 has no memory.events
    assert usage.oom_kill_events == 2  # from memory.oom_control


def test_cgroup_v1_unlimited_is_no_limit(tmp_path: Path) -> None:
    proc = make_proc(tmp_path, "v1_docker")
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(CGROUP / "v1_unlimited"))
    assert usage.limit_mb is None
    assert usage.limit_source == "none"
    assert usage.container_limit_mb is None
    assert usage.container_usage_mb == pytest.approx(308.0)
    assert usage.available_mb == pytest.approx(MEM_AVAILABLE_MB)


def test_cgroup_v1_prefers_the_process_own_cgroup(tmp_path: Path) -> None:
    # The shape of a hybrid host: v2 mounted at unified/ without memory files, memory on v1.
    proc = make_proc(tmp_path, "hybrid")
    root = tmp_path / "cgroup"
    (root / "unified").mkdir(parents=True)
    shutil.copytree(CGROUP / "v1_unlimited", root, dirs_exist_ok=True)
    own = root / "memory" / "process_api" / "60810a3e461976ae"
    shutil.copytree(CGROUP / "v1_limit" / "memory", own)
    (own / "memory.limit_in_bytes").write_text("1073741824\n")
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(root))
    assert usage.limit_source == "cgroup_v1"
    assert usage.limit_mb == pytest.approx(1024.0)


# --- setting override ----------------------------------------------------------------------------


@pytest.mark.parametrize("tree", ["v2_limit", "v2_max"])
def test_setting_overrides_cgroup(tree: str) -> None:
    usage = get_memory_usage(400.0, proc=str(PROC), cgroup_root=str(CGROUP / tree))
    assert usage.limit_source == "setting"
    assert usage.limit_mb == pytest.approx(400.0)
    assert usage.percent == pytest.approx(RSS_MB / 400.0 * 100)
    # With a container limit its usage counts; without one the cgroup may hold other processes, so only
    # this process's RSS is charged against the setting.
    expected_available = 400.0 - 304.0 if tree == "v2_limit" else 400.0 - RSS_MB
    assert usage.available_mb == pytest.approx(expected_available)
    expected_container_limit = 512.0 if tree == "v2_limit" else None
    assert usage.container_limit_mb == expected_container_limit


def test_stricter_container_limit_beats_the_setting() -> None:
    """A setting above the cgroup's limit would let the kernel kill the process before it sheds load."""
    usage = get_memory_usage(2048.0, proc=str(PROC), cgroup_root=str(CGROUP / "v2_limit"))
    assert usage.limit_source == "cgroup_v2"
    assert usage.limit_mb == pytest.approx(512.0)


def test_setting_without_cgroup_counts_this_process_for_available(tmp_path: Path) -> None:
    usage = get_memory_usage(512.0, proc=str(PROC), cgroup_root=str(tmp_path / "nothing"))
    assert usage.limit_source == "setting"
    assert usage.container_usage_mb is None
    assert usage.available_mb == pytest.approx(512.0 - RSS_MB)


def test_no_limit_at_all_uses_meminfo_for_available(tmp_path: Path) -> None:
    usage = get_memory_usage(None, proc=str(PROC), cgroup_root=str(tmp_path / "nothing"))
    assert usage.limit_source == "none"
    assert usage.available_mb == pytest.approx(MEM_AVAILABLE_MB)


# --- missing and malformed sources ---------------------------------------------------------------


def test_missing_files_give_none(tmp_path: Path) -> None:
    usage = get_memory_usage(proc=str(tmp_path / "no-proc"), cgroup_root=str(tmp_path / "no-cgroup"))
    assert usage.rss_mb == 0.0
    assert usage.percent is None
    assert usage.limit_source == "none"
    for name in (
        "rss_anon_mb",
        "rss_file_mb",
        "peak_rss_mb",
        "vms_mb",
        "limit_mb",
        "available_mb",
        "container_usage_mb",
        "container_limit_mb",
        "oom_events",
        "oom_kill_events",
    ):
        assert getattr(usage, name) is None, name


def test_missing_cgroup_files_after_resolution_give_none(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    shutil.copytree(CGROUP / "v2_limit", root)
    assert get_memory_usage(proc=str(PROC), cgroup_root=str(root)).limit_mb == pytest.approx(512.0)
    for name in ("memory.max", "memory.current", "memory.events"):
        (root / name).unlink()
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(root))
    assert (usage.limit_mb, usage.container_usage_mb, usage.oom_events) == (None, None, None)
    assert usage.limit_source == "none"


def test_malformed_files_give_none(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "status").write_text("VmRSS:\t\nRssAnon:\tlots kB\ngarbage\n")
    (proc / "self" / "cgroup").write_text("not a cgroup line\n0::/\n")
    (proc / "meminfo").write_text("MemAvailable: n/a\n")
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "memory.max").write_text("five hundred\n")
    (root / "memory.current").write_bytes(b"\xff\xfe\n")
    (root / "memory.events").write_text("oom\noom_kill many\n")
    usage = get_memory_usage(proc=str(proc), cgroup_root=str(root))
    assert usage.rss_mb == 0.0
    assert usage.rss_anon_mb is None
    assert usage.limit_mb is None
    assert usage.available_mb is None
    assert usage.container_usage_mb is None
    assert (usage.oom_events, usage.oom_kill_events) == (None, None)


# --- this machine --------------------------------------------------------------------------------


def test_real_process_usage() -> None:
    usage = get_memory_usage()
    assert usage.rss_mb > 0
    assert usage.rss_anon_mb is not None and usage.rss_anon_mb > 0
    assert usage.peak_rss_mb is not None and usage.peak_rss_mb >= usage.rss_mb
    assert len(usage.gc_counts) == 3
    assert all(isinstance(count, int) for count in usage.gc_counts)


# --- check_memory_limit --------------------------------------------------------------------------


def test_check_under_limit() -> None:
    check = check_memory_limit(usage=synthetic_usage(rss_mb=300.0, rss_anon_mb=250.0))
    assert check.limit_mb == 512.0
    assert (check.over_soft, check.over_hard) == (False, False)


def test_check_file_backed_rss_is_soft_only() -> None:
    # 500 MB resident but most of it a droppable mmap: clean up, don't refuse requests.
    check = check_memory_limit(usage=synthetic_usage(rss_mb=500.0, rss_anon_mb=200.0))
    assert (check.over_soft, check.over_hard) == (True, False)


def test_check_anonymous_over_hard() -> None:
    check = check_memory_limit(usage=synthetic_usage(rss_mb=495.0, rss_anon_mb=490.0))
    assert (check.over_soft, check.over_hard) == (True, True)


def test_check_hard_falls_back_to_rss_without_anon() -> None:
    check = check_memory_limit(usage=synthetic_usage(rss_mb=490.0, rss_anon_mb=None))
    assert check.over_hard is True


def test_check_fractions_and_explicit_limit() -> None:
    usage = synthetic_usage(rss_mb=300.0, rss_anon_mb=300.0)
    assert check_memory_limit(usage=usage, soft_fraction=0.5).over_soft is True
    assert check_memory_limit(usage=usage, hard_fraction=0.5).over_hard is True
    tight = check_memory_limit(256.0, usage=usage)
    assert tight.limit_mb == 256.0
    assert (tight.over_soft, tight.over_hard) == (True, True)


def test_check_without_limit_is_never_over() -> None:
    check = check_memory_limit(usage=synthetic_usage(rss_mb=10_000.0, rss_anon_mb=10_000.0, limit_mb=None))
    assert check.limit_mb is None
    assert (check.over_soft, check.over_hard) == (False, False)


@pytest.mark.parametrize(("soft", "hard"), [(0.0, 0.95), (0.8, -1.0)])
def test_check_rejects_non_positive_fractions(soft: float, hard: float) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        check_memory_limit(512.0, soft_fraction=soft, hard_fraction=hard)


# --- cleanup_memory and malloc_trim --------------------------------------------------------------


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cleanup_memory_collects_and_records_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_monitor, "_last_cleanup_released_mb", -1.0)
    was_enabled = gc.isenabled()
    gc.disable()  # keep the automatic collector from freeing the cycles first
    try:
        for _ in range(1000):
            _Cycle()
        result = cleanup_memory()
    finally:
        if was_enabled:
            gc.enable()
    assert result.gc_collected >= 1000
    assert result.rss_before_mb > 0 and result.rss_after_mb > 0
    assert result.released_mb == pytest.approx(max(0.0, result.rss_before_mb - result.rss_after_mb))
    assert result.anon_before_mb is not None and result.anon_after_mb is not None
    assert 0 < result.duration_ms < 5_000
    assert result.trimmed is (platform.libc_ver()[0] == "glibc")
    assert get_memory_usage().last_cleanup_released_mb == result.released_mb


def test_cleanup_memory_on_fixture_proc() -> None:
    result = cleanup_memory(proc=str(PROC))
    assert result.rss_before_mb == pytest.approx(RSS_MB)
    assert result.rss_after_mb == pytest.approx(RSS_MB)
    assert result.released_mb == 0.0
    assert result.anon_after_mb == pytest.approx(ANON_MB)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc-only")
def test_malloc_trim_runs_on_glibc() -> None:
    assert malloc_trim() is True
    assert memory_monitor._libc() is memory_monitor._libc()  # looked up once


class _LibcWithoutTrim:
    """Behaves like ``ctypes.CDLL`` of a libc lacking the symbol (musl): attribute lookup fails."""

    def __getattr__(self, name: str) -> object:
        raise AttributeError(name)


@pytest.mark.parametrize("libc", [None, _LibcWithoutTrim()])
def test_malloc_trim_absent_is_a_noop(monkeypatch: pytest.MonkeyPatch, libc: object) -> None:
    monkeypatch.setattr(memory_monitor, "_libc", lambda: libc)
    assert malloc_trim() is False
    assert cleanup_memory().trimmed is False


class _RecordingTrim:
    """Stands in for the ctypes function so the test sees the call glibc would get."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[int] = []
        self.error = error

    def __call__(self, pad: int) -> int:
        self.calls.append(pad)
        if self.error is not None:
            raise self.error
        return 1


class _FakeLibc:
    def __init__(self, trim: _RecordingTrim) -> None:
        self.malloc_trim = trim


def test_malloc_trim_calls_libc_with_zero_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    trim = _RecordingTrim()
    monkeypatch.setattr(memory_monitor, "_libc", lambda: _FakeLibc(trim))
    assert malloc_trim() is True
    assert trim.calls == [0]


def test_malloc_trim_swallows_call_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    trim = _RecordingTrim(error=OSError("no"))
    monkeypatch.setattr(memory_monitor, "_libc", lambda: _FakeLibc(trim))
    assert malloc_trim() is False
    assert trim.calls == [0]


# --- as_dict and logging -------------------------------------------------------------------------


def test_as_dict_is_json_ready_and_rounded() -> None:
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(CGROUP / "v2_limit"))
    data = json.loads(json.dumps(usage.as_dict()))
    assert set(data) == {field.name for field in dataclasses.fields(MemoryUsage)}
    assert data["peak_rss_mb"] == round(PEAK_MB, 1) == 294.2
    assert data["vms_mb"] == 681.8
    assert data["limit_source"] == "cgroup_v2"
    assert data["oom_kill_events"] == 1
    assert data["gc_counts"] == list(usage.gc_counts)
    none_data = get_memory_usage(proc="/nonexistent", cgroup_root="/nonexistent").as_dict()
    assert json.loads(json.dumps(none_data))["limit_mb"] is None


def test_log_memory_usage_writes_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    test_logger = logging.getLogger("factmem.test_memory")
    with caplog.at_level(logging.INFO, logger="factmem.test_memory"):
        usage = log_memory_usage("startup", test_logger, limit_mb=512.0, model="bge small", requests=3)
    assert isinstance(usage, MemoryUsage)
    assert usage.limit_source == "setting"
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith(f"memory context=startup rss_mb={round(usage.rss_mb, 1)} rss_anon_mb=")
    assert " peak_rss_mb=" in message
    assert " limit_mb=512.0 limit_source=setting" in message
    assert message.endswith(' model="bge small" requests=3')
    assert record.memory_usage["limit_mb"] == 512.0


# --- malloc tuning -------------------------------------------------------------------------------


class _RecordingMallopt:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


class _LibcWithMallopt:
    def __init__(self, mallopt: _RecordingMallopt) -> None:
        self.mallopt = mallopt


def test_malloc_tuning_passes_glibc_its_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    mallopt = _RecordingMallopt()
    monkeypatch.setattr(memory_monitor, "_libc", lambda: _LibcWithMallopt(mallopt))
    assert set_malloc_mmap_threshold(128) is True
    assert limit_malloc_arenas(2) is True
    assert set_malloc_mmap_threshold(0) is False  # 0: keep glibc's adaptive threshold
    assert limit_malloc_arenas(0) is False
    assert mallopt.calls == [(-3, 128 * 1024), (-8, 2)]  # M_MMAP_THRESHOLD, M_ARENA_MAX


@pytest.mark.parametrize("libc", [None, _LibcWithoutTrim()])
def test_malloc_tuning_without_glibc_is_a_noop(monkeypatch: pytest.MonkeyPatch, libc: object) -> None:
    monkeypatch.setattr(memory_monitor, "_libc", lambda: libc)
    assert set_malloc_mmap_threshold(128) is False
    assert limit_malloc_arenas(2) is False


_CHURN = """
import sys
import numpy as np
from factmem.memory_monitor import set_malloc_mmap_threshold

if sys.argv[1] == "fixed":
    assert set_malloc_mmap_threshold(128)

def anon_mb():
    status = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) // 1024 for line in status if line.startswith("RssAnon"))

before = anon_mb()
for _ in range(3):  # activation-sized buffers (1-3 MB), freed in another order than allocated
    blocks = [np.ones(256 * 1024 * (1 + i % 3), dtype=np.float32) for i in range(60)]
    kept = blocks[::7]
    del blocks
print(anon_mb() - before - sum(b.nbytes for b in kept) // 2**20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc-only")
def test_fixed_mmap_threshold_gives_freed_buffers_back(tmp_path: Path) -> None:
    """The reason for MALLOC_MMAP_THRESHOLD_KB: with glibc's adaptive threshold, freed multi-MB buffers stay
    in the heap (this churn keeps ~100 MB it no longer uses); with a fixed one they go back to the OS."""
    retained = {}
    for mode in ("adaptive", "fixed"):
        done = subprocess.run(
            [sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, timeout=60, check=True
        )
        retained[mode] = int(done.stdout)
    assert retained["fixed"] <= 10, retained
    assert retained["adaptive"] >= 50, retained  # the baseline the fix is measured against


# --- reading kernel files -------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_kernel_files_read_the_same_whether_the_gil_is_kept_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = memory_monitor._read_status("/proc")
    monkeypatch.setattr(memory_monitor, "_pread_keeping_gil", lambda: None)  # os.pread, as without PyDLL
    released = memory_monitor._read_status("/proc")
    assert kept.keys() == released.keys() >= {"VmRSS", "RssAnon", "RssFile", "VmHWM", "VmSize"}
    assert abs(kept["VmRSS"] - released["VmRSS"]) < 64 * 1024  # kB: the same process moments apart


@pytest.mark.skipif(memory_monitor._pread_keeping_gil() is None, reason="libc pread not callable via ctypes")
def test_pread_keeping_the_gil_reads_at_an_offset_and_reports_errors(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert memory_monitor._pread(fd, 4, 3) == b"3456"
        assert memory_monitor._pread(fd, 64, 0) == b"0123456789"
        assert memory_monitor._pread(fd, 64, 10) == b""
    finally:
        os.close(fd)
    with pytest.raises(OSError) as closed:
        memory_monitor._pread(fd, 4, 0)
    assert closed.value.errno == errno.EBADF

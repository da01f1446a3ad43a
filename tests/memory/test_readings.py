"""A memory reading (``factmem.memory.readings``) on fixture copies of real /proc and cgroup v1/v2 files."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import pytest
from memory_fixtures import (
    ANON_MB,
    CGROUP,
    FILE_MB,
    MEM_AVAILABLE_MB,
    PEAK_MB,
    PROC,
    RSS_MB,
    VMS_MB,
    make_proc,
)

from factmem.memory.readings import MemoryUsage, get_memory_usage, log_memory_usage

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
    assert usage.container_working_set_mb == pytest.approx(304.0 - 100.0)  # memory.stat inactive_file
    assert usage.oom_events == 3
    assert usage.oom_kill_events == 1
    assert usage.percent == pytest.approx(RSS_MB / 512.0 * 100)
    assert usage.available_mb == pytest.approx(512.0 - 204.0)


def test_cgroup_v2_max_means_no_limit() -> None:
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(CGROUP / "v2_max"))
    assert usage.limit_mb is None
    assert usage.limit_source == "none"
    assert usage.container_limit_mb is None
    assert usage.container_usage_mb == pytest.approx(304.0)
    assert usage.container_working_set_mb is None  # nothing is worked out from it without a limit
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


def test_a_cold_page_cache_is_not_counted_as_memory_in_use(tmp_path: Path) -> None:
    # A container whose image files were read for the first time: usage at the limit, most of it
    # inactive page cache the kernel drops before anything else. The room left is the working set's.
    root = tmp_path / "cgroup"
    shutil.copytree(CGROUP / "v2_limit", root)
    (root / "memory.max").write_text("268435456\n")
    (root / "memory.current").write_text("265785344\n")  # 253.5 MB
    stat = (root / "memory.stat").read_text().replace("inactive_file 104857600", "inactive_file 107323392")
    (root / "memory.stat").write_text(stat)
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(root))
    assert usage.container_usage_mb == pytest.approx(253.47, abs=0.01)
    assert usage.container_working_set_mb == pytest.approx(253.47 - 102.35, abs=0.01)
    assert usage.available_mb == pytest.approx(256.0 - 151.12, abs=0.01)


def test_without_memory_stat_the_working_set_is_the_usage(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    shutil.copytree(CGROUP / "v2_limit", root)
    (root / "memory.stat").unlink()
    usage = get_memory_usage(proc=str(PROC), cgroup_root=str(root))
    assert usage.container_working_set_mb == usage.container_usage_mb == pytest.approx(304.0)
    assert usage.available_mb == pytest.approx(512.0 - 304.0)


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
    assert usage.container_working_set_mb == pytest.approx(308.0 - 60.0)  # total_inactive_file
    assert usage.available_mb == pytest.approx(512.0 - 248.0)
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
    # With a container limit its working set counts; without one the cgroup may hold other processes, so
    # only this process's RSS is charged against the setting.
    expected_available = 400.0 - (304.0 - 100.0) if tree == "v2_limit" else 400.0 - RSS_MB
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

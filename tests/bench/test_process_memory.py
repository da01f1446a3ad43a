"""A server's memory read from outside (``factmem_bench.process_memory``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factmem_bench.process_memory import read_process_memory


def test_read_process_memory_from_a_proc_directory(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text(
        "Name:\tpython\nVmHWM:\t  307200 kB\nVmRSS:\t  204800 kB\n"
        "RssAnon:\t  102400 kB\nRssFile:\t   92160 kB\n",
        encoding="ascii",
    )
    assert read_process_memory(42, proc=str(tmp_path)) == {
        "rss_mb": 200.0,
        "rss_anon_mb": 100.0,
        "rss_file_mb": 90.0,
        "hwm_mb": 300.0,
    }
    assert set(read_process_memory(43, proc=str(tmp_path)).values()) == {None}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_read_process_memory_of_this_process() -> None:
    memory = read_process_memory(os.getpid())
    assert memory["rss_mb"] is not None and memory["rss_mb"] > 0
    assert memory["hwm_mb"] is not None and memory["hwm_mb"] >= memory["rss_mb"]

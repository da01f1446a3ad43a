"""Reading kernel files (``factmem.memory.kernel_files``): the same bytes whether the GIL is kept or not."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from factmem.memory import kernel_files


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_kernel_files_read_the_same_whether_the_gil_is_kept_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = kernel_files.read_status("/proc")
    monkeypatch.setattr(kernel_files, "_pread_keeping_gil", lambda: None)  # os.pread, as without PyDLL
    released = kernel_files.read_status("/proc")
    assert kept.keys() == released.keys() >= {"VmRSS", "RssAnon", "RssFile", "VmHWM", "VmSize"}
    assert abs(kept["VmRSS"] - released["VmRSS"]) < 64 * 1024  # kB: the same process moments apart


@pytest.mark.skipif(kernel_files._pread_keeping_gil() is None, reason="libc pread not callable via ctypes")
def test_pread_keeping_the_gil_reads_at_an_offset_and_reports_errors(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert kernel_files._pread(fd, 4, 3) == b"3456"
        assert kernel_files._pread(fd, 64, 0) == b"0123456789"
        assert kernel_files._pread(fd, 64, 10) == b""
    finally:
        os.close(fd)
    with pytest.raises(OSError) as closed:
        kernel_files._pread(fd, 4, 0)
    assert closed.value.errno == errno.EBADF


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("inactive_file 4096\nactive_file 8192\n", "inactive_file", 4096),  # the first line
        ("active_file 8192\ninactive_file 4096", "inactive_file", 4096),  # the last line, no newline
        ("inactive_file 1\ntotal_inactive_file 5\n", "total_inactive_file", 5),
        ("total_inactive_file 5\n", "inactive_file", None),  # a key that only ends another one
        ("active_file 8192\n", "inactive_file", None),
        ("inactive_file many\n", "inactive_file", None),
    ],
)
def test_one_keyed_value_is_found_by_its_whole_key(
    tmp_path: Path, text: str, key: str, expected: int | None
) -> None:
    path = tmp_path / "memory.stat"
    path.write_text(text)
    assert kernel_files.read_keyed_int(str(path), key) == expected


def test_a_missing_keyed_file_reads_as_none(tmp_path: Path) -> None:
    assert kernel_files.read_keyed_int(str(tmp_path / "memory.stat"), "inactive_file") is None

"""Releasing file-backed pages: RSS falls, nothing is lost, and it is a no-op where it cannot run.

The releases run in child processes: paging out the test process's own libraries would only slow the suite.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from factmem.memory import file_pages
from factmem.memory.cleanup import cleanup_memory
from factmem.memory.file_pages import file_backed_ranges, release_file_pages

FILE_MB = 32

MAPS = """\
55d4c2a00000-55d4c2a22000 r--p 00000000 fd:01 131 /usr/bin/python3.11
55d4c2a22000-55d4c2b6f000 r-xp 00022000 fd:01 131 /usr/bin/python3.11
55d4c3a00000-55d4c3c00000 rw-p 00000000 00:00 0 [heap]
7f1e40000000-7f1e40021000 rw-p 00000000 00:00 0
7f1e44000000-7f1e46000000 rw-s 00000000 fd:01 77 /data/qdrant-edge/claims/segments/x/payload/page_0.dat
7f1e48000000-7f1e48001000 rw-s 00000000 00:01 9 /dev/zero (deleted)
7f1e48100000-7f1e48101000 rw-s 00000000 00:01 10 /memfd:pyo3 (deleted)
7f1e48200000-7f1e48300000 r--s 00000000 fd:01 78 /data/old segment/vectors.mmap (deleted)
7ffd1c9e7000-7ffd1ca08000 rw-p 00000000 00:00 0 [stack]
7ffd1cbf2000-7ffd1cbf4000 r-xp 00000000 00:00 0 [vdso]
not a maps line
"""


def test_only_mappings_with_a_file_behind_them_are_selected() -> None:
    assert file_backed_ranges(MAPS) == [
        (0x55D4C2A00000, 0x22000),
        (0x55D4C2A22000, 0x14D000),
        (0x7F1E44000000, 0x2000000),
        # an unlinked file's pages can still be read back through the open inode; spaces in paths survive
        (0x7F1E48200000, 0x100000),
    ]


CHILD = textwrap.dedent(
    """
    import hashlib, json, mmap, sys
    from factmem.memory.file_pages import release_file_pages
    from factmem.memory.readings import get_memory_usage

    path, mode = sys.argv[1], sys.argv[2]
    with open(path, "r+b") as f:
        if mode == "dirty-shared":
            m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            m[:] = bytes(range(256)) * (len(m) // 256)  # every page dirty, not yet on disk
        else:
            m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    digest_before = hashlib.sha256(m).hexdigest()  # reads every page
    file_before = get_memory_usage().rss_file_mb
    accepted = release_file_pages()
    file_after = get_memory_usage().rss_file_mb
    digest_after = hashlib.sha256(m).hexdigest()  # faults every page back in
    m.flush()
    m.close()
    print(json.dumps({"accepted": accepted, "file_before": file_before, "file_after": file_after,
                      "digest_before": digest_before, "digest_after": digest_after}))
    """
)


def run_child(path: Path, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    if result["accepted"] is None:
        pytest.skip("this kernel has no MADV_PAGEOUT")
    return result


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "segment.dat"
    with path.open("wb") as f:
        f.write(os.urandom(FILE_MB * 1024 * 1024))
        f.flush()
        os.fsync(f.fileno())  # clean page-cache pages, as a store's settled segment has
    return path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MADV_PAGEOUT is Linux-only")
def test_read_pages_of_a_mapped_file_leave_rss_and_come_back_intact(data_file: Path) -> None:
    result = run_child(data_file, "read")
    assert isinstance(result["accepted"], int) and result["accepted"] > 0
    released = float(result["file_before"]) - float(result["file_after"])  # type: ignore[arg-type]
    assert released >= FILE_MB * 0.75, result
    assert result["digest_after"] == result["digest_before"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MADV_PAGEOUT is Linux-only")
def test_dirty_pages_of_a_shared_writable_mapping_are_never_lost(data_file: Path) -> None:
    """Like Qdrant Edge's payload pages: written through the mapping, released before being flushed."""
    result = run_child(data_file, "dirty-shared")
    assert result["digest_after"] == result["digest_before"]
    assert data_file.read_bytes() == bytes(range(256)) * (FILE_MB * 1024 * 1024 // 256)


def test_no_madvise_is_a_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_pages, "_madvise", lambda: None)
    assert release_file_pages() is None
    assert cleanup_memory(release_file_pages=True).file_released_mb == 0.0


class _FakeMadvise:
    """Answers like libc's madvise: 0, or -1 with errno set; records the ranges it was given."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, start: ctypes.c_void_p, length: ctypes.c_size_t, advice: int) -> int:
        self.calls.append((start.value or 0, length.value, advice))
        error = self.errors[len(self.calls) - 1]
        if error:
            ctypes.set_errno(error)
            return -1
        return 0


@pytest.fixture
def maps_file(tmp_path: Path) -> Path:
    path = tmp_path / "maps"
    path.write_text(MAPS)
    return path


def test_a_kernel_without_pageout_is_reported_as_unsupported(
    monkeypatch: pytest.MonkeyPatch, maps_file: Path
) -> None:
    fake = _FakeMadvise([errno.EINVAL] * 4)
    monkeypatch.setattr(file_pages, "_madvise", lambda: fake)
    assert release_file_pages(str(maps_file)) is None
    assert len(fake.calls) == 1, "the first EINVAL means the advice is unknown: stop there"


def test_a_mapping_gone_or_busy_is_skipped_and_the_rest_released(
    monkeypatch: pytest.MonkeyPatch, maps_file: Path
) -> None:
    fake = _FakeMadvise([0, errno.ENOMEM, errno.EAGAIN, 0])
    monkeypatch.setattr(file_pages, "_madvise", lambda: fake)
    assert release_file_pages(str(maps_file)) == 2
    assert [advice for _, _, advice in fake.calls] == [21] * 4
    assert [(start, length) for start, length, _ in fake.calls] == file_backed_ranges(MAPS)


def test_unreadable_maps_is_unsupported(tmp_path: Path) -> None:
    assert release_file_pages(str(tmp_path / "missing")) is None


def test_cleanup_reports_file_pages_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(file_pages, "release_file_pages", lambda: calls.append("released") or 0)
    assert cleanup_memory().file_released_mb == 0.0
    assert calls == []
    result = cleanup_memory(release_file_pages=True)
    assert calls == ["released"]
    assert result.file_released_mb >= 0.0

"""What an embedded shard held at its last flush, and the check that it still holds it when opened.

Qdrant Edge loads torn files silently: an id tracker cut in half came up with half the claims and no log
line, a truncated vector file came up serving 500s, zeroed payload pages too. So each successful flush
writes ``<shard>.manifest.json`` beside the shard (atomically: a temporary file, fsync, rename) with the
number of points and the sizes of the files that only grow while their segment lives (id tracker, vector
chunks, payload pages). Opening for service checks the shard against it, then reads from it (a search and a
page of payloads): a shard with fewer points than it had, a data file shorter than it was, or data that
cannot be read is refused with what is wrong and how to recover.

Writes after the last flush may or may not have reached the disk before a crash, so the check accepts
*more* points and longer files than the manifest says, never fewer or shorter.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from factmem.errors import StoreCorruptError
from factmem.time_decay import to_iso, utc_now

logger = logging.getLogger(__name__)

VERSION = 1
#: files an appendable segment only ever extends (segments replaced by an index build disappear whole)
_GROWING = re.compile(r"(mutable_id_tracker\.(mappings|versions)|chunk_\d+\.mmap|page_\d+\.dat)$")


def manifest_path(shard: Path) -> Path:
    return shard.with_name(shard.name + ".manifest.json")


def _growing_files(shard: Path) -> dict[str, int]:
    sizes = {}
    for root, _, files in os.walk(shard):
        for name in files:
            if _GROWING.search(name):
                path = Path(root) / name
                try:
                    sizes[str(path.relative_to(shard))] = path.stat().st_size
                except OSError:
                    continue
    return sizes


def write_manifest(shard: Path, points: int) -> None:
    """Record ``points`` (counted before the flush that just succeeded) and the growing files' sizes."""
    target = manifest_path(shard)
    record = {
        "version": VERSION,
        "points": points,
        "files": _growing_files(shard),
        "flushed_at": to_iso(utc_now()),
    }
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_manifest(shard: Path) -> dict[str, Any] | None:
    path = manifest_path(shard)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreCorruptError(damaged(shard, f"its manifest {path.name} is unreadable ({exc})")) from exc
    return record if isinstance(record, dict) else None


def check_against_manifest(shard: Path, points: int) -> None:
    """Raise ``StoreCorruptError`` when the shard holds less than at its last flush."""
    record = read_manifest(shard)
    if record is None:
        return  # a shard from before manifests: the next flush writes one
    expected = int(record.get("points", 0))
    if points < expected:
        raise StoreCorruptError(
            damaged(
                shard,
                f"it holds {points} points, but held {expected} at its last flush "
                f"({record.get('flushed_at')})",
            )
        )
    now = _growing_files(shard)
    for name, size in dict(record.get("files", {})).items():
        if name in now and now[name] < int(size):
            raise StoreCorruptError(
                damaged(shard, f"{name} is {now[name]} bytes, but was {size} at its last flush (torn)")
            )


def damaged(shard: Path, what: str) -> str:
    """The refusal an operator reads: what is wrong, and the way back."""
    return (
        f"qdrant-edge shard {shard} is damaged: {what}. It is not served. To recover, with the server "
        "stopped: salvage what is readable with `python -m factmem export --output salvage.jsonl`, move "
        f"{shard.name} (and {shard.name}.manifest.json) aside, start (an empty memory is created), then "
        "`python -m factmem import` your latest backup or the salvage"
    )

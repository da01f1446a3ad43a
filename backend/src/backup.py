"""Export a memory to JSONL and import it back, re-embedding on the way in.

    python -m factmem export --output memory.jsonl
    python -m factmem import memory.jsonl

One line per point: ``{"collection": "claims"|"evidence", "id": ..., "payload": {...}}`` after a header
line. Vectors are not exported: import embeds each claim (``claim_text``) or passage (``text``) again with
the model the importing process runs, so an export moves between the embedded store and a Qdrant server,
and survives a change of model. Ids are kept, so importing twice, or into a store that holds some of the
points, replaces rather than duplicates. Both read and write in bounded batches.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from factmem.errors import InputError, StoreError
from factmem.pipeline import VerificationPipeline
from factmem.store.base import ClaimStore, PointWrite
from factmem.time_decay import to_iso, utc_now

logger = logging.getLogger(__name__)

FORMAT = "factmem-export"
VERSION = 1
#: the payload field whose text is embedded, per collection
TEXT_FIELD = {"claims": "claim_text", "evidence": "text"}


@dataclass
class BackupReport:
    counts: dict[str, int] = field(default_factory=lambda: {"claims": 0, "evidence": 0})
    error: str | None = None


def export_memory(pipeline: VerificationPipeline, out: TextIO) -> BackupReport:
    """Write every claim and passage; a store that fails part-way is reported, what was read is kept."""
    report = BackupReport()
    header = {"format": FORMAT, "version": VERSION, "exported_at": to_iso(utc_now())}
    out.write(json.dumps(header) + "\n")
    stores: tuple[tuple[str, ClaimStore], ...] = (
        ("claims", pipeline.claim_store),
        ("evidence", pipeline.evidence_store),
    )
    for collection, store in stores:
        try:
            for point in store.iter_points():
                line = {"collection": collection, "id": point.id, "payload": point.payload}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                report.counts[collection] += 1
        except StoreError as exc:  # a damaged store: keep what was readable, say where it stopped
            report.error = f"{collection}: stopped after {report.counts[collection]} points: {exc}"
            logger.error("export %s", report.error)
    return report


def _parse(lines: Iterable[str]) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not valid JSON ({exc.msg})") from exc
        if record.get("format") == FORMAT:
            if record.get("version") != VERSION:
                raise InputError(f"line {number}: export version {record.get('version')}, expected {VERSION}")
            continue
        collection, point_id, payload = record.get("collection"), record.get("id"), record.get("payload")
        if collection not in TEXT_FIELD or not isinstance(point_id, str) or not isinstance(payload, dict):
            raise InputError(f"line {number}: expected collection (claims|evidence), id and payload")
        if not isinstance(payload.get(TEXT_FIELD[collection]), str):
            raise InputError(f"line {number}: payload has no {TEXT_FIELD[collection]!r} text to embed")
        yield number, collection, point_id, payload


def import_memory(pipeline: VerificationPipeline, lines: Iterable[str], *, batch: int = 64) -> BackupReport:
    """Embed and store every point of an export (flushed at the end)."""
    report = BackupReport()
    pending: dict[str, list[tuple[str, dict[str, Any]]]] = {"claims": [], "evidence": []}
    stores = {"claims": pipeline.claim_store, "evidence": pipeline.evidence_store}

    def write(collection: str) -> None:
        points = pending[collection]
        if not points:
            return
        vectors = pipeline.embedder.embed([payload[TEXT_FIELD[collection]] for _, payload in points])
        model_id = pipeline.embedder.model_id
        stores[collection].upsert(
            [
                PointWrite(point_id, vector, payload | {"embedding_model": model_id})
                for (point_id, payload), vector in zip(points, vectors, strict=True)
            ]
        )
        report.counts[collection] += len(points)
        points.clear()

    for _, collection, point_id, payload in _parse(lines):
        pending[collection].append((point_id, payload))
        if len(pending[collection]) >= batch:
            write(collection)
    for collection in pending:
        write(collection)
    for store in stores.values():
        store.flush()
    return report

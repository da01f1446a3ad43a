"""``python -m factmem``: operator commands over the same stores and pipeline the API uses.

    python -m factmem ingest FILE            curated claims (JSONL or CSV) into the claim memory
    python -m factmem ingest-evidence FILE   evidence passages into the evidence collection
    python -m factmem build-index            build the vector index now (the server must be stopped)
    python -m factmem reindex [--recompute]  give a memory made before hybrid retrieval its BM25 vectors
    python -m factmem stats                  counts of the stores
    python -m factmem export [--output FILE] every claim and passage as JSONL (a backup; no vectors)
    python -m factmem import FILE            an export back in, re-embedded with this process's model
    python -m factmem prepare-model          convert the embedding model now (at build time), not at start

An embedded shard belongs to one process: stop the server before running these against the same
``DATA_DIR`` (or point them at a Qdrant server with ``QDRANT_URL``, which many processes can share).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from factmem.backup import export_memory, import_memory
from factmem.embeddings import MINILM_INT8, Embedder, get_shared_embedding_model
from factmem.errors import FactmemError
from factmem.ingest import (
    CuratedClaim,
    EvidencePassageIn,
    IngestReport,
    ingest_claims,
    ingest_evidence,
    parse_records,
    read_records,
)
from factmem.logging_setup import configure_logging
from factmem.memory.allocator import configure_allocator
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings, get_settings
from factmem.store import open_store


def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() == ".json":
        return None  # one JSON document: its records are not its lines
    try:
        with path.open(encoding="utf-8") as handle:
            rows = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    return rows - 1 if path.suffix.lower() == ".csv" else rows


def _open_pipeline(settings: Settings) -> VerificationPipeline:
    claims = open_store(settings, settings.claims_collection, MINILM_INT8.dim)
    evidence = open_store(settings, settings.evidence_collection, MINILM_INT8.dim)
    return VerificationPipeline(settings, claims, evidence, lambda: get_shared_embedding_model(settings))


#: The commands that embed in bulk: they run ``INGEST_CONCURRENCY`` model calls at once, not the server's
#: ``EMBEDDING_CONCURRENCY``, with ``INGEST_MALLOC_MMAP_THRESHOLD_KB`` (the model's time per text sets an
#: ingest's rate; ``Settings.for_bulk_embedding``).
BULK_EMBEDDING_COMMANDS = frozenset({"ingest", "ingest-evidence", "import"})


def _close(pipeline: VerificationPipeline) -> None:
    pipeline.claim_store.close()
    pipeline.evidence_store.close()


#: An interrupted ingest resumes from the last checkpoint: a flush of the stores, then the count of records
#: read, every this many records.
CHECKPOINT_RECORDS = 2_000


class _Progress:
    """How many records of one input file are durably ingested (``DATA_DIR/ingest-progress/``)."""

    def __init__(self, settings: Settings, path: Path) -> None:
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}".encode()).hexdigest()[:12]
        self.file = settings.data_dir / "ingest-progress" / f"{path.name}.{key}.json"
        self.read = 0

    def done(self) -> int:
        try:
            return int(json.loads(self.file.read_text(encoding="utf-8"))["records"])
        except (OSError, ValueError, KeyError):
            return 0

    def save(self, records: int) -> None:
        """Record that the first ``records`` records of the file are stored and flushed."""
        self.file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_suffix(".tmp")
        partial.write_text(json.dumps({"records": records}), encoding="utf-8")
        partial.replace(self.file)

    def counted(self, records: Iterator[tuple[int, dict[str, Any]]], skip: int) -> Iterator[tuple[int, dict]]:
        for record in records:
            self.read += 1
            if self.read > skip:
                yield record

    def clear(self) -> None:
        self.file.unlink(missing_ok=True)


def _ingest(args: argparse.Namespace, settings: Settings, evidence: bool) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    pipeline = _open_pipeline(settings)
    report = IngestReport()
    progress = _Progress(settings, path)
    skip = 0 if args.from_start else progress.done()
    if skip:
        print(f"resuming {path.name} after {skip} records (--from-start to begin again)", file=sys.stderr)
    store = pipeline.evidence_store if evidence else pipeline.claim_store
    checkpointed = skip

    # Records read when each batch not yet stored was taken: the next batch may be read (and embedded)
    # while one is stored, so what is durable is counted when its batch is stored, in the same order.
    read_when_taken: deque[int] = deque()

    def batch_taken() -> None:
        read_when_taken.append(progress.read)

    def batch_done(count: int) -> None:
        nonlocal checkpointed
        bar.update(count)
        stored_through = read_when_taken.popleft()
        if stored_through - checkpointed >= CHECKPOINT_RECORDS:
            store.flush()  # what the progress file counts is on disk
            progress.save(stored_through)
            checkpointed = stored_through

    try:
        model = EvidencePassageIn if evidence else CuratedClaim
        rows = parse_records(progress.counted(read_records(path), skip), model, report)
        total = _count_rows(path)
        with tqdm(total=total, initial=skip, unit="row", desc=f"ingest {path.name}", file=sys.stderr) as bar:
            if evidence:
                ingest_evidence(pipeline, rows, report=report, on_batch=batch_done, on_read=batch_taken)
            else:
                ingest_claims(pipeline, rows, report=report, on_batch=batch_done, on_read=batch_taken)
        store.flush()
        progress.clear()
        if not args.no_index:
            pipeline.claim_store.build_index()
            pipeline.evidence_store.build_index()
    finally:
        _close(pipeline)
    print(json.dumps({"file": str(path), **report.as_dict()} | {"rejected": report.rejected[:20]}, indent=2))
    return 1 if report.rejected and not (report.inserted or report.updated) else 0


def _build_index(settings: Settings) -> int:
    pipeline = _open_pipeline(settings)
    try:
        changed = pipeline.claim_store.build_index() | pipeline.evidence_store.build_index()
    finally:
        _close(pipeline)
    print(json.dumps({"index_rebuilt": changed}))
    return 0


def _stats(settings: Settings) -> int:
    claims = open_store(settings, settings.claims_collection, MINILM_INT8.dim)
    evidence = open_store(settings, settings.evidence_collection, MINILM_INT8.dim)
    try:
        print(json.dumps({"backend": claims.backend, "claims": claims.count(), "evidence": evidence.count()}))
    finally:
        claims.close()
        evidence.close()
    return 0


def _reindex(settings: Settings, *, recompute: bool) -> int:
    if settings.qdrant_url:
        print(
            "error: reindex copies an embedded shard; for a Qdrant server, export and re-ingest the claims "
            "into a new collection (it is created with sparse vectors)",
            file=sys.stderr,
        )
        return 2
    from factmem.store.reindex import reindex_edge_shard

    path = settings.data_dir / "qdrant-edge" / settings.claims_collection
    if not path.is_dir():
        print(f"error: no claim memory at {path}", file=sys.stderr)
        return 2
    with tqdm(unit="point", desc=f"reindex {path.name}", file=sys.stderr) as bar:
        copied, backup = reindex_edge_shard(
            path,
            name=settings.claims_collection,
            dim=MINILM_INT8.dim,
            progress=bar.update,
            recompute=recompute,
        )
    print(json.dumps({"points": copied, "reindexed": backup is not None, "old_shard": str(backup or "")}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m factmem", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, what in (("ingest", "curated claims"), ("ingest-evidence", "evidence passages")):
        sub = commands.add_parser(name, help=f"load {what} from a JSONL or CSV file")
        sub.add_argument("file", help="path to a .jsonl or .csv file")
        sub.add_argument("--no-index", action="store_true", help="skip building the vector index afterwards")
        sub.add_argument(
            "--from-start", action="store_true", help="ignore the progress of an interrupted run of this file"
        )
    commands.add_parser("build-index", help="build the vector index (stop the server first)")
    reindex = commands.add_parser(
        "reindex", help="add BM25 sparse vectors to a memory made without them (stop the server)"
    )
    reindex.add_argument(
        "--recompute",
        action="store_true",
        help="make the sparse vectors of a memory that has them again, as this version makes them",
    )
    commands.add_parser("stats", help="print store counts")
    export = commands.add_parser("export", help="write every claim and evidence passage as JSONL")
    export.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    imported = commands.add_parser("import", help="load an export, embedding each text again")
    imported.add_argument("file", help="a file written by `export`")
    commands.add_parser("prepare-model", help="lay out and convert the embedding model (build time)")
    return parser


def _export(args: argparse.Namespace, settings: Settings) -> int:
    pipeline = _open_pipeline(settings)
    try:
        if args.output == "-":
            report = export_memory(pipeline, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                report = export_memory(pipeline, out)
    finally:
        _close(pipeline)
    print(json.dumps({"exported": report.counts, "error": report.error}), file=sys.stderr)
    return 1 if report.error else 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    pipeline = _open_pipeline(settings)
    try:
        with path.open(encoding="utf-8") as lines:
            report = import_memory(pipeline, lines)
    finally:
        _close(pipeline)
    print(json.dumps({"imported": report.counts}))
    return 0


def _prepare_model(settings: Settings) -> int:
    """Everything the first start would do to the model, so a small instance never has to: the converted
    model is cached under MODEL_DIR (or DATA_DIR/model) and reused by the server."""
    embedder = Embedder.from_settings(settings)
    print(
        json.dumps(
            {
                "model_id": embedder.model_id,
                "path": str(embedder.model_path),
                "seconds": round(embedder.load_seconds, 2),
            }
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if args.command in BULK_EMBEDDING_COMMANDS:
        settings = settings.for_bulk_embedding()
    configure_allocator(settings)  # before any thread starts: the server's caps, or the bulk commands' own
    configure_logging("warning" if args.command != "build-index" else "info")
    try:
        if args.command in {"ingest", "ingest-evidence"}:
            return _ingest(args, settings, evidence=args.command == "ingest-evidence")
        if args.command == "build-index":
            return _build_index(settings)
        if args.command == "export":
            return _export(args, settings)
        if args.command == "import":
            return _import(args, settings)
        if args.command == "prepare-model":
            return _prepare_model(settings)
        if args.command == "reindex":
            return _reindex(settings, recompute=args.recompute)
        return _stats(settings)
    except FactmemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

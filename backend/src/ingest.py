"""Loading curated fact-checks and evidence passages into memory (the API's admin writes and the CLI).

Records are validated with the same models the API uses, embedded in bounded batches and written with ids
derived from their text, so re-ingesting a file updates records instead of duplicating them. Files are
streamed: memory stays bounded by the batch size, not the file size.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from factmem.agents.base import NormalizedClaim, VerificationResult
from factmem.agents.memory_update import new_claim_payload
from factmem.claimreview import claim_reviews, curated_record, is_claim_review
from factmem.embeddings import Embedder
from factmem.errors import InputError
from factmem.pipeline import VerificationPipeline
from factmem.store.base import PointWrite
from factmem.store.ids import claim_point_id, evidence_point_id
from factmem.text_checks import LETTER_PATTERN, has_letter, reject_bool
from factmem.time_decay import utc_now

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEED_FILE = Path(__file__).parent / "data" / "seed_claims.jsonl"


#: What ``_http_url`` accepts, for the OpenAPI document: empty, or an http(s) scheme in any case.
_HTTP_URL_PATTERN = r"^\s*([Hh][Tt][Tt][Pp][Ss]?:[\s\S]*)?$"


class CuratedClaim(BaseModel):
    """A fact-check written by a person: the claim, its verdict, and where that verdict comes from."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    claim: str = Field(min_length=3, max_length=2_000, json_schema_extra={"pattern": LETTER_PATTERN})
    verdict: Literal["True", "False", "Uncertain"]
    explanation: str = Field("", max_length=2_000)
    source_url: str | None = Field(None, max_length=2_000, json_schema_extra={"pattern": _HTTP_URL_PATTERN})
    source_reliability: float = Field(0.8, ge=0.0, le=1.0)
    date: dt.date | None = None
    source: str | None = Field(None, max_length=200)
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    #: The fact-check's headline, which often names what the claim only describes (searched by words).
    title: str | None = Field(None, max_length=500)

    _numbers_not_bools = field_validator("source_reliability", "confidence", mode="before")(reject_bool)

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # pydantic would read a number as a Unix time: 0 became 1970-01-01
        if value is not None and not isinstance(value, str | dt.date):
            raise ValueError("must be a date as YYYY-MM-DD")
        return value

    @field_validator("verdict", mode="before")
    @classmethod
    def _canonical_verdict(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"true": "True", "false": "False", "uncertain": "Uncertain"}.get(
                value.strip().lower(), value
            )
        return value

    @field_validator("source_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and urlparse(value).scheme not in {"http", "https"}:
            raise ValueError("must be an http(s) URL")
        return value or None

    def source_name(self) -> str:
        return self.source or (urlparse(self.source_url).hostname if self.source_url else None) or "curated"


class EvidencePassageIn(BaseModel):
    """A passage of text an operator trusts as evidence (no verdict of its own)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    text: str = Field(min_length=10, max_length=5_000, json_schema_extra={"pattern": LETTER_PATTERN})
    source: str | None = Field(None, max_length=200)
    source_url: str | None = Field(None, max_length=2_000)
    source_reliability: float = Field(0.7, ge=0.0, le=1.0)

    _number_not_bool = field_validator("source_reliability", mode="before")(reject_bool)

    @field_validator("text")
    @classmethod
    def _has_letters(cls, value: str) -> str:
        if not has_letter(value):
            raise ValueError(
                "has no letters (only digits, punctuation or emoji); evidence is a passage of text"
            )
        return value


@dataclass
class IngestReport:
    inserted: int = 0
    updated: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"inserted": self.inserted, "updated": self.updated, "rejected": self.rejected}


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV, JSONL or JSON file with their line (or record) numbers, by the file's extension.

    Fact-checkers' ClaimReview objects (schema.org; one per JSONL line, or a JSON document holding one, a
    list, a ``@graph`` or a data feed) become curated-claim rows (``factmem.claimreview``). A ``.json`` file
    that is not one JSON document is read as JSONL.
    """
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".ndjson", ".json"}:
        raise InputError(f"{path.name}: unsupported format; use .jsonl or .csv (or .json: ClaimReview)")
    if suffix == ".json":
        document = _json_document(path)
        if document is not None:
            yield from _document_records(document)
            return
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
            return
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path.name}:{number}: not valid JSON ({exc.msg})") from exc
                yield number, curated_record(row) if is_claim_review(row) else row


def _json_document(path: Path) -> Any | None:
    """The file as one JSON document, or None when it is JSONL (several documents, one per line)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return None
        raise InputError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _document_records(document: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    reviews = list(claim_reviews(document))
    if reviews:
        yield from enumerate((curated_record(r) for r in reviews), start=1)
        return
    rows = document if isinstance(document, list) else [document]
    yield from ((number, row) for number, row in enumerate(rows, start=1) if isinstance(row, dict))


def parse_records(
    rows: Iterable[tuple[int, dict[str, Any]]], model: type[BaseModel], report: IngestReport
) -> Iterator[Any]:
    """Validate rows, reporting (not raising on) the bad ones so one typo does not abort a large file."""
    for number, row in rows:
        try:
            yield model.model_validate(row)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            report.rejected.append(f"line {number}: {problems}")


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_in_batches(
    pipeline: VerificationPipeline, items: Iterable[T], on_read: Callable[[], None] | None
) -> Iterator[list[T]]:
    """The ingest commands' batches (four model batches each), ``on_read`` called as each is taken."""
    for batch in _batches(items, pipeline.settings.embedding_batch_size * 4):
        if on_read:
            on_read()
        yield batch


def _embedded_ahead(
    embedder: Embedder, items: Iterable[T], texts_of: Callable[[T], list[str]]
) -> Iterator[tuple[T, np.ndarray]]:
    """Each item with the vectors of its texts. When the embedder runs more than one call at once (the bulk
    commands), the next item's vectors are computed while the caller stores this one: the model then keeps
    every core busy while the rest (normalizing, BM25 vectors, the store) runs beside it. At most one item
    is embedded ahead, so at most two batches are in memory."""
    if embedder.max_concurrent_calls <= 1:
        for item in items:
            yield item, embedder.embed(texts_of(item))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-ahead") as ahead:
        pending: tuple[T, Future[np.ndarray]] | None = None
        for item in items:
            future = ahead.submit(embedder.embed, texts_of(item))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (item, future)
        if pending is not None:
            yield pending[0], pending[1].result()


def ingest_claims(
    pipeline: VerificationPipeline,
    claims: Iterable[CuratedClaim],
    *,
    origin: str = "curated",
    report: IngestReport | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_read: Callable[[], None] | None = None,
) -> IngestReport:
    """Store curated claims; a record of the same claim keeps its counts and takes the new verdict.

    ``on_read`` is called when a batch has been taken from ``claims``, ``on_batch`` (with its size) when it
    is stored, in the same order: a batch may be read before the one before it is stored.
    """
    report = report or IngestReport()
    normalized_batches = (
        (len(batch), _normalized(pipeline, batch, report))
        for batch in _read_in_batches(pipeline, claims, on_read)
    )
    batches = _embedded_ahead(
        pipeline.embedder, normalized_batches, lambda item: [claim.normalized_text for _, claim in item[1]]
    )
    for (size, normalized), vectors in batches:
        _store_claim_batch(pipeline, normalized, vectors, origin, report)
        if on_batch:
            on_batch(size)
    return report


def _normalized(
    pipeline: VerificationPipeline, batch: Sequence[CuratedClaim], report: IngestReport
) -> list[tuple[CuratedClaim, NormalizedClaim]]:
    normalized = []
    for item in batch:
        try:
            normalized.append((item, pipeline.normalizer.normalize(item.claim)))
        except InputError as exc:
            report.rejected.append(f"{item.claim[:60]!r}: {exc}")
    return normalized


def _store_claim_batch(
    pipeline: VerificationPipeline,
    normalized: Sequence[tuple[CuratedClaim, NormalizedClaim]],
    vectors: np.ndarray,
    origin: str,
    report: IngestReport,
) -> None:
    if not normalized:
        return
    ids = [claim_point_id(claim.comparison_key) for _, claim in normalized]
    existing = {p.id: p.payload for p in pipeline.claim_store.retrieve(ids)}
    now = utc_now()
    writes: dict[str, PointWrite] = {}
    for (item, claim), point_id, vector in zip(normalized, ids, vectors, strict=True):
        result = VerificationResult(
            verdict=item.verdict,
            confidence=item.confidence if item.confidence is not None else item.source_reliability,
            reasoning=f"curated fact-check from {item.source_name()}",
            explanation=item.explanation,
        )
        payload = new_claim_payload(
            claim,
            result,
            now=now,
            source=item.source_name(),
            source_url=item.source_url,
            source_reliability=item.source_reliability,
            source_date=item.date.isoformat() if item.date else None,
            origin=origin,
            embedding_model=pipeline.embedder.model_id,
            title=item.title,
        )
        previous = existing.get(point_id)
        if previous is not None:
            for kept in ("seen_count", "first_seen", "first_seen_ts"):
                payload[kept] = previous.get(kept, payload[kept])
        if previous is not None or point_id in writes:
            report.updated += 1
        else:
            report.inserted += 1
        writes[point_id] = PointWrite(id=point_id, vector=vector, payload=payload)
    pipeline.claim_store.upsert(list(writes.values()))


def ingest_evidence(
    pipeline: VerificationPipeline,
    passages: Iterable[EvidencePassageIn],
    *,
    report: IngestReport | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_read: Callable[[], None] | None = None,
) -> IngestReport:
    """Store evidence passages (re-ingesting the same passage from the same source replaces it);
    ``on_read`` and ``on_batch`` as in :func:`ingest_claims`."""
    report = report or IngestReport()
    batches = _read_in_batches(pipeline, passages, on_read)
    for batch, vectors in _embedded_ahead(pipeline.embedder, batches, lambda batch: [p.text for p in batch]):
        ids = [evidence_point_id(p.text, p.source_url) for p in batch]
        known = {p.id for p in pipeline.evidence_store.retrieve(ids)}
        writes = {}
        for passage, point_id, vector in zip(batch, ids, vectors, strict=True):
            payload = passage.model_dump() | {"embedding_model": pipeline.embedder.model_id}
            payload["source"] = passage.source or (
                urlparse(passage.source_url).hostname if passage.source_url else "operator"
            )
            writes[point_id] = PointWrite(id=point_id, vector=vector, payload=payload)
            if point_id in known:
                report.updated += 1
            else:
                report.inserted += 1
        pipeline.evidence_store.upsert(list(writes.values()))
        if on_batch:
            on_batch(len(batch))
    return report


def seed_if_empty(pipeline: VerificationPipeline, seed_file: Path | None = None) -> int:
    """Load the packaged seed claims into an empty claim memory; returns how many were stored."""
    if pipeline.claim_store.count() > 0:
        return 0
    path = seed_file or SEED_FILE
    report = IngestReport()
    ingest_claims(
        pipeline, parse_records(read_records(path), CuratedClaim, report), origin="seed", report=report
    )
    if report.rejected:
        logger.warning("seed file %s: %d rows rejected: %s", path, len(report.rejected), report.rejected[:3])
    logger.info("seeded claim memory from %s: %d claims", path.name, report.inserted)
    return report.inserted

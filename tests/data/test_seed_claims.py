"""Validation of the shipped seed file ``backend/src/data/seed_claims.jsonl``.

The seed is loaded into an empty memory on first start, so a malformed row would either crash startup or
quietly poison the store. These checks are pure file checks: no model, no store, no network.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from factmem.ingest import SEED_FILE, CuratedClaim

FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "claim": str,
    "verdict": str,
    "explanation": str,
    "source_url": str,
    "source_reliability": (int, float),
    "topic": str,
}
VERDICTS = {"True", "False"}
MIN_ROWS = 150
MIN_VERDICT_SHARE = 0.30


def _load_rows() -> list[tuple[int, dict[str, Any]]]:
    """Return ``(line_number, row)`` pairs, skipping blank lines; a line that is not JSON fails loudly."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(SEED_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"line {line_no}: not valid JSON ({exc})")
        assert isinstance(row, dict), f"line {line_no}: expected a JSON object, got {type(row).__name__}"
        rows.append((line_no, row))
    return rows


@pytest.fixture(scope="module")
def rows() -> list[tuple[int, dict[str, Any]]]:
    assert SEED_FILE.is_file(), f"seed file missing: {SEED_FILE}"
    return _load_rows()


def _normalise(claim: str) -> str:
    """Lowercase, drop punctuation and collapse whitespace, so trivial variants compare equal."""
    return " ".join(re.sub(r"[^\w\s]", " ", claim.lower()).split())


def test_enough_rows(rows: list[tuple[int, dict[str, Any]]]) -> None:
    assert len(rows) >= MIN_ROWS, f"seed has {len(rows)} rows, expected at least {MIN_ROWS}"


def test_fields_present_with_right_types(rows: list[tuple[int, dict[str, Any]]]) -> None:
    for line_no, row in rows:
        missing = set(FIELD_TYPES) - set(row)
        assert not missing, f"line {line_no}: missing fields {sorted(missing)}"
        for field, expected in FIELD_TYPES.items():
            value = row[field]
            # bool is a subclass of int; a boolean reliability is a data error, not a number.
            ok = isinstance(value, expected) and not isinstance(value, bool)
            assert ok, f"line {line_no}: field {field!r} has type {type(value).__name__}"
            if isinstance(value, str):
                assert value.strip(), f"line {line_no}: field {field!r} is empty"


def test_verdicts_are_binary(rows: list[tuple[int, dict[str, Any]]]) -> None:
    for line_no, row in rows:
        assert row["verdict"] in VERDICTS, f"line {line_no}: verdict {row['verdict']!r} not in {VERDICTS}"


def test_reliability_in_unit_interval(rows: list[tuple[int, dict[str, Any]]]) -> None:
    for line_no, row in rows:
        reliability = row["source_reliability"]
        assert 0.0 <= reliability <= 1.0, f"line {line_no}: source_reliability {reliability} outside [0, 1]"


def test_rows_are_valid_curated_claims(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """The seed goes through the same validation as ``POST /claims`` and the ingest command."""
    for line_no, row in rows:
        try:
            CuratedClaim.model_validate(row)
        except ValidationError as exc:
            pytest.fail(f"line {line_no}: not a valid curated claim: {exc}")


def test_source_urls_are_https(rows: list[tuple[int, dict[str, Any]]]) -> None:
    for line_no, row in rows:
        url = row["source_url"]
        assert url.startswith("https://"), f"line {line_no}: source_url {url!r} does not start with https://"


def test_claims_are_unique(rows: list[tuple[int, dict[str, Any]]]) -> None:
    first_seen: dict[str, int] = {}
    for line_no, row in rows:
        key = _normalise(row["claim"])
        assert key not in first_seen, (
            f"line {line_no}: claim duplicates line {first_seen[key]}: {row['claim']!r}"
        )
        first_seen[key] = line_no


def test_verdicts_are_balanced(rows: list[tuple[int, dict[str, Any]]]) -> None:
    counts = Counter(row["verdict"] for _, row in rows)
    total = len(rows)
    for verdict in sorted(VERDICTS):
        share = counts[verdict] / total if total else 0.0
        assert share >= MIN_VERDICT_SHARE, (
            f"verdict {verdict!r} is {counts[verdict]}/{total} rows ({share:.0%}), "
            f"expected at least {MIN_VERDICT_SHARE:.0%}"
        )

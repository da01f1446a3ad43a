"""What an answer to ``POST /verify`` may be, judged from the request's kind and the answer alone.

A bad input must be refused with a 4xx; a good one answered with a valid 200, or shed with a 503 that says
when to retry. A 200 is valid when it carries a boolean ``cache_hit`` and a verdict: the fields of the
system factmem replaces, so the same judgement applies to any server that speaks that protocol
(``request_id`` is factmem's addition and only checked when present).
"""

from __future__ import annotations

import json
from typing import Any

from factmem_bench.mix import MAX_CLAIM_CHARS

VERDICTS = frozenset({"True", "False", "Uncertain"})


def input_problem(body: bytes, max_chars: int = MAX_CLAIM_CHARS) -> str | None:
    """Why the contract says the server must refuse this body, or ``None`` if it is a valid claim."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("raw_text"), str):
        return "raw_text is not a string"
    text: str = payload["raw_text"]
    if not text.strip():
        return "empty or whitespace only"
    if not any(c.isalpha() for c in text):
        return "no letters"
    if len(text) > max_chars:
        return f"longer than {max_chars} characters"
    return None


def response_problem(payload: Any) -> str | None:
    """Why a 200 answer breaks the contract, or ``None``."""
    if not isinstance(payload, dict):
        return "200 body is not a JSON object"
    result = payload.get("verification_result")
    if not isinstance(payload.get("cache_hit"), bool):
        return "200 without a boolean cache_hit"
    if "request_id" in payload and not isinstance(payload["request_id"], str):
        return "200 with a request_id that is not a string"
    if not isinstance(result, dict) or result.get("verdict") not in VERDICTS:
        return "200 without a valid verification_result.verdict"
    return None


def classify(
    kind: str, status: int | None, *, retry_after: bool = True, body_problem: str | None = None
) -> tuple[str, str]:
    """Outcome of one request: ``ok``, ``expected_4xx``, ``shed``, ``error`` or ``unexpected``, and why.

    A bad input must be refused with a 4xx; a good one must be answered with a valid 200, or shed with a
    503 that says when to retry. A 5xx other than 503 or no answer at all is an error whatever was sent.
    """
    if status is None:
        return "error", "no HTTP answer (transport error)"
    if status >= 500 and status != 503:
        return "error", f"HTTP {status}"
    if kind == "bad":
        if 400 <= status < 500:
            return "expected_4xx", ""
        return "unexpected", f"invalid input answered with HTTP {status}"
    if status == 503:
        return ("shed", "") if retry_after else ("unexpected", "503 without Retry-After")
    if status == 200:
        return ("unexpected", body_problem) if body_problem else ("ok", "")
    return "unexpected", f"valid claim answered with HTTP {status}"

"""What an answer to POST /verify may be (``factmem_bench.contract``), for factmem and any other server."""

from __future__ import annotations

import pytest

from factmem_bench.contract import classify, response_problem


@pytest.mark.parametrize(
    ("kind", "status", "retry_after", "expected"),
    [
        ("bad", 400, True, "expected_4xx"),
        ("bad", 422, True, "expected_4xx"),
        ("bad", 413, True, "expected_4xx"),
        ("bad", 200, True, "unexpected"),
        ("bad", 503, True, "unexpected"),
        ("bad", 500, True, "error"),
        ("repeat", 200, True, "ok"),
        ("new", 503, True, "shed"),
        ("new", 503, False, "unexpected"),
        ("long", 422, True, "unexpected"),
        ("paraphrase", 500, True, "error"),
        ("repeat", None, True, "error"),
    ],
)
def test_classify(kind: str, status: int | None, retry_after: bool, expected: str) -> None:
    assert classify(kind, status, retry_after=retry_after)[0] == expected


def test_a_200_that_breaks_the_contract_is_unexpected() -> None:
    good = {"cache_hit": False, "request_id": "r1", "verification_result": {"verdict": "True"}}
    assert response_problem(good) is None
    assert response_problem(good | {"verification_result": {"verdict": "maybe"}})
    assert response_problem(good | {"cache_hit": "no"})
    assert response_problem([good])
    problem = response_problem({})
    assert classify("repeat", 200, body_problem=problem)[0] == "unexpected"


def test_a_server_without_request_ids_answers_within_the_contract() -> None:
    """The system factmem replaces sends no ``request_id``; its answers are still judged, not refused."""
    theirs = {"cache_hit": True, "verification_result": {"verdict": "False", "confidence": 0.9}}
    assert response_problem(theirs) is None
    assert response_problem(theirs | {"request_id": 7}) == "200 with a request_id that is not a string"

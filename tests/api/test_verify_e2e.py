"""``/verify`` and the read endpoints over HTTP: uvicorn on loopback, the real model, a seeded memory.

The module shares one seeded server (the ``server`` fixture), so every test uses claims no other test of the
module sends; the restart test starts its own.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RunningServer, start_server

from factmem.agents.base import opposite_verdict
from factmem.agents.normalizer import Normalizer
from factmem.ingest import SEED_FILE
from factmem.store.ids import claim_point_id

# Every test here talks to a real server (the module's, or servers of its own).
pytestmark = pytest.mark.e2e

SEED: dict[str, dict[str, Any]] = {
    row["claim"]: row for row in map(json.loads, SEED_FILE.read_text(encoding="utf-8").splitlines()) if row
}


def seed_id(claim: str) -> str:
    """The point id a seed claim is stored under (derived from its comparison key, as ingestion does)."""
    assert claim in SEED, f"not a seed claim: {claim!r}"
    return claim_point_id(Normalizer().normalize(claim).comparison_key)


def verify(http: httpx.Client, text: str, **kwargs: Any) -> dict[str, Any]:
    response = http.post("/verify", json={"raw_text": text}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def memory_snapshot(http: httpx.Client) -> tuple[int, int, list[tuple[str, int]]]:
    """What a request could change: counts of both stores and the seen counts of the top claims."""
    stats = http.get("/stats").json()
    top = [(c["id"], c["seen_count"]) for c in stats["top_claims"]]
    return stats["claims_count"], stats["evidence_count"], top


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


# --- operations ---


def test_health_reports_memory(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in {"healthy", "degraded"}
    assert body["memory_mb"] > 0
    assert body["rss_anon_mb"] > 0
    assert body["memory_limit_mb"] == 512.0
    assert 0 < body["memory_percent"] < 100
    assert body["ready"] is True and body["model_loaded"] is True


def test_file_pages_are_released_once_ready(http: httpx.Client, server: RunningServer) -> None:
    """The startup release (MEMORY_RELEASE_FILE_PAGES, on by default) runs once, counted and logged.

    How much it takes is measured by tests/memory/test_file_pages.py and the benchmark, not here: the kernel
    leaves pages that another process maps too, and this test process maps the same libraries.
    """
    ready_cleanups = [
        line
        for line in http.get("/metrics").text.splitlines()
        if line.startswith('factmem_memory_cleanups_total{reason="ready"}')
    ]
    assert ready_cleanups == ['factmem_memory_cleanups_total{reason="ready"} 1.0']
    [logged] = [line for line in server.log().splitlines() if "memory cleanup reason=ready" in line]
    assert float(logged.split("file_released_mb=")[1].split()[0]) >= 0.0


def test_ready_once_warm(http: httpx.Client) -> None:
    response = http.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"ready": True}


def test_index_describes_the_service(http: httpx.Client) -> None:
    body = http.get("/").json()
    assert body["service"] == "factmem"
    assert body["store_backend"] == "qdrant-edge"
    assert "POST /verify" in body["endpoints"]["verify"]


# --- the response contract ---


def test_response_has_every_field_of_the_contract(http: httpx.Client) -> None:
    response = http.post(
        "/verify", json={"raw_text": "did u know Jupiter is the largest planet in our solar system"}
    )
    assert response.status_code == 200
    body = response.json()

    assert set(body) >= {
        "request_id",
        "normalized_claim",
        "cache_hit",
        "verification_result",
        "retrieved_evidence",
        "web_search_results",
        "web_search_used",
        "seen_count",
        "claim_id",
        "timestamp",
        "timings_ms",
    }
    assert response.headers["x-request-id"] == body["request_id"]
    assert set(body["normalized_claim"]) == {
        "original_text",
        "normalized_text",
        "entities",
        "temporal_markers",
        "source_type",
    }
    assert body["normalized_claim"]["original_text"].startswith("did u know")
    assert body["normalized_claim"]["normalized_text"] == "Jupiter is the largest planet in our solar system."
    assert "Jupiter" in body["normalized_claim"]["entities"]
    assert set(body["verification_result"]) >= {
        "verdict",
        "confidence",
        "reasoning",
        "explanation",
        "evidence_ids",
        "evidence_summary",
        "verdict_by",
        "fallback_reason",
    }
    assert body["verification_result"]["verdict_by"] in {"local", "curated"}
    assert body["verification_result"]["fallback_reason"] is None, "no LLM configured, nothing fell back"
    assert body["provider_calls"] == []
    assert body["verification_result"]["verdict"] in {"True", "False", "Uncertain"}
    assert 0.0 <= body["verification_result"]["confidence"] <= 1.0
    assert body["retrieved_evidence"], "a seeded memory always has neighbours"
    for item in body["retrieved_evidence"]:
        assert set(item) >= {
            "id",
            "claim_text",
            "verdict",
            "confidence",
            "source",
            "source_reliability",
            "similarity_score",
            "time_decayed_score",
            "seen_count",
            "timestamp",
        }
    assert body["web_search_results"] is None
    assert body["web_search_used"] is False
    assert body["seen_count"] >= 1
    assert {"normalizer", "retriever", "memory_update", "total"} <= set(body["timings_ms"])
    assert all(v >= 0 for v in body["timings_ms"].values())


def test_sane_request_id_is_echoed(http: httpx.Client) -> None:
    response = http.post(
        "/verify",
        json={"raw_text": "Jupiter is the largest planet in our solar system."},
        headers={"X-Request-ID": "client-req.42_a"},
    )
    assert response.headers["x-request-id"] == "client-req.42_a"
    assert response.json()["request_id"] == "client-req.42_a"


@pytest.mark.parametrize("garbage", ["has spaces in it", "x" * 65, "semi;colon", "<script>"])
def test_garbage_request_id_is_replaced(http: httpx.Client, garbage: str) -> None:
    response = http.post(
        "/verify",
        json={"raw_text": "Jupiter is the largest planet in our solar system."},
        headers={"X-Request-ID": garbage},
    )
    assert response.status_code == 200
    replaced = response.headers["x-request-id"]
    assert replaced != garbage
    assert len(replaced) == 32 and int(replaced, 16) >= 0
    assert response.json()["request_id"] == replaced


# --- the cache ---


CACHE_HIT_SEEDS = (
    "The Great Wall of China is visible from space with the naked eye.",
    "Apollo 11 landed on the Moon in 1969.",
    "Humans only use 10 percent of their brains.",
    "The Eiffel Tower was completed in 1889.",
)


def noisy_variants(claim: str) -> list[str]:
    """The same claim as people type it: case, chat openers, hedges, emoji, shouting, stray spaces."""
    bare = claim.rstrip(".")
    return [
        f"did u know {bare.lower()}",
        f"THEY SAY THAT {bare.upper()}!!!",
        f"  {'   '.join(bare.split())}  🤯  ",
        f"{bare} 😱😱",
        f"did u know that {bare}!!!",
    ]


@pytest.mark.parametrize("claim", CACHE_HIT_SEEDS)
def test_noisy_seed_claim_is_a_cache_hit_and_counted(http: httpx.Client, claim: str) -> None:
    stored_id = seed_id(claim)
    before = http.get(f"/claims/{stored_id}").json()["seen_count"]

    seen = []
    for text in noisy_variants(claim):
        body = verify(http, text)
        assert body["cache_hit"] is True, (text, body["normalized_claim"], body["verification_result"])
        assert body["verification_result"]["verdict"] == SEED[claim]["verdict"]
        assert stored_id in body["verification_result"]["evidence_ids"]
        assert body["claim_id"] == stored_id
        [counted] = [m for m in body["retrieved_evidence"] if m["id"] == stored_id]
        assert counted["seen_count"] == body["seen_count"], "the matched claim shows the count just made"
        trace = body["verification_result"]["reasoning_trace"]
        assert trace[1].startswith("Found it in memory") and "curated fact-check" in trace[1]
        assert trace[-1] == f"Counted in memory: this claim has now been seen {body['seen_count']}×."
        seen.append(body["seen_count"])

    assert seen == list(range(before + 1, before + 1 + len(seen)))
    assert http.get(f"/claims/{stored_id}").json()["seen_count"] == seen[-1]


NEGATIONS = (
    # (seed claim, its negation, whether similarity is strong enough for the inversion rule)
    ("Smoking tobacco causes lung cancer.", "Smoking tobacco does not cause lung cancer.", True),
    ("Lightning can strike the same place twice.", "Lightning never strikes the same place twice.", True),
    ("Cracking your knuckles causes arthritis.", "Cracking your knuckles does not cause arthritis.", True),
    ("The Moon gives off its own light.", "The Moon does not give off its own light.", True),
    # Below STRONG_MATCH_SIMILARITY: the consensus rule, where an opposite-polarity match votes inverted.
    (
        "Plants release oxygen during photosynthesis.",
        "Plants never release oxygen during photosynthesis.",
        False,
    ),
)


@pytest.mark.parametrize(("claim", "negation", "strong"), NEGATIONS)
def test_negated_seed_claim_is_not_a_cache_hit_and_gets_the_opposite_verdict(
    http: httpx.Client, claim: str, negation: str, strong: bool
) -> None:
    stored_id = seed_id(claim)
    body = verify(http, negation)

    assert body["cache_hit"] is False
    result = body["verification_result"]
    assert result["verdict"] == opposite_verdict(SEED[claim]["verdict"])
    assert stored_id in result["evidence_ids"]
    assert body["claim_id"] != stored_id, "a negation must be stored as its own record"
    relation = {e["id"]: e["relation"] for e in body["retrieved_evidence"]}
    assert relation[stored_id] == "opposite"
    if strong:
        assert "inverted" in result["reasoning"]


@pytest.mark.parametrize(
    ("claim", "changed"),
    [
        ("James Naismith invented basketball in 1891.", "James Naismith invented basketball in 1925."),
        (
            "The Titanic sank in 1912 after striking an iceberg.",
            "The Titanic sank in 1921 after striking an iceberg.",
        ),
        (
            "Alexander Fleming discovered penicillin in 1928.",
            "Alexander Fleming discovered penicillin in 1982.",
        ),
        (
            "Yuri Gagarin became the first human in space in 1961.",
            "Neil Armstrong became the first human in space in 1961.",
        ),
    ],
)
def test_changed_number_or_entity_is_not_a_cache_hit(http: httpx.Client, claim: str, changed: str) -> None:
    stored_id = seed_id(claim)
    body = verify(http, changed)

    assert body["cache_hit"] is False
    assert body["claim_id"] != stored_id
    # never the seed's True; a changed year contradicts it (False, citing it), a changed subject does not
    assert body["verification_result"]["verdict"] in ("Uncertain", "False")
    relation = {e["id"]: e["relation"] for e in body["retrieved_evidence"]}
    assert relation.get(stored_id) == "different"
    assert http.get(f"/claims/{stored_id}").json()["seen_count"] == 1, "the seed record was not touched"


def test_new_claim_is_stored_uncertain_and_counted_but_never_served_from_cache(http: httpx.Client) -> None:
    text = "The purple giraffe orchestra of Zorblax performed its first concert in 2031."
    first = verify(http, text)
    assert first["cache_hit"] is False
    assert first["verification_result"]["verdict"] == "Uncertain"
    assert first["seen_count"] == 1

    stored = http.get(f"/claims/{first['claim_id']}")
    assert stored.status_code == 200
    record = stored.json()
    assert record["id"] == first["claim_id"]
    assert record["claim_text"] == first["normalized_claim"]["normalized_text"]
    assert record["verdict"] == "Uncertain"
    assert record["seen_count"] == 1

    second = verify(http, f"did u know {text.lower()}!!!")
    assert second["cache_hit"] is False, "an Uncertain verdict is never a cache hit"
    assert second["claim_id"] == first["claim_id"]
    assert second["seen_count"] == 2
    assert http.get(f"/claims/{first['claim_id']}").json()["seen_count"] == 2


# --- bad input changes nothing ---


def _chunks(body: bytes, size: int = 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


JSON = {"content-type": "application/json"}
OVERSIZED = json.dumps({"raw_text": "a" * 17_000}).encode()
BAD_REQUESTS: dict[str, tuple[Callable[[], dict[str, Any]], int, str]] = {
    # name: (keyword arguments of httpx's post, built per run; status; text the detail must contain)
    "empty": (lambda: {"json": {"raw_text": ""}}, 400, "empty"),
    "whitespace": (lambda: {"json": {"raw_text": " \t\n  "}}, 400, "whitespace"),
    "only punctuation": (lambda: {"json": {"raw_text": "!!!"}}, 400, "no letters"),
    "only digits": (lambda: {"json": {"raw_text": "12345"}}, 400, "no letters"),
    "only emoji": (lambda: {"json": {"raw_text": "😀🎉🔥"}}, 400, "no letters"),
    "2001 characters": (lambda: {"json": {"raw_text": "a" * 2001}}, 400, "2000"),
    "not JSON": (lambda: {"content": b"raw_text=The sky is blue", "headers": JSON}, 400, "not valid JSON"),
    "truncated JSON": (lambda: {"content": b'{"raw_text": "The sky', "headers": JSON}, 400, "not valid JSON"),
    "number": (lambda: {"json": {"raw_text": 5}}, 422, "raw_text"),
    "null": (lambda: {"json": {"raw_text": None}}, 422, "raw_text"),
    "array body": (lambda: {"json": []}, 422, "object"),
    "missing field": (lambda: {"json": {}}, 422, "field required"),
    "extra field": (lambda: {"json": {"raw_text": "The sky is blue.", "lang": "en"}}, 422, "lang"),
    "over 16 KB": (lambda: {"content": OVERSIZED, "headers": JSON}, 413, "16384"),
    # No Content-Length: the limit is enforced while the body streams in.
    "over 16 KB chunked": (lambda: {"content": _chunks(OVERSIZED), "headers": JSON}, 413, "16384"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_input_is_refused_with_a_useful_detail_and_changes_nothing(http: httpx.Client, case: str) -> None:
    make_kwargs, status, needle = BAD_REQUESTS[case]
    before = memory_snapshot(http)

    response = http.post("/verify", **make_kwargs())

    assert response.status_code == status, response.text
    if case == "over 16 KB chunked":
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
    body = response.json()
    assert set(body) == {"detail", "request_id"}
    assert needle in json.dumps(body["detail"])
    assert body["request_id"] == response.headers["x-request-id"]
    assert memory_snapshot(http) == before


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_refused_and_changes_nothing(
    http: httpx.Client, content_type: str | None
) -> None:
    before = memory_snapshot(http)
    headers = {"content-type": content_type} if content_type else {}
    response = http.post("/verify", content=b'{"raw_text": "The sky is blue."}', headers=headers)
    assert response.status_code in {400, 415, 422}
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert memory_snapshot(http) == before


def test_wrong_content_type_detail_says_to_send_json(http: httpx.Client) -> None:
    response = http.post(
        "/verify", content=b'{"raw_text": "The sky is blue."}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in json.dumps(response.json()["detail"])


# --- the memory endpoints ---


def test_stats(http: httpx.Client) -> None:
    stats = http.get("/stats").json()
    assert stats["claims_count"] >= len(SEED)
    assert len(SEED) <= stats["claims_last_24h"] <= stats["claims_count"]
    assert stats["store_backend"] == "qdrant-edge"
    counts = [c["seen_count"] for c in stats["top_claims"]]
    assert counts, "a seeded memory has top claims"
    assert counts == sorted(counts, reverse=True)


def test_stats_top_claims_follow_the_seen_counts(http: httpx.Client) -> None:
    text = "The Quixotic Lighthouse of Vellmar was relit in 1877."
    for _ in range(25):  # more than all but a few claims of this module get
        body = verify(http, text)
    top = {c["id"]: c["seen_count"] for c in http.get("/stats").json()["top_claims"]}
    assert top[body["claim_id"]] == 25


@pytest.mark.parametrize("claim_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%2e%2e"])
def test_unknown_claim_is_404(http: httpx.Client, claim_id: str) -> None:
    response = http.get(f"/claims/{claim_id}")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "request_id"}


# --- concurrency ---


def test_concurrent_identical_new_claims_make_one_record_and_lose_no_count(http: httpx.Client) -> None:
    text = "The Amber Comet of Kestrovia passed closest to Earth in 1642."
    threads = 40
    barrier = threading.Barrier(threads)

    def send(_: int) -> dict[str, Any]:
        with httpx.Client(base_url=str(http.base_url), timeout=60.0) as own:
            barrier.wait()
            while True:
                response = own.post("/verify", json={"raw_text": text})
                if response.status_code != 503:  # beyond MAX_CONCURRENT_REQUESTS: shed before any write
                    assert response.status_code == 200, response.text
                    return response.json()
                assert "retry-after" in response.headers
                time.sleep(0.05)

    with ThreadPoolExecutor(threads) as pool:
        bodies = list(pool.map(send, range(threads)))

    ids = {b["claim_id"] for b in bodies}
    assert len(ids) == 1
    assert sorted(b["seen_count"] for b in bodies) == list(range(1, threads + 1)), "every count is distinct"
    assert http.get(f"/claims/{ids.pop()}").json()["seen_count"] == threads


# --- restart ---


def test_memory_survives_a_restart_and_seeding_runs_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, tmp_path / "first.log", SEED_ON_EMPTY="true")
    try:
        with first.client() as http:
            body = verify(http, "The Obsidian Library of Tarnwick holds exactly 4,212 scrolls.")
            count = http.get("/stats").json()["claims_count"]
    finally:
        code = first.stop()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (uvicorn >= 0.29): -15, never -9.
    assert code in {0, -signal.SIGTERM}
    assert "Application shutdown complete" in first.log()
    assert "seeded claim memory" in first.log()
    assert count == len(SEED) + 1

    second = start_server(data, tmp_path / "second.log", SEED_ON_EMPTY="true")
    try:
        with second.client() as http:
            stored = http.get(f"/claims/{body['claim_id']}")
            assert stored.status_code == 200
            assert stored.json()["seen_count"] == 1
            assert http.get("/stats").json()["claims_count"] == count

            again = verify(http, "the obsidian library of tarnwick holds exactly 4,212 scrolls!!!")
            assert again["claim_id"] == body["claim_id"]
            assert again["seen_count"] == 2
            assert http.get("/stats").json()["claims_count"] == count
    finally:
        assert second.stop() in {0, -signal.SIGTERM}
    assert "seeded claim memory" not in second.log()


# --- several claims in one text ---


def test_a_text_with_two_claims_verifies_and_stores_each(http: httpx.Client) -> None:
    body = verify(http, "did u know Barack Obama was born in Hawaii and the Moon landings were faked!!")

    first, second = body["claims"]
    assert first["claim_id"] == seed_id("Barack Obama was born in Hawaii.")
    assert second["claim_id"] == seed_id("The Moon landings were faked.")
    assert (first["verification_result"]["verdict"], second["verification_result"]["verdict"]) == (
        "True",
        "False",
    )
    assert first["cache_hit"] and second["cache_hit"]
    assert body["summary"] == {
        "claims": 2,
        "verdicts": {"True": 1, "False": 1, "Uncertain": 0},
        "overall_verdict": "False",
        "skipped_claims": 0,
        "split_by": "rules",
    }
    overall = body["verification_result"]
    assert overall["verdict"] == "False", "one false claim makes the text false"
    assert overall["reasoning_trace"][0].startswith("Split the text into 2 claims")
    assert {first["claim_id"], second["claim_id"]} <= set(overall["evidence_ids"])
    assert body["claim_id"] == first["claim_id"] and body["seen_count"] == first["seen_count"]
    assert {m["id"] for m in body["retrieved_evidence"]} >= {first["claim_id"], second["claim_id"]}
    for part in (first, second):
        assert http.get(f"/claims/{part['claim_id']}").json()["seen_count"] == part["seen_count"]


def test_a_single_claim_has_no_claims_list(http: httpx.Client) -> None:
    body = verify(http, "Barack Obama was born in Hawaii.")
    assert body["claims"] is None and body["summary"] is None


def test_claims_beyond_the_limit_are_counted_not_checked(http: httpx.Client) -> None:
    text = " ".join(f"The Veldran lighthouse number {n} was painted blue." for n in range(1, 8))
    body = verify(http, text)
    assert len(body["claims"]) == 5
    assert body["summary"]["skipped_claims"] == 2
    assert "2 more claim(s) were left unchecked" in body["verification_result"]["reasoning_trace"][0]


def test_a_claim_that_contradicts_a_verified_claim_is_judged_against_it(http: httpx.Client) -> None:
    """Issue 8's example: the memory holds "Barack Obama was born in Hawaii." as True."""
    stored_id = seed_id("Barack Obama was born in Hawaii.")
    body = verify(http, "Barack Obama was born in Kenya")
    result = body["verification_result"]
    assert result["verdict"] == "False"
    assert stored_id in result["evidence_ids"]
    assert "Hawaii" in result["explanation"] and "Kenya" in result["explanation"]

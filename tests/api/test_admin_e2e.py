"""Admin writes (``POST /claims``, ``POST /evidence``) over HTTP: off without a key, bearer auth with one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_KEY, RunningServer, start_server

from factmem.agents.normalizer import Normalizer
from factmem.store.ids import claim_point_id, evidence_point_id

# Every test here talks to a real server (the module's, or servers of its own).
pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def stored_id(claim: str) -> str:
    return claim_point_id(Normalizer().normalize(claim).comparison_key)


def snapshot(http: httpx.Client) -> tuple[int, int, list[tuple[str, int]]]:
    stats = http.get("/stats").json()
    return (
        stats["claims_count"],
        stats["evidence_count"],
        [(c["id"], c["seen_count"]) for c in stats["top_claims"]],
    )


def curated(claim: str, verdict: str = "True", **extra: Any) -> dict[str, Any]:
    return {
        "claim": claim,
        "verdict": verdict,
        "explanation": f"Checked by the test desk: {claim}",
        "source_url": "https://factdesk.example.org/checks/1",
        "source_reliability": 0.9,
        "date": "2025-01-15",
    } | extra


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def keyless_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with no ADMIN_API_KEY (and no seed: admin writes are all it is asked about)."""
    base = tmp_path_factory.mktemp("keyless")
    running = start_server(base / "data", base / "server.log", SEED_ON_EMPTY="false")
    yield running
    running.stop()


# --- authentication ---


@pytest.mark.parametrize("path", ["/claims", "/evidence"])
@pytest.mark.parametrize("headers", [{}, AUTH], ids=["no bearer", "a bearer"])
def test_admin_writes_are_off_without_a_configured_key(
    keyless_server: RunningServer, path: str, headers: dict[str, str]
) -> None:
    body = (
        {"claims": [curated("The Halvard Canal was dug in 1811.")]}
        if path == "/claims"
        else {"passages": [{"text": "The Halvard Canal was dug by hand in 1811.", "source": "x"}]}
    )
    with keyless_server.client() as http:
        before = snapshot(http)
        response = http.post(path, json=body, headers=headers)
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "ADMIN_API_KEY" in detail and "Bearer" in detail, "the 403 says how to enable admin writes"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert snapshot(http) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"Authorization": f"Bearer {ADMIN_KEY}x"},
        {"Authorization": f"Bearer {ADMIN_KEY[:-1]}"},
        {"Authorization": f"Basic {ADMIN_KEY}"},
        {"Authorization": ADMIN_KEY},
    ],
    ids=["none", "wrong", "longer", "prefix", "basic scheme", "no scheme"],
)
@pytest.mark.parametrize("path", ["/claims", "/evidence"])
def test_missing_or_wrong_bearer_is_401_and_changes_nothing(
    http: httpx.Client, path: str, headers: dict[str, str]
) -> None:
    body = (
        {"claims": [curated("The Orrin Aqueduct carried water for 40 kilometres.")]}
        if path == "/claims"
        else {"passages": [{"text": "The Orrin Aqueduct carried water for 40 kilometres.", "source": "x"}]}
    )
    before = snapshot(http)
    response = http.post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "request_id"}
    assert snapshot(http) == before
    if path == "/claims":
        assert http.get(f"/claims/{stored_id(body['claims'][0]['claim'])}").status_code == 404


# --- curated claims ---


def test_curated_claims_are_stored_and_then_served_from_cache(http: httpx.Client) -> None:
    claims = [
        curated("The Sellbrook Clock Tower was built in 1873.", "True"),
        curated("The Sellbrook Clock Tower is made entirely of gold.", "False", source="Sellbrook Museum"),
    ]
    count = snapshot(http)[0]

    response = http.post("/claims", json={"claims": claims}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 2, "updated": 0, "rejected": []}
    assert snapshot(http)[0] == count + 2

    for item in claims:
        point_id = stored_id(item["claim"])
        record = http.get(f"/claims/{point_id}").json()
        assert record["verdict"] == item["verdict"]
        assert record["origin"] == "curated"
        assert record["source_url"] == item["source_url"]
        assert record["source_date"] == "2025-01-15"

        body = http.post("/verify", json={"raw_text": f"did u know {item['claim'].lower()}!!!"}).json()
        assert body["cache_hit"] is True
        assert body["claim_id"] == point_id
        assert body["verification_result"]["verdict"] == item["verdict"]
        assert point_id in body["verification_result"]["evidence_ids"]
        assert body["seen_count"] == 2
    assert http.get(f"/claims/{stored_id(claims[1]['claim'])}").json()["source"] == "Sellbrook Museum"


def test_re_posting_a_claim_updates_it_and_keeps_its_count(http: httpx.Client) -> None:
    claim = "The Dunmarrow Ferry has crossed the Lisk estuary since 1790."
    assert (
        http.post("/claims", json={"claims": [curated(claim, "Uncertain")]}, headers=AUTH).json()["inserted"]
        == 1
    )
    point_id = stored_id(claim)
    first = http.post("/verify", json={"raw_text": claim}).json()
    assert first["cache_hit"] is False, "an Uncertain verdict is never served from cache"
    assert first["seen_count"] == 2
    count = snapshot(http)[0]

    response = http.post("/claims", json={"claims": [curated(claim, "True")]}, headers=AUTH)
    assert response.json() == {"inserted": 0, "updated": 1, "rejected": []}
    assert snapshot(http)[0] == count
    record = http.get(f"/claims/{point_id}").json()
    assert (record["verdict"], record["seen_count"]) == ("True", 2)
    body = http.post("/verify", json={"raw_text": claim}).json()
    assert (body["cache_hit"], body["verification_result"]["verdict"]) == (True, "True")


@pytest.mark.parametrize(
    ("bad_item", "status", "needle"),
    [
        ({"claim": "The Kettering Dam was finished in 1931.", "verdict": "Maybe"}, 422, "verdict"),
        ({"claim": "!!!!", "verdict": "True"}, 400, "claims[1]"),
        ({"claim": "1999 2000", "verdict": "False"}, 400, "no letters"),
        (
            {"claim": "The Kettering Dam was finished in 1931.", "verdict": "True", "source_url": "ftp://x"},
            422,
            "http",
        ),
        (
            {"claim": "The Kettering Dam was finished in 1931.", "verdict": "True", "source_reliability": 2},
            422,
            "1",
        ),
        ({"verdict": "True"}, 422, "claim"),
    ],
    ids=["bad verdict", "no letters", "only digits", "bad url", "reliability over 1", "no claim"],
)
def test_batch_with_one_invalid_item_is_refused_whole(
    http: httpx.Client, bad_item: dict[str, Any], status: int, needle: str
) -> None:
    good = curated("The Brannock Lighthouse was automated in 1986.")
    before = snapshot(http)

    response = http.post("/claims", json={"claims": [good, bad_item]}, headers=AUTH)

    assert response.status_code == status, response.text
    assert needle in str(response.json()["detail"])
    assert snapshot(http) == before
    assert http.get(f"/claims/{stored_id(good['claim'])}").status_code == 404, "the valid item was not stored"


@pytest.mark.parametrize(
    "body", [{"claims": []}, {}, {"claims": "x"}, []], ids=["empty", "missing", "string", "array"]
)
def test_malformed_batch_is_422(http: httpx.Client, body: Any) -> None:
    before = snapshot(http)
    response = http.post("/claims", json=body, headers=AUTH)
    assert response.status_code == 422
    assert snapshot(http) == before


def _batch(size: int) -> dict[str, Any]:
    # The shortest valid items: still about 33 bytes each.
    return {"claims": [{"claim": f"c{i:03d}", "verdict": "True"} for i in range(size)]}


def test_batch_over_500_is_refused_by_the_default_body_limit(http: httpx.Client) -> None:
    """With the default MAX_BODY_BYTES (16 KB) 501 claims cannot be sent at all: 413 before the item check."""
    before = snapshot(http)
    response = http.post("/claims", json=_batch(501), headers=AUTH)
    assert response.status_code == 413
    assert snapshot(http) == before


def test_batch_over_500_is_400_when_the_body_fits(tmp_path: Path) -> None:
    big = start_server(
        tmp_path / "data",
        tmp_path / "server.log",
        ADMIN_API_KEY=ADMIN_KEY,
        SEED_ON_EMPTY="false",
        MAX_BODY_BYTES="1000000",
    )
    try:
        with big.client() as http:
            response = http.post("/claims", json=_batch(501), headers=AUTH)
            assert response.status_code == 400
            assert "at most 500" in response.json()["detail"]
            assert snapshot(http)[0] == 0

            passages = {"passages": [{"text": f"passage number {i:04d}"} for i in range(501)]}
            response = http.post("/evidence", json=passages, headers=AUTH)
            assert response.status_code == 400
            assert "at most 500" in response.json()["detail"]
            assert snapshot(http)[1] == 0

            response = http.post("/claims", json=_batch(500), headers=AUTH)
            assert response.status_code == 200
            assert response.json()["inserted"] == 500
    finally:
        big.stop()


# --- evidence ---


def test_evidence_passages_are_stored_and_cited_by_verifications(http: httpx.Client) -> None:
    passage = {
        "text": "The Velmora Bridge across the Tarn river was completed in 1904 after six years of building.",
        "source": "Tarn Valley Archive",
        "source_url": "https://archive.example.org/velmora",
        "source_reliability": 0.8,
    }
    evidence_before = snapshot(http)[1]

    response = http.post("/evidence", json={"passages": [passage]}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 1, "updated": 0, "rejected": []}
    assert snapshot(http)[1] == evidence_before + 1

    body = http.post("/verify", json={"raw_text": "The Velmora Bridge was completed in 1904."}).json()
    assert body["cache_hit"] is False
    result = body["verification_result"]
    assert evidence_point_id(passage["text"], passage["source_url"]) in result["evidence_ids"]
    assert "Tarn Valley Archive" in result["evidence_summary"]
    assert result["verdict"] == "Uncertain", "the local reasoner does not judge unlabelled passages"

    again = http.post("/evidence", json={"passages": [passage]}, headers=AUTH)
    assert again.json() == {"inserted": 0, "updated": 1, "rejected": []}
    assert snapshot(http)[1] == evidence_before + 1


def test_invalid_passage_is_422_and_stores_nothing(http: httpx.Client) -> None:
    before = snapshot(http)
    passages = [
        {"text": "The Velmora Bridge has twelve arches of granite.", "source": "x"},
        {"text": "short"},
    ]
    response = http.post("/evidence", json={"passages": passages}, headers=AUTH)
    assert response.status_code == 422
    assert "passages.1.text" in str(response.json()["detail"])
    assert snapshot(http) == before

"""A public ``/verify``: client API keys, rate limits, CORS for front ends on other hosts, proxies.

In-process app on real stores and the real model (``app_harness``); the proxy tests start real uvicorn
servers, because uvicorn's own proxy-header handling is part of what they check.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from app_harness import TestClient, running_app
from conftest import clear_of_rate_window_edge, start_server

from factmem.api.access import AccessConfigError, hash_key
from factmem.api.client_address import ProxyTrust

CLAIM = {"raw_text": "Honey never spoils when it is sealed."}
KEY_A = "client-key-a-7f3c9e1d2b"
KEY_B = "client-key-b-0a8d6c4e5f"


def claims_count(client: TestClient) -> int:
    return int(client.get("/stats").json()["claims_count"])


# --- client API keys ---


@pytest.fixture
def keyed_app(tmp_path: Path) -> Iterator[TestClient]:
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# partner keys\npartner-b:{hash_key(KEY_B)}\n", encoding="utf-8")
    with running_app(tmp_path / "data", client_api_keys=KEY_A, client_api_keys_file=key_file) as (client, _):
        yield client


def test_without_a_key_verify_is_401_and_stores_nothing(keyed_app: TestClient) -> None:
    before = claims_count(keyed_app)
    response = keyed_app.post("/verify", json=CLAIM)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "API key" in response.json()["detail"] and response.json()["request_id"]
    assert keyed_app.post("/verify", json=CLAIM, headers={"X-API-Key": "wrong-key-123456"}).status_code == 401
    assert claims_count(keyed_app) == before


def test_a_listed_key_or_a_hashed_key_from_the_file_is_accepted(keyed_app: TestClient) -> None:
    bearer = keyed_app.post("/verify", json=CLAIM, headers={"Authorization": f"Bearer {KEY_A}"})
    header = keyed_app.post("/verify", json=CLAIM, headers={"X-API-Key": KEY_B})
    assert bearer.status_code == 200 and header.status_code == 200
    assert header.json()["seen_count"] == bearer.json()["seen_count"] + 1


def test_keys_guard_verify_only(keyed_app: TestClient) -> None:
    assert keyed_app.get("/health").status_code == 200
    assert keyed_app.get("/stats").status_code == 200


def test_a_key_file_with_a_plain_key_refuses_to_start(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text("not-a-hash-but-a-key\n", encoding="utf-8")
    with (
        pytest.raises(AccessConfigError, match="sha256"),
        running_app(tmp_path, client_api_keys_file=key_file),
    ):
        pass


def test_a_missing_key_file_refuses_to_start(tmp_path: Path) -> None:
    with (
        pytest.raises(AccessConfigError, match="cannot read"),
        running_app(tmp_path, client_api_keys_file=tmp_path / "absent.txt"),
    ):
        pass


# --- rate limits ---


def test_over_the_address_limit_verify_is_429_with_retry_after(tmp_path: Path) -> None:
    with running_app(tmp_path, rate_limit_per_address="2/minute") as (client, _):
        clear_of_rate_window_edge(60, needed_s=15)
        assert [client.post("/verify", json=CLAIM).status_code for _ in range(2)] == [200, 200]
        before = claims_count(client)
        refused = client.post("/verify", json=CLAIM)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "2 per 1 minute" in refused.json()["detail"]
        assert claims_count(client) == before
        assert client.get("/health").status_code == 200  # only /verify is limited


def test_each_key_has_its_own_limit(tmp_path: Path) -> None:
    keys = f"{KEY_A},{KEY_B}"
    with running_app(tmp_path, client_api_keys=keys, rate_limit_per_key="1/minute") as (client, _):
        clear_of_rate_window_edge(60, needed_s=15)
        first_a = client.post("/verify", json=CLAIM, headers={"X-API-Key": KEY_A})
        first_b = client.post("/verify", json=CLAIM, headers={"X-API-Key": KEY_B})
        second_a = client.post("/verify", json=CLAIM, headers={"X-API-Key": KEY_A})
        assert (first_a.status_code, first_b.status_code, second_a.status_code) == (200, 200, 429)
        assert "this API key" in second_a.json()["detail"]


def test_a_malformed_rate_is_refused_at_startup(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate like"), running_app(tmp_path, rate_limit_per_key="lots"):
        pass


# --- CORS ---


@pytest.fixture
def cors_app(tmp_path: Path) -> Iterator[TestClient]:
    with running_app(tmp_path, cors_origins="http://localhost:3000, https://app.example.org") as (client, _):
        yield client


def test_preflight_from_an_allowed_origin_is_answered(cors_app: TestClient) -> None:
    response = cors_app.options(
        "/verify",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_preflight_from_another_origin_is_refused(cors_app: TestClient) -> None:
    response = cors_app.options(
        "/verify", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_answers_and_errors_carry_cors_headers_for_the_browser(cors_app: TestClient) -> None:
    origin = {"Origin": "https://app.example.org"}
    ok = cors_app.post("/verify", json=CLAIM, headers=origin)
    too_large = cors_app.post(
        "/verify", content=b"x" * 20_000, headers=origin | {"content-type": "application/json"}
    )
    assert ok.status_code == 200 and too_large.status_code == 413
    for response in (ok, too_large):
        assert response.headers["access-control-allow-origin"] == "https://app.example.org"
        assert "retry-after" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("switched_off", ["none", ""])
def test_cors_can_be_switched_off(tmp_path: Path, switched_off: str) -> None:
    with running_app(tmp_path, cors_origins=switched_off) as (client, _):
        response = client.options(
            "/verify", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
        )
        assert response.status_code == 405
        assert "access-control-allow-origin" not in response.headers


# --- the client's address behind a proxy ---


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy trusted: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from the proxy: ignored
        (["10.0.0.0/8"], "10.1.2.3", "198.51.100.1", "198.51.100.1"),
        (["10.0.0.0/8"], "10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),  # spoofed left entry
        (["*"], "10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # one hop: only what the proxy appended
        (["*"], "10.1.2.3", "2001:db8::7", "2001:db8::7"),
        (["10.0.0.0/8"], "10.1.2.3", "not-an-address", "10.1.2.3"),
        (["10.0.0.0/8"], "10.1.2.3", "[2001:db8::1]:4711", "2001:db8::1"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    trusted: list[str], peer: str, forwarded: str, expected: str
) -> None:
    assert ProxyTrust(trusted).client_address(peer, forwarded) == expected


@pytest.mark.e2e
@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_for_decides_the_rate_limit_bucket_only_from_a_trusted_proxy(
    tmp_path: Path, trusted: str
) -> None:
    """A real uvicorn: its own proxy handling (which trusts loopback by default) must not apply."""
    env = {"RATE_LIMIT_PER_ADDRESS": "2/minute"} | ({"TRUSTED_PROXIES": trusted} if trusted else {})
    server = start_server(tmp_path / "data", tmp_path / "server.log", **env)
    try:
        clear_of_rate_window_edge(60, needed_s=20)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            codes = [
                http.post("/verify", json=CLAIM, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(3)
            ]
    finally:
        server.stop()
    # Untrusted: three spoofed addresses are one client (127.0.0.1) and the third is refused.
    assert codes == ([200, 200, 200] if trusted else [200, 200, 429])

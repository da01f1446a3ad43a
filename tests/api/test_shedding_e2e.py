"""Load shedding on a real server whose memory limit is below what it already uses.

The server must refuse work with 503 + Retry-After instead of running into an out-of-memory kill, keep
answering its liveness check, store nothing, and say why in /ready, /health and /metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer, start_server

# Every test here talks to a real server started with a tiny memory budget.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def starved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("starved")
    # 64 MB: far below a loaded model, so every /verify is over the hard threshold even after cleanup.
    running = start_server(
        base / "data", base / "server.log", wait_for="warm", MEMORY_LIMIT_MB="64", SEED_ON_EMPTY="true"
    )
    yield running
    running.stop()


def test_verify_is_shed_with_retry_after_and_stores_nothing(starved: RunningServer) -> None:
    with starved.client() as http:
        before = http.get("/stats").json()["claims_count"]
        for _ in range(3):
            response = http.post("/verify", json={"raw_text": "Penguins can fly over the Andes in winter."})
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) >= 1
            assert "memory" in response.json()["detail"]
            assert response.json()["request_id"] == response.headers["x-request-id"]
        assert http.get("/stats").json()["claims_count"] == before


def test_liveness_stays_green_while_readiness_says_why(starved: RunningServer) -> None:
    with starved.client() as http:
        health = http.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded" and body["shedding"] is True
        assert body["memory_limit_mb"] == 64
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert "shedding" in ready.json()["reason"]


def test_shed_requests_are_counted_and_logged(starved: RunningServer) -> None:
    with starved.client() as http:
        http.post("/verify", json={"raw_text": "The Moon is made of cheese."})
        text = http.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("factmem_requests_shed_total", (("reason", "memory"),))] >= 1
    log = starved.log()
    assert "memory shed" in log and "rss_anon_mb=" in log


def test_server_exits_cleanly_after_shedding(tmp_path: Path, starved: RunningServer) -> None:
    del tmp_path
    assert starved.stop() in (0, -15)
    assert "Application shutdown complete" in starved.log()

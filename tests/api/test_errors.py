"""Failures inside the service, in process: a generic 500, and 503 + Retry-After while warming up or shedding.

The app runs with its lifespan (``TestClient`` as a context manager), on real stores in a temporary
directory and the process's shared model; faults are injected by monkeypatching the live service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_harness import TestClient, running_app

from factmem.api.service import Service
from factmem.logging_setup import request_id_var

SECRET = "secret engine detail /var/lib/x"
CLAIM = {"raw_text": "The Marrowind Lighthouse was first lit in 1852."}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    with running_app(tmp_path) as running:
        yield running


@pytest.fixture
def tiny_memory_app(tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    """The memory guard believes the budget is 1 MB: every reading is over both thresholds."""
    with running_app(tmp_path, memory_limit_mb=1.0) as running:
        yield running


def _raise_secret(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


class _RequestIdRecorder(logging.Handler):
    """Records each message with the request id a log line would show (the id in the context at emit time)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.getMessage(), request_id_var.get()))


@pytest.fixture
def error_log() -> Iterator[_RequestIdRecorder]:
    recorder = _RequestIdRecorder()
    logger = logging.getLogger("factmem.api.middleware")
    logger.addHandler(recorder)
    yield recorder
    logger.removeHandler(recorder)


# --- 500 ---


def test_unhandled_error_is_a_generic_500_with_the_request_id(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app
    assert service.claim_store is not None
    monkeypatch.setattr(service.claim_store, "search", _raise_secret)
    monkeypatch.setattr(service.claim_store, "hybrid_search", _raise_secret)

    response = client.post("/verify", json=CLAIM)

    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "request_id"}
    assert len(body["request_id"]) == 32
    assert "request_id" in body["detail"], "the detail tells the client what to quote"
    for leaked in ("secret", "/var/lib/x", "Traceback", "RuntimeError"):
        assert leaked not in response.text
    monkeypatch.undo()
    assert service.claim_store.count() == 0, "a failed verification stores nothing"


def test_unhandled_error_is_logged_with_its_cause(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client, service = app
    monkeypatch.setattr(service.claim_store, "search", _raise_secret)
    monkeypatch.setattr(service.claim_store, "hybrid_search", _raise_secret)
    with caplog.at_level(logging.ERROR, logger="factmem.api.middleware"):
        client.post("/verify", json=CLAIM)
    (record,) = [r for r in caplog.records if r.name == "factmem.api.middleware"]
    assert "POST /verify" in record.getMessage()
    assert record.exc_info is not None and str(record.exc_info[1]) == SECRET


def test_500_carries_the_request_id_header(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app
    monkeypatch.setattr(service.claim_store, "search", _raise_secret)
    monkeypatch.setattr(service.claim_store, "hybrid_search", _raise_secret)
    response = client.post("/verify", json=CLAIM, headers={"X-Request-ID": "trace-500"})
    assert response.json()["request_id"] == "trace-500"
    assert response.headers.get("x-request-id") == "trace-500"


def test_500_is_logged_under_the_request_id_the_client_got(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch, error_log: _RequestIdRecorder
) -> None:
    client, service = app
    monkeypatch.setattr(service.claim_store, "search", _raise_secret)
    monkeypatch.setattr(service.claim_store, "hybrid_search", _raise_secret)
    response = client.post("/verify", json=CLAIM)
    request_id = response.json()["request_id"]
    assert [rid for message, rid in error_log.records if "unhandled error" in message] == [request_id]


# --- 503: memory ---


def test_over_the_memory_limit_verify_is_503_and_stores_nothing(
    tiny_memory_app: tuple[TestClient, Service],
) -> None:
    client, service = tiny_memory_app

    response = client.post("/verify", json=CLAIM)

    assert response.status_code == 503
    assert response.headers["retry-after"] == str(service.settings.retry_after_s)
    assert "memory" in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert service.claim_store is not None and service.claim_store.count() == 0
    assert service.admission.refused == {"memory": 1} and service.admission.admitted == 0
    assert service.guard.cleanups >= 1, "a cleanup is tried before shedding"


def test_over_the_memory_limit_health_is_degraded_and_ready_is_503(
    tiny_memory_app: tuple[TestClient, Service],
) -> None:
    client, _ = tiny_memory_app
    client.post("/verify", json=CLAIM)

    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["shedding"] is True
    assert health.json()["memory_limit_mb"] == 1.0

    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "memory" in ready.json()["reason"]


def test_ready_takes_its_own_memory_reading(tiny_memory_app: tuple[TestClient, Service]) -> None:
    client, _ = tiny_memory_app
    assert client.get("/ready").status_code == 503


# --- 503: not ready ---


def test_before_ready_verify_is_503_with_retry_after(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app
    monkeypatch.setattr(service, "ready", threading.Event())  # warm-up not finished

    response = client.post("/verify", json=CLAIM)
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(service.settings.retry_after_s)
    assert "warming up" in response.json()["detail"]

    assert client.get("/ready").status_code == 503
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["ready"] is False
    assert service.claim_store is not None and service.claim_store.count() == 0


def test_failed_startup_is_503_and_degraded(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app
    monkeypatch.setattr(service, "startup_error", "EmbeddingError: model file missing")

    response = client.post("/verify", json=CLAIM)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "model file missing" not in response.text, "the cause stays in the log"
    assert client.get("/ready").status_code == 503
    assert client.get("/health").json()["status"] == "degraded"


def test_no_free_verification_slot_is_503(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app
    monkeypatch.setattr(service.admission, "max_queue_wait_s", 0.2)  # the line's wait, shortened
    slots = service.admission.slots
    for _ in range(slots.total):
        assert slots.try_acquire()
    try:
        response = client.post("/verify", json=CLAIM)
    finally:
        for _ in range(slots.total):
            slots.release()
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "concurrent" in response.json()["detail"]
    assert service.claim_store is not None and service.claim_store.count() == 0


def test_a_request_waits_in_line_for_a_slot_that_frees_up(app: tuple[TestClient, Service]) -> None:
    client, service = app
    slots = service.admission.slots
    for _ in range(slots.total):
        assert slots.try_acquire()

    def release_all() -> None:
        for _ in range(slots.total):
            slots.release()

    # released on the app's event loop, where slots live (the test client's portal runs it there)
    freed = threading.Timer(0.3, lambda: client.portal.call(release_all))  # type: ignore[union-attr]
    freed.start()
    response = client.post("/verify", json=CLAIM)
    freed.join()
    assert response.status_code == 200, "a short wait for a slot, not a refusal"

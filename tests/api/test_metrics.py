"""``GET /metrics``: the Prometheus families, their labels and counts, on the real model and stores.

Each app runs with its lifespan (``TestClient`` as a context manager) and owns its own registry, so the
counts start at zero in every test. Latencies are never asserted, only that requests were timed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_harness import TestClient, running_app
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from factmem import __version__
from factmem.api.service import Service
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.metrics import Metrics
from factmem.store.edge import EdgeClaimStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "memory"
MB = 1024 * 1024

KNOWN_CLAIM = "The Eiffel Tower is in Paris."
NEW_CLAIM = "The Marrowind Lighthouse was first lit in 1852."


def scrape(client: TestClient) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def matching(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(s.value for s in matching(samples, name, **labels))


def only(samples: list[Sample], name: str, **labels: str) -> Sample:
    found = matching(samples, name, **labels)
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    with running_app(tmp_path) as running:
        _, service = running
        assert service.pipeline is not None
        ingest_claims(
            service.pipeline,
            [CuratedClaim(claim=KNOWN_CLAIM, verdict="True", source_url="https://example.org/eiffel")],
        )
        yield running


def test_verifications_are_counted_by_route_and_outcome(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    miss = client.post("/verify", json={"raw_text": NEW_CLAIM})
    hit = client.post("/verify", json={"raw_text": KNOWN_CLAIM})
    assert (miss.status_code, miss.json()["cache_hit"]) == (200, False)
    assert (hit.status_code, hit.json()["cache_hit"]) == (200, True)
    assert client.post("/verify", json={}).status_code == 422
    assert (
        client.post("/verify", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    )
    assert client.get(f"/claims/{uuid.uuid4()}").status_code == 404
    assert client.get("/no/such/path/42").status_code == 404
    assert client.get("/health").status_code == 200

    samples = scrape(client)

    requests = "factmem_http_requests_total"
    assert only(samples, requests, route="/verify", outcome="cache_miss").labels == {
        "route": "/verify",
        "method": "POST",
        "status": "200",
        "outcome": "cache_miss",
    }
    assert only(samples, requests, route="/verify", outcome="cache_hit").value == 1
    assert only(samples, requests, route="/verify", outcome="cache_miss").value == 1
    assert only(samples, requests, route="/verify", status="422").labels["outcome"] == "bad_request"
    assert only(samples, requests, route="/verify", status="400").labels["outcome"] == "bad_request"
    # The template, never the raw path; unknown paths share one label value.
    assert only(samples, requests, route="/claims/{claim_id}", status="404").value == 1
    assert only(samples, requests, route="unmatched", status="404").value == 1
    assert not [s for s in samples if s.name == requests and s.labels["route"].startswith("/no/")]
    assert only(samples, requests, route="/health", method="GET", status="200", outcome="ok").value == 1

    duration = "factmem_http_request_duration_seconds_count"
    assert only(samples, duration, route="/verify", outcome="cache_hit").value == 1
    assert only(samples, duration, route="/verify", outcome="cache_miss").value == 1
    assert only(samples, duration, route="/verify", outcome="bad_request").value == 2
    assert only(samples, duration, route="/health", outcome="ok").value == 1
    buckets = matching(samples, "factmem_http_request_duration_seconds_bucket", route="/verify")
    assert {s.labels["le"] for s in buckets} >= {"0.001", "10.0", "+Inf"}

    # Nothing was refused or cleaned up, but the series exist from the start.
    for reason in ("memory", "concurrency", "warming_up"):
        assert only(samples, "factmem_requests_shed_total", reason=reason).value == 0


def test_scrape_counts_the_previous_scrape(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    scrape(client)
    samples = scrape(client)
    assert only(samples, "factmem_http_requests_total", route="/metrics", outcome="ok").value == 1


def test_memory_store_and_service_gauges(app: tuple[TestClient, Service]) -> None:
    client, service = app
    assert client.post("/verify", json={"raw_text": NEW_CLAIM}).status_code == 200
    assert service.claim_store is not None and service.evidence_store is not None

    samples = scrape(client)

    for name in (
        "factmem_memory_rss_bytes",
        "factmem_memory_rss_anon_bytes",
        "factmem_memory_rss_file_bytes",
        "factmem_memory_peak_rss_bytes",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
    ):
        assert only(samples, name).value > 0, name
    assert (
        only(samples, "factmem_memory_peak_rss_bytes").value
        >= only(samples, "factmem_memory_rss_bytes").value
    )
    assert only(samples, "factmem_claims_in_memory").value == service.claim_store.count() == 2
    assert only(samples, "factmem_evidence_passages").value == service.evidence_store.count()
    assert only(samples, "factmem_ready").value == 1
    assert only(samples, "factmem_model_load_seconds").value > 0
    assert only(samples, "factmem_build_info").labels == {
        "version": __version__,
        "store_backend": "qdrant-edge",
    }
    assert matching(samples, "python_gc_objects_collected_total")


def test_memory_shed_and_cleanup_are_counted(tmp_path: Path) -> None:
    """With a 1 MB budget every reading is over both thresholds: clean up, then refuse."""
    with running_app(tmp_path, memory_limit_mb=1.0) as (client, service):
        response = client.post("/verify", json={"raw_text": NEW_CLAIM})
        assert response.status_code == 503
        assert "retry-after" in response.headers

        samples = scrape(client)

    assert only(samples, "factmem_requests_shed_total", reason="memory").value == 1
    assert only(samples, "factmem_requests_shed_total", reason="concurrency").value == 0
    assert only(samples, "factmem_http_requests_total", route="/verify").labels == {
        "route": "/verify",
        "method": "POST",
        "status": "503",
        "outcome": "shed",
    }
    assert (
        only(samples, "factmem_http_request_duration_seconds_count", route="/verify").labels["outcome"]
        == "shed"
    )
    assert only(samples, "factmem_memory_cleanups_total", reason="soft-threshold").value == 1
    assert only(samples, "factmem_memory_cleanups_total", reason="periodic").value == 0
    assert only(samples, "factmem_memory_released_bytes_total").value >= 0
    assert only(samples, "factmem_memory_limit_bytes").labels == {"source": "setting"}
    assert only(samples, "factmem_memory_limit_bytes").value == 1 * MB
    assert service.admission.refused == {"memory": 1}


def test_concurrency_shed_is_counted(app: tuple[TestClient, Service]) -> None:
    client, service = app
    service.admission.max_queued = 0  # no line: refused at once
    slots = service.settings.cpu_slots
    for _ in range(slots):
        assert service.admission.slots.try_acquire()
    try:
        response = client.post("/verify", json={"raw_text": NEW_CLAIM})
    finally:
        for _ in range(slots):
            service.admission.slots.release()
    assert response.status_code == 503

    samples = scrape(client)
    assert only(samples, "factmem_requests_shed_total", reason="concurrency").value == 1
    assert only(samples, "factmem_requests_shed_total", reason="memory").value == 0
    assert only(samples, "factmem_http_requests_total", route="/verify", outcome="shed").value == 1


def test_unhandled_error_is_counted_as_500(
    app: tuple[TestClient, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service = app

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service.pipeline, "recall", fail)
    assert client.post("/verify", json={"raw_text": NEW_CLAIM}).status_code == 500

    samples = scrape(client)
    assert only(samples, "factmem_http_requests_total", route="/verify").labels == {
        "route": "/verify",
        "method": "POST",
        "status": "500",
        "outcome": "error",
    }


def test_a_closed_store_leaves_its_gauge_out(app: tuple[TestClient, Service]) -> None:
    client, service = app
    assert isinstance(service.evidence_store, EdgeClaimStore)
    service.evidence_store.close()

    samples = scrape(client)
    assert not matching(samples, "factmem_evidence_passages")
    assert matching(samples, "factmem_claims_in_memory")


def test_apps_have_separate_registries(tmp_path: Path) -> None:
    with running_app(tmp_path / "a") as (first, _), running_app(tmp_path / "b") as (second, _):
        assert first.get("/health").status_code == 200
        assert only(scrape(first), "factmem_http_requests_total", route="/health").value == 1
        assert not matching(scrape(second), "factmem_http_requests_total", route="/health")


# --- the collectors on data-file fixtures ---------------------------------------------------------


def metrics_on(proc: Path, cgroup_root: Path, limit_mb: float | None = None) -> list[Sample]:
    metrics = Metrics(
        memory_limit_mb=limit_mb, store_backend="qdrant-edge", proc=str(proc), cgroup_root=str(cgroup_root)
    )
    text = generate_latest(metrics.registry).decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def test_memory_collector_reads_proc_and_cgroup_fixtures() -> None:
    samples = metrics_on(FIXTURES / "proc", FIXTURES / "cgroup" / "v2_limit")
    assert only(samples, "factmem_memory_rss_bytes").value == 287744 * 1024
    assert only(samples, "factmem_memory_rss_anon_bytes").value == 201728 * 1024
    assert only(samples, "factmem_memory_rss_file_bytes").value == (84992 + 1024) * 1024
    assert only(samples, "factmem_memory_peak_rss_bytes").value == 301224 * 1024
    assert only(samples, "factmem_memory_limit_bytes", source="cgroup_v2").value == 512 * MB
    assert only(samples, "factmem_container_memory_usage_bytes").value == 304 * MB
    assert only(samples, "factmem_container_memory_working_set_bytes").value == (304 - 100) * MB
    assert only(samples, "factmem_container_oom_kills_total").value == 1


def test_missing_memory_sources_omit_samples_and_never_fail(tmp_path: Path) -> None:
    samples = metrics_on(tmp_path / "no-proc", tmp_path / "no-cgroup")
    read_from_proc_or_cgroup = {
        "factmem_memory_rss_bytes",
        "factmem_memory_rss_anon_bytes",
        "factmem_memory_rss_file_bytes",
        "factmem_memory_peak_rss_bytes",
        "factmem_memory_limit_bytes",
        "factmem_container_memory_usage_bytes",
        "factmem_container_memory_working_set_bytes",
        "factmem_container_oom_kills_total",
    }
    assert not [s for s in samples if s.name in read_from_proc_or_cgroup]
    assert only(samples, "factmem_memory_cleanups_total", reason="periodic").value == 0
    assert not matching(samples, "process_resident_memory_bytes")
    assert only(samples, "factmem_build_info").labels["store_backend"] == "qdrant-edge"

"""``/health`` on the in-process app: what it returns is exactly its documented schema."""

from __future__ import annotations

from pathlib import Path

from app_harness import running_app

from factmem.api.schemas import HealthOut


def test_health_returns_exactly_the_documented_schema(tmp_path: Path) -> None:
    with running_app(tmp_path) as (client, _):
        response = client.get("/health")
        openapi = client.get("/openapi.json").json()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(HealthOut.model_fields)  # nothing undocumented, nothing documented but absent
    health = HealthOut.model_validate(body)  # extra fields are forbidden: this is the whole answer
    assert health.status == "healthy" and health.started and health.ready and not health.shedding
    assert health.memory_mb > 0 and health.rss_anon_mb is not None
    assert health.storage.writable
    documented = openapi["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]
    assert documented["schema"] == {"$ref": "#/components/schemas/HealthOut"}


def test_head_health_answers_like_get_without_a_body(tmp_path: Path) -> None:
    with running_app(tmp_path) as (client, _):
        response = client.head("/health")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/json"

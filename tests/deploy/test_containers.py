"""The container files say what the README promises: a non-root image with the model prepared at build
time and a health check, and a compose file wiring factmem to a Qdrant server, each with a volume and a
memory limit. (The image itself was built and run with podman; see the README's "Containers".)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from factmem.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_image_prepares_the_model_at_build_time_and_runs_as_a_user_with_a_health_check() -> None:
    assert any("python -m factmem prepare-model" in run for run in instructions("RUN"))
    assert instructions("USER") == ["factmem"]
    assert instructions("VOLUME") == ['["/data"]']
    [health] = instructions("HEALTHCHECK")
    assert "/health" in health
    assert instructions("CMD")[-1] == '["python", "/app/api_server.py"]'
    settings_env = {name.upper() for name in Settings.model_fields}
    env = " ".join(instructions("ENV"))
    for variable in ("HOST", "PORT", "DATA_DIR", "MODEL_DIR"):
        assert variable in settings_env and re.search(rf"\b{variable}=", env), variable


def test_compose_wires_factmem_to_qdrant_with_volumes_and_memory_limits() -> None:
    services = COMPOSE["services"]
    factmem, qdrant = services["factmem"], services["qdrant"]
    assert factmem["environment"]["QDRANT_URL"] == "http://qdrant:6333"
    assert factmem["mem_limit"] == "256m" and qdrant["mem_limit"]
    assert qdrant["image"].startswith("qdrant/qdrant:")
    for service in (factmem, qdrant):
        [volume] = service["volumes"]
        assert volume.split(":")[0] in COMPOSE["volumes"]
    assert services["searxng"]["profiles"] == ["web"] and services["ollama"]["profiles"] == ["llm"]
    known = {name.upper() for name in Settings.model_fields}
    assert set(factmem["environment"]) <= known
    for ports in (factmem["ports"], qdrant["ports"]):
        assert all(port.startswith("127.0.0.1:") for port in ports), "published on loopback only"

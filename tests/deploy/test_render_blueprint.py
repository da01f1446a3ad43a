"""``render.yaml`` deploys as is: valid Blueprint structure, commands that exist, settings that exist, no
secret written into the file, and a free plan without a disk.

The structure is checked against ``render_blueprint.schema.json`` (written from Render's Blueprint
reference; see its ``$comment``) and, when ``RENDER_BLUEPRINT_SCHEMA`` names a downloaded copy of Render's
published schema (https://render.com/schema/render.yaml.json), against that file too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from factmem.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT_TEXT = (ROOT / "render.yaml").read_text(encoding="utf-8")
BLUEPRINT: dict[str, Any] = yaml.safe_load(BLUEPRINT_TEXT)
SCHEMA = json.loads((Path(__file__).with_name("render_blueprint.schema.json")).read_text(encoding="utf-8"))
SECRETS = {"ADMIN_API_KEY", "CLIENT_API_KEYS", "QDRANT_API_KEY", "LLM_API_KEY", "WEB_SEARCH_API_KEY"}
RENDER_ONLY_VARIABLES = {"PYTHON_VERSION"}


def errors(document: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> list[str]:
    validator = Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def service() -> dict[str, Any]:
    [only] = BLUEPRINT["services"]
    return only


def env() -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in service()["envVars"]}


def test_the_blueprint_is_valid() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert errors(BLUEPRINT) == []


@pytest.mark.skipif(
    not os.environ.get("RENDER_BLUEPRINT_SCHEMA"),
    reason="set RENDER_BLUEPRINT_SCHEMA to a downloaded https://render.com/schema/render.yaml.json",
)
def test_the_blueprint_is_valid_against_renders_published_schema() -> None:
    published = json.loads(Path(os.environ["RENDER_BLUEPRINT_SCHEMA"]).read_text(encoding="utf-8"))
    validator_class = Draft202012Validator
    assert [e.message for e in validator_class(published).iter_errors(BLUEPRINT)] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("healthcheckPath",), "/health"),  # a typo of a field name
        (("plan",), "tiny"),
        (("runtime",), "python3"),
        (("envVars", 0, "sync"), True),  # sync: true is not a documented form
        (("disk",), {"name": "d", "mountPath": "relative/path", "sizeGB": 1}),
    ],
)
def test_the_schema_catches_mistakes(path: tuple[Any, ...], value: Any) -> None:
    broken = copy.deepcopy(BLUEPRINT)
    target = broken["services"][0]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert errors(broken), f"a blueprint with {path}={value!r} passed the schema"


def test_the_free_plan_has_no_disk_and_the_commented_paid_disk_is_valid() -> None:
    assert service()["plan"] == "free" and "disk" not in service()
    commented = [
        line.replace("# ", "", 1)
        for line in BLUEPRINT_TEXT.splitlines()
        if re.match(r"^    # (plan|disk|  )", line)
    ]
    paid = yaml.safe_load("\n".join(line[4:] for line in commented))
    assert paid["plan"] == "starter" and paid["disk"]["mountPath"] == "/var/data"
    upgraded = copy.deepcopy(BLUEPRINT)
    upgraded["services"][0] |= paid
    assert errors(upgraded) == []


def test_the_build_prepares_the_model_and_the_start_runs_one_worker_from_the_settings() -> None:
    build = service()["buildCommand"]
    assert "pip install -r requirements.txt" in build and "python -m factmem prepare-model" in build
    start = shlex.split(service()["startCommand"])
    assert start == ["python", "backend/api_server.py"]
    assert (ROOT / start[1]).exists()
    assert service()["healthCheckPath"] == "/health"
    assert env()["HOST"]["value"] == "0.0.0.0"


def test_every_variable_is_a_setting_and_no_secret_is_written_down() -> None:
    known = {name.upper() for name in Settings.model_fields} | RENDER_ONLY_VARIABLES
    assert set(env()) <= known, f"not settings of factmem: {set(env()) - known}"
    for key in SECRETS & set(env()):
        assert "value" not in env()[key], f"{key} must be generated or set in the dashboard"
    values = {key: str(item["value"]) for key, item in env().items() if "value" in item}
    Settings(_env_file=None, **{k.lower(): v for k, v in values.items() if k not in RENDER_ONLY_VARIABLES})

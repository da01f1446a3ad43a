"""Odd text and odd requests against a real server: a clear 4xx, and nothing changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ADMIN_KEY, REPO_ROOT, RunningServer

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

SEEDED = "The Great Wall of China is visible from space with the naked eye."


def _seen_count(server: RunningServer, text: str) -> int:
    with server.client() as http:
        return int(http.post("/verify", json={"raw_text": text}).json()["seen_count"])


def test_a_lone_surrogate_is_a_400_and_counts_nothing(server: RunningServer) -> None:
    before = _seen_count(server, SEEDED)
    body = ('{"raw_text": "' + SEEDED + ' \\ud800"}').encode()
    with server.client() as http:
        response = http.post("/verify", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]
    assert _seen_count(server, SEEDED) == before + 1  # only the verification that asked for it


def test_text_json_is_415_and_head_answers_like_get(server: RunningServer) -> None:
    with server.client() as http:
        response = http.post("/verify", content=b'{"raw_text": "x"}', headers={"content-type": "text/json"})
        assert response.status_code == 415
        assert "application/json" in response.json()["detail"]
        for path in ("/health", "/ready"):
            head = http.head(path)
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) > 0


def test_admin_bodies_refuse_booleans_and_letterless_evidence(server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with server.client(headers=auth) as http:
        count = http.get("/stats").json()
        claim = {"claim": "Booleans are numbers in JSON.", "verdict": "False", "source_reliability": True}
        refused = http.post("/claims", json={"claims": [claim]})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["field"] == "claims.0.source_reliability"
        refused = http.post("/evidence", json={"passages": [{"text": "1234567890 !!! 42 ---"}]})
        assert refused.status_code == 422
        assert "no letters" in refused.json()["detail"][0]["message"]
        after = http.get("/stats").json()
    for key in ("claims_count", "evidence_count"):
        assert after[key] == count[key]


def test_a_whitespace_admin_key_refuses_to_start() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import factmem.settings as s; s.get_settings()"],
        cwd=REPO_ROOT,
        env={"ADMIN_API_KEY": "   ", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "only whitespace" in done.stderr


def test_schemathesis_with_every_check_finds_nothing(server: RunningServer, tmp_path: Path) -> None:
    """Generated requests (valid, invalid, stateful) against the OpenAPI document: every status
    documented, every body matching its schema, valid data accepted, invalid data refused, no 5xx.

    ASCII strings only: schemathesis' negative-data check classifies astral-plane letters ("𝐓𝐡𝐞", U+1D413…)
    as violating ``\\p{L}`` and reports the server's correct acceptance; Unicode is covered above."""
    schemathesis = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20261201",
            "--generation-codec",
            "ascii",
            "--workers",
            "1",
            "-H",
            f"Authorization: Bearer {ADMIN_KEY}",
        ],
        cwd=tmp_path,  # its cache of crashes goes there, not into the repository
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:]

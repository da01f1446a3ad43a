"""``LOG_FORMAT=json`` on a real server: every line it writes, uvicorn's included, is one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_KEY, start_server


@pytest.mark.e2e
def test_a_json_server_writes_only_json_lines_with_request_ids_and_no_secret(tmp_path: Path) -> None:
    client_key = "public-client-key-5d1e2f3a"
    server = start_server(
        tmp_path / "data",
        tmp_path / "server.log",
        LOG_FORMAT="json",
        ADMIN_API_KEY=ADMIN_KEY,
        CLIENT_API_KEYS=client_key,
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            ok = http.post(
                "/verify",
                json={"raw_text": "Water boils at 100 degrees Celsius at sea level."},
                headers={"X-API-Key": client_key, "X-Request-ID": "trace-me-1"},
            )
            assert ok.status_code == 200
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert {"time", "level", "logger", "request_id", "message"} <= set(records[0])
    assert any(r["logger"].startswith("uvicorn") for r in records), "uvicorn's lines are JSON too"
    assert any(r["message"].startswith("ready ") for r in records)
    text = server.log()
    assert ADMIN_KEY not in text and client_key not in text

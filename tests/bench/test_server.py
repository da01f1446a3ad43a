"""The one launcher (``factmem_bench.server``): a clean environment, and a clear error for a server that dies.

Starting real servers is what every end-to-end test does through it (``tests/conftest.py``), the load test
and the benchmark too; here are the cases those never meet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from factmem_bench.server import ServerStartError, server_environment, start


def test_a_server_never_inherits_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_URL", "https://shared.example:6333")
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("OBVIOUS_CLAIM_LIMIT", "3")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = server_environment(4321, {"DATA_DIR": "/tmp/x"})
    assert "QDRANT_URL" not in env and "OBVIOUS_CLAIM_LIMIT" not in env
    assert (env["HOST"], env["PORT"], env["DATA_DIR"], env["LANG"]) == (
        "127.0.0.1",
        "4321",
        "/tmp/x",
        "C.UTF-8",
    )


def test_a_server_that_exits_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('cannot open the store', flush=True); raise SystemExit(3)"]
    with pytest.raises(ServerStartError, match="exited with code 3") as failed:
        start(command, log_path=tmp_path / "server.log", name="broken", timeout_s=30)
    assert "cannot open the store" in str(failed.value)


def test_a_server_that_never_answers_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    with pytest.raises(ServerStartError, match="not up after"):
        start([sys.executable, "-c", script], log_path=tmp_path / "server.log", wait_for="up", timeout_s=1)
    assert not Path(f"/proc/{pid_file.read_text()}").exists(), "the silent server was left running"

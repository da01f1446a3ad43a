"""First start in a small container: the model conversion is OOM-killed in 200 MB; the server says so and
exits non-zero, and with the model prepared at build time it starts in the same 200 MB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, start_server
from faults import memory_cgroup, oom_kills

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]


def test_a_failed_first_start_names_the_oom_kill_and_exits_then_prepare_model_fixes_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with memory_cgroup(200) as group:
        try:
            server = start_server(data_dir, tmp_path / "first.log", wait_for="up", cgroup=group)
        except RuntimeError as exc:  # it may have failed before /health was polled: same outcome
            log = str(exc)
            returncode = None
        else:
            returncode = server.process.wait(timeout=120)
            log = server.log()
        assert returncode is None or returncode != 0
        assert "memory_limit_mb=200.0 limit_source=cgroup_v1" in log
        assert "OOM killer" in log and "prepare-model" in log, log[-3000:]
        assert oom_kills(group) >= 1

        # build time: convert the model outside the small container, as render.yaml's build command does
        subprocess.run(
            [sys.executable, "-m", "factmem", "prepare-model"],
            cwd=REPO_ROOT,
            env={**os.environ, "DATA_DIR": str(data_dir)},
            check=True,
            capture_output=True,
            timeout=300,
        )
        kills_before = oom_kills(group)
        server = start_server(data_dir, tmp_path / "second.log", cgroup=group, SEED_ON_EMPTY="true")
        try:
            with server.client() as http:
                health = http.get("/health").json()
                assert http.post("/verify", json={"raw_text": "Vaccines cause autism"}).status_code == 200
            assert (health["memory_limit_mb"], health["limit_source"]) == (200.0, "cgroup_v1")
            assert oom_kills(group) == kills_before
        finally:
            server.stop()

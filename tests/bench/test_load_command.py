"""The load test's command (``backend/test_memory.py``), run exactly as a user would, against real servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from factmem_bench.load_command import main
from factmem_bench.process_memory import read_process_memory
from factmem_bench.server import REPO_ROOT, start

SCRIPT = REPO_ROOT / "backend" / "test_memory.py"
FOREIGN_APP = Path(__file__).parent / "foreign_verify_app.py"


def test_a_remote_url_exits_with_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "http://10.0.0.1:8000", "-n", "1"]) == 2
    assert "refusing" in capsys.readouterr().err


def run_tool(*argv: str, out: Path) -> dict:
    command = [sys.executable, str(SCRIPT), *argv, "--max-seconds", "240", "--seed", "1", "--out", str(out)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=290)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return json.loads((out / "summary.json").read_text())


@pytest.mark.e2e
def test_end_to_end_against_the_real_server(tmp_path: Path) -> None:
    out = tmp_path / "report"
    summary = run_tool("--start-server", "-n", "60", "-c", "4", "--health-every", "10", out=out)
    for key in ("verdict", "requests", "duration_s", "throughput_rps", "status_counts", "shed", "errors"):
        assert key in summary
    for key in ("expected_4xx", "unexpected", "cache_hit_rate", "latency_ms", "health", "memory", "config"):
        assert key in summary
    assert summary["verdict"] == "PASS"
    assert summary["requests"] == 60
    assert summary["expected_4xx"] == 3  # 5 % of 60, each refused
    assert summary["errors"] == summary["unexpected"] == 0
    assert summary["health"]["samples"] >= 3
    assert summary["memory"]["rss_peak"] is not None
    assert len((out / "requests.csv").read_text().splitlines()) == 61
    assert (out / "health.csv").exists() and (out / "memory.png").exists()


@pytest.mark.e2e
def test_another_server_is_driven_and_its_memory_read_from_proc(tmp_path: Path) -> None:
    """A server without request ids, memory figures or /ready: operators measure what they run today."""
    command = [sys.executable, str(FOREIGN_APP)]
    with start(command, log_path=tmp_path / "foreign.log", wait_for="up", name="foreign") as other:
        argv = ["--url", other.url, "--server-pid", str(other.pid), "-n", "60", "-c", "2"]
        summary = run_tool(*argv, "--health-every", "10", out=tmp_path / "report")
        after = read_process_memory(other.pid)
    assert summary["verdict"] == "PASS", summary["reasons"]
    assert summary["requests"] == 60
    assert summary["expected_4xx"] == 3
    assert summary["errors"] == summary["unexpected"] == 0
    assert summary["config"]["rss_limit_source"] == "default"
    assert summary["health"]["failures"] == 0
    # its own memory, read from /proc moments before
    assert summary["memory"]["rss_end"] == pytest.approx(after["rss_mb"], rel=0.2)
    assert summary["memory"]["anon_end"] == pytest.approx(after["rss_anon_mb"], rel=0.2)
    assert summary["memory"]["server_peak_rss"] == pytest.approx(after["hwm_mb"], rel=0.2)

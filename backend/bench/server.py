"""One way to start a server on loopback, wait until it answers, and stop it: for the tools and the tests.

The server runs in a subprocess on a free 127.0.0.1 port with its output in a log file. It never inherits a
factmem setting (or an ``OBVIOUS_*`` one of the baseline) from the caller's environment: a developer's
``QDRANT_URL`` would send synthetic claims to a real shared store, a stray ``PORT`` or ``DATA_DIR`` would
point it elsewhere. It gets only what the caller passes.
Waiting records how long ``/health`` and the chosen condition took, and the latency of every poll (the
benchmark reports them: ``/health`` must answer while the server warms up).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from factmem.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The command that starts factmem, as the README does.
FACTMEM_SERVER = (sys.executable, str(REPO_ROOT / "backend" / "api_server.py"))
#: Every variable the service reads.
FACTMEM_SETTINGS = frozenset(name.upper() for name in Settings.model_fields)

POLL_INTERVAL_S = 0.05
STOP_GRACE_S = 20.0

#: ``up``: ``/health`` answers; ``warm``: ``/health`` says warm-up finished (even while shedding);
#: ``ready``: ``/ready`` answers 200.
WaitFor = Literal["up", "warm", "ready"]


class ServerStartError(RuntimeError):
    """The server exited or did not come up in time; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(port: int, overrides: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without any server setting, on ``port``, with ``overrides``."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in FACTMEM_SETTINGS and not name.startswith("OBVIOUS_")
    }
    return kept | {"HOST": "127.0.0.1", "PORT": str(port)} | dict(overrides)


@dataclass
class RunningServer:
    """A server process on loopback, and how long it took to answer; ``with`` it to stop it on exit."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float  # time.monotonic() at launch
    health_s: float | None = None
    ready_s: float | None = None
    #: latency of every poll answered while the server was starting (warm-up included)
    startup_poll_ms: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_until(self, condition: WaitFor = "ready", timeout_s: float = 120.0) -> None:
        """Poll until ``condition`` holds; ``ServerStartError`` if the process exits or time runs out."""
        deadline = time.monotonic() + max(timeout_s, 1.0)
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise ServerStartError(f"{self.name} exited with code {code}:\n{self.log_tail()}")
                if self._poll(http, condition):
                    return
                time.sleep(POLL_INTERVAL_S)
        raise ServerStartError(f"{self.name} not {condition} after {timeout_s:.0f} s:\n{self.log_tail()}")

    def _poll(self, http: httpx.Client, condition: WaitFor) -> bool:
        path = "/ready" if condition == "ready" and self.health_s is not None else "/health"
        asked = time.perf_counter()
        try:
            response = http.get(f"{self.url}{path}")
        except httpx.TransportError:
            return False
        self.startup_poll_ms.append(round((time.perf_counter() - asked) * 1000, 2))
        if response.status_code != 200:
            return False
        elapsed = round(time.monotonic() - self.started_at, 3)
        if self.health_s is None:
            self.health_s = elapsed
        done = (
            condition == "up"
            or (condition == "warm" and bool(response.json().get("started")))
            or (condition == "ready" and path == "/ready")
        )
        if done:
            self.ready_s = elapsed
        return done

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM, then SIGKILL after ``grace_s``; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def launch(
    command: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    name: str = "factmem",
    new_session: bool = True,
) -> RunningServer:
    """Start ``command`` on a free loopback port (``HOST``/``PORT`` in its environment); no waiting.

    ``new_session``: the server gets a session of its own, so a user's Ctrl-C reaches only the tool, which
    then stops the server in order; tests leave it in theirs, so it dies with them.
    """
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        started_at = time.monotonic()
        process = subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=server_environment(port, env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    return RunningServer(name, f"http://127.0.0.1:{port}", process, log_path, started_at)


def start(
    command: Sequence[str] = FACTMEM_SERVER,
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    wait_for: WaitFor = "ready",
    timeout_s: float = 120.0,
    name: str = "factmem",
    new_session: bool = True,
) -> RunningServer:
    """``launch`` and wait until ``wait_for``; a server that does not come up is stopped before the error."""
    server = launch(command, log_path=log_path, env=env, name=name, new_session=new_session)
    try:
        server.wait_until(wait_for, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server

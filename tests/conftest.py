"""Shared fixtures: the real embedding model, real stores on temporary directories, a real server.

Nothing here is a fake: the embedder is the shipped int8 MiniLM through FastEmbed, stores are a Qdrant Edge
shard on disk and qdrant-client's in-process mode, and ``server`` is uvicorn on loopback in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.base import ClaimStore
from factmem.store.edge import EdgeClaimStore
from factmem.store.remote import QdrantServerClaimStore

REPO_ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"
ADMIN_KEY = "test-admin-key-0123456789"

# Every variable the service reads: tests never inherit a developer's or CI's settings.
_FACTMEM_ENV = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's or CI's factmem settings."""
    for name in _FACTMEM_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The one real embedding model for the whole test session (loading it costs ~1.5 s)."""
    return Embedder(assemble_model_dir(tmp_path_factory.mktemp("model")))


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    # An in-process app releasing file pages at ready would page out the test process's own libraries on
    # every start (they are read back from disk); tests/memory/test_file_pages.py and real servers cover it.
    values: dict[str, object] = {
        "data_dir": data_dir,
        "seed_on_empty": False,
        "memory_limit_mb": None,
        "memory_release_file_pages": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(params=["qdrant-edge", "qdrant-server"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], ClaimStore]]:
    """Opens stores on the backend under test: an Edge shard on disk, or qdrant-client's local mode."""
    opened: list[ClaimStore] = []

    def open_store(name: str) -> ClaimStore:
        store: ClaimStore
        if request.param == "qdrant-edge":
            store = EdgeClaimStore(tmp_path / "edge" / name, name=name, dim=MINILM_INT8.dim)
        else:
            store = QdrantServerClaimStore(name=name, dim=MINILM_INT8.dim, location=":memory:")
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def pipeline(
    settings: Settings, embedder: Embedder, store_factory: Callable[[str], ClaimStore]
) -> VerificationPipeline:
    """A pipeline on fresh stores of each backend, sharing the session's model."""
    claims = store_factory(settings.claims_collection)
    evidence = store_factory(settings.evidence_collection)
    return VerificationPipeline(settings, claims, evidence, lambda: embedder)


def load_backend_script(filename: str, module_name: str) -> ModuleType:
    """Import a command-line script of ``backend/`` (not a package module) so its functions can be tested."""
    spec = importlib.util.spec_from_file_location(module_name, REPO_ROOT / "backend" / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A factmem server process on loopback."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _is_up(http: httpx.Client, url: str, wait_for: str) -> bool:
    if wait_for == "ready":
        return http.get(f"{url}/ready").status_code == 200
    if wait_for == "up":
        return http.get(f"{url}/health").status_code == 200
    # "warm": warm-up finished, whether or not the server is ready to take traffic (it may be shedding).
    response = http.get(f"{url}/health")
    return response.status_code == 200 and bool(response.json().get("started"))


def start_server(
    data_dir: Path, log_path: Path, wait_for: str = "ready", cgroup: Path | None = None, **env: str
) -> RunningServer:
    """Start ``backend/api_server.py`` and wait until ``/ready`` (the README's way of running it).

    ``cgroup``: a cgroup directory the server runs in from its first instruction (``wait_for="up"``:
    until ``/health`` answers, whatever warm-up does).
    """
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in _FACTMEM_ENV}
    environment |= {"HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": str(data_dir), "LOG_LEVEL": "info"}
    environment |= env
    with log_path.open("ab") as log_file:  # the child keeps its own copy of the descriptor
        command = [sys.executable, str(REPO_ROOT / "backend" / "api_server.py")]
        if cgroup is not None:
            command = ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *command]
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", data_dir, process, log_path)
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()[-4000:]}")
            try:
                if _is_up(http, server.url, wait_for):
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server not ready after 120 s:\n{server.log()[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A seeded server with an admin key, shared by one test module."""
    base = tmp_path_factory.mktemp("server")
    running = start_server(base / "data", base / "server.log", ADMIN_API_KEY=ADMIN_KEY, SEED_ON_EMPTY="true")
    yield running
    running.stop()

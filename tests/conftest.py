"""Shared fixtures: the real embedding model, real stores on temporary directories, a real server.

Nothing here is a fake: the embedder is the shipped int8 MiniLM (FastEmbed's pipeline, held to its vectors
bit for bit), stores are a Qdrant Edge shard on disk and qdrant-client's in-process mode, and ``server`` is
uvicorn on loopback in a subprocess, started by the launcher the load test and the benchmark use
(``factmem_bench.server``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.memory.guard import GuardPolicy, MemoryGuard
from factmem.memory.limits import Thresholds
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.base import ClaimStore
from factmem.store.edge import EdgeClaimStore
from factmem.store.remote import QdrantServerClaimStore
from factmem_bench.provider_servers import ProviderServer
from factmem_bench.server import FACTMEM_SERVER, FACTMEM_SETTINGS, RunningServer, WaitFor, start

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared evaluation data beside the checkout (FACTMEM_EVAL_DIR points elsewhere, e.g. from a worktree).
EVAL_DIR = Path(os.environ.get("FACTMEM_EVAL_DIR", REPO_ROOT.parent / "shared" / "eval"))
ADMIN_KEY = "test-admin-key-0123456789"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's or CI's factmem settings."""
    for name in FACTMEM_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The one real embedding model for the whole test session (loading it costs ~1.5 s)."""
    return Embedder(assemble_model_dir(tmp_path_factory.mktemp("model")))


def make_guard(limit_mb: float | None) -> MemoryGuard:
    """A memory guard with the default thresholds, no periodic cleanup to speak of, file pages kept."""
    return MemoryGuard(
        GuardPolicy(
            limit_mb=limit_mb,
            thresholds=Thresholds(soft_fraction=0.8, hard_fraction=0.95),
            cleanup_every=10,
            release_file_pages=False,
        )
    )


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


#: Every collected test by node id, so a helper can see which test is running and how it is marked.
_collected: dict[str, pytest.Item] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _collected.update((item.nodeid, item) for item in items)


def _require_e2e_marker() -> None:
    """``pytest -m "not e2e"`` is the fast loop: a test that starts a server without the marker fails."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    item = _collected.get(current)
    if item is not None and item.get_closest_marker("e2e") is None:
        pytest.fail(f"{current} starts a server: mark it @pytest.mark.e2e (or its module: pytestmark)")


def clear_of_rate_window_edge(window_s: float, needed_s: float) -> None:
    """Wait, when needed, so the next ``needed_s`` seconds lie inside one rate-limit window.

    The ``limits`` sliding-window counter rounds the previous window's weighted share down, so requests on
    either side of a window boundary can all be allowed where one window would refuse the last. Its windows
    start at multiples of their length since the epoch.
    """
    left = window_s - time.time() % window_s
    if left < needed_s:
        time.sleep(left + 0.1)


def start_server(
    data_dir: Path, log_path: Path, wait_for: WaitFor = "ready", cgroup: Path | None = None, **env: str
) -> RunningServer:
    """Start ``backend/api_server.py`` and wait until ``/ready`` (the README's way of running it).

    ``cgroup``: a cgroup directory the server runs in from its first instruction (``wait_for="up"``:
    until ``/health`` answers, whatever warm-up does).
    """
    _require_e2e_marker()
    command = list(FACTMEM_SERVER)
    if cgroup is not None:
        command = ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *command]
    environment = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "info"} | env
    # In the test's own session: a server dies with the test run whatever happens to it.
    return start(command, log_path=log_path, env=environment, wait_for=wait_for, new_session=False)


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    """Scripted LLM (chat completions), Tavily and SearXNG servers on loopback, one per test module."""
    with ProviderServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A seeded server with an admin key, shared by one test module."""
    base = tmp_path_factory.mktemp("server")
    running = start_server(base / "data", base / "server.log", ADMIN_API_KEY=ADMIN_KEY, SEED_ON_EMPTY="true")
    yield running
    running.stop()

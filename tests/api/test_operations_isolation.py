"""``/health`` and ``/ready`` answer from the event loop alone, even when every worker thread is busy.

Render restarts a service whose health check fails for 60 s; under load every worker thread runs a
``/verify``. A plain ``def`` dependency would make these routes queue for a worker thread like any
verification, so the test takes the thread pool's only token away and still expects answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anyio import to_thread
from app_harness import TestClient, running_app

from factmem.api.service import Service


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    with running_app(tmp_path) as running:
        yield running


def _get_within(client: TestClient, path: str, seconds: float) -> httpx.Response | None:
    """The response, or None when it did not come within ``seconds`` (the request is left waiting)."""
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(client.get(path)), daemon=True)
    thread.start()
    thread.join(seconds)
    return result[0] if result else None


@pytest.mark.parametrize("path", ["/health", "/ready", "/"])
def test_operations_routes_answer_while_every_worker_thread_is_busy(
    app: tuple[TestClient, Service], path: str
) -> None:
    client, _ = app
    release = threading.Event()

    async def occupy_the_only_worker_thread() -> None:
        to_thread.current_default_thread_limiter().total_tokens = 1
        await to_thread.run_sync(release.wait)

    assert client.portal is not None
    busy = client.portal.start_task_soon(occupy_the_only_worker_thread)
    try:
        response = _get_within(client, path, 10.0)
        assert response is not None, f"{path} waited for a worker thread"
        assert response.status_code == 200
    finally:
        release.set()
        busy.result(10)

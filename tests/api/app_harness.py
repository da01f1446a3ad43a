"""The in-process app harness of the API tests that need no real server (``from app_harness import ...``).

The app runs with its lifespan (``TestClient`` as a context manager), on real stores in a temporary
directory and the process's shared model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import make_settings
from starlette.exceptions import StarletteDeprecationWarning

from factmem.api.app import create_app
from factmem.api.service import Service

with warnings.catch_warnings():
    # Starlette 1.10's test client asks for the httpx2 package; it still works with the pinned httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["TestClient", "running_app"]


@contextmanager
def running_app(data_dir: Path, **overrides: object) -> Iterator[tuple[TestClient, Service]]:
    """A started app and its service, warm-up done."""
    app = create_app(make_settings(data_dir, **overrides))
    # Unhandled errors must reach the app's own handler and become a response, not re-raise in the test.
    with TestClient(app, raise_server_exceptions=False) as client:
        service: Service = app.state.service
        assert service.wait_ready(60), service.startup_error
        yield client, service

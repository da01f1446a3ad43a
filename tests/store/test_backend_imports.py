"""Each deployment loads only its own store engine: an engine import costs tens of MB of RSS for nothing.

A Qdrant-server deployment never imports the embedded engine (``qdrant_edge``), and the embedded default
never imports ``qdrant_client``; checked in a fresh interpreter that starts the service and waits until it
is ready (the startup index check included).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a process of its own, which loads the model

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from factmem.api.service import Service
    from factmem.settings import Settings

    settings = Settings(_env_file=None, data_dir=sys.argv[1], qdrant_url=sys.argv[2] or None,
                        seed_on_empty=False, memory_release_file_pages=False)
    service = Service(settings)
    service.open()
    assert service.wait_ready(120), service.startup_error
    service.close()
    print(json.dumps({name: name in sys.modules for name in ("qdrant_edge", "qdrant_client")}))
    """
)


@pytest.mark.parametrize(
    ("qdrant_url", "loaded", "never"),
    [(":memory:", "qdrant_client", "qdrant_edge"), ("", "qdrant_edge", "qdrant_client")],
)
def test_a_deployment_imports_only_its_own_store_engine(
    tmp_path: Path, qdrant_url: str, loaded: str, never: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), qdrant_url],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert modules == {loaded: True, never: False}

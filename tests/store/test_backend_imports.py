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
                        seed_on_empty=False, memory_release_file_pages=False,
                        hybrid_retrieval=sys.argv[3] == "hybrid")
    service = Service(settings)
    service.open()
    assert service.wait_ready(120), service.startup_error
    service.close()
    print(json.dumps({name: name in sys.modules for name in ("qdrant_edge", "qdrant_client")}))
    """
)


# A Qdrant-server deployment with hybrid retrieval takes its BM25 model from the qdrant_edge wheel (the one
# BM25 both backends share: +4.7 MB RSS, +1.0 MB anonymous, against qdrant_client's +104 MB), never the
# engine's shards; without hybrid retrieval it never imports the wheel at all.
@pytest.mark.parametrize(
    ("qdrant_url", "hybrid", "loaded", "never"),
    [(":memory:", "dense", "qdrant_client", "qdrant_edge"), ("", "hybrid", "qdrant_edge", "qdrant_client")],
)
def test_a_deployment_imports_only_its_own_store_engine(
    tmp_path: Path, qdrant_url: str, hybrid: str, loaded: str, never: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), qdrant_url, hybrid],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert modules == {loaded: True, never: False}

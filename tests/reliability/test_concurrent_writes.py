"""Concurrent writers: two rewordings of one new claim verified at the same moment make one record, and
two pipelines that share no lock (two instances on one Qdrant server) lose no seen_count increment.

The second case runs on qdrant-client's local mode, which is not a server: each call is serialised (a lock
per call, as a server serialises requests), but nothing spans a read and the write after it, which is the
race two instances meet. A real Qdrant server binary cannot be downloaded here; the same code paths
(``upsert(update_mode=insert_only)``, ``set_payload`` with a filter selector) are what a server runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from factmem.embeddings import MINILM_INT8, Embedder
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.base import ClaimStore
from factmem.store.remote import QdrantServerClaimStore

pytestmark = [pytest.mark.reliability]

# Rewordings that are the same claim (``factmem.polarity``): another spelling, a phrase moved whole, a typo,
# an article, a filler word. (A reordered or rephrased sentence is a related claim, never merged.)
PARAPHRASES = [
    ("The harbour of Quillon freezes over every winter", "The harbor of Quillon freezes over every winter"),
    (
        "The Tellwick mill ground flour for three hundred years",
        "For three hundred years the Tellwick mill ground flour",
    ),
    (
        "Corrowdale Abbey was founded by monks from France",
        "Corrowdale Abbey was founded by monks from Frnace",
    ),
    ("Ardmore lighthouse is painted red and white", "The Ardmore lighthouse is painted red and white"),
    ("The Fenmarsh canal was dug by hand", "The Fenmarsh canal was actually dug by hand"),
]


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_rewordings_verified_at_once_make_one_record(pipeline: VerificationPipeline) -> None:
    before = pipeline.claim_store.count()
    for round_ in range(3):  # each pair verified at once, three times: 1+2, 3+4, 5+6
        for first, second in PARAPHRASES:
            writes = [
                result.write  # type: ignore[attr-defined]
                for result in _at_once(
                    [lambda t=first: pipeline.verify(t), lambda t=second: pipeline.verify(t)]
                )
            ]
            assert len({w.id for w in writes}) == 1, (first, second, writes)
            assert sorted(w.seen_count for w in writes) == [1 + 2 * round_, 2 + 2 * round_]
    assert pipeline.claim_store.count() == before + len(PARAPHRASES)


class _ServerCalls:
    """One call at a time, each answered after a network round trip (1 ms), like a server on another host:
    the time between a read and the write after it is when another instance's writes land."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        time.sleep(0.001)


def _instance(
    settings: Settings, embedder: Embedder, client: object, call_lock: _ServerCalls
) -> VerificationPipeline:
    """A pipeline as a second instance would build it: its own agents and locks, the shared server."""
    stores: list[ClaimStore] = []
    for name in (settings.claims_collection, settings.evidence_collection):
        store = QdrantServerClaimStore(name=name, dim=MINILM_INT8.dim, client=client)  # type: ignore[arg-type]
        store._lock = call_lock  # one call at a time, like a server; nothing spans read-modify-write
        stores.append(store)
    return VerificationPipeline(settings, stores[0], stores[1], lambda: embedder)


def test_two_instances_sharing_a_server_lose_no_increment(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    from qdrant_client import QdrantClient

    client = QdrantClient(location=":memory:")
    call_lock = _ServerCalls()
    instances = [_instance(settings, embedder, client, call_lock) for _ in range(2)]
    claim = "The bells of Ardmore ring at noon every Sunday"
    requests = 60
    calls = [lambda i=i: instances[i % 2].verify(claim) for i in range(requests)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda call: call(), calls))
    (record,) = [p for p in instances[0].claim_store.iter_points()]
    assert record.payload["seen_count"] == requests
    assert sorted(r.write.seen_count for r in results) == list(range(1, requests + 1))
    client.close()

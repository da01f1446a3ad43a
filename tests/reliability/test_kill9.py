"""kill -9 in the middle of writes: every admin write answered 200 survives, a /verify write is lost only
inside the documented flush window, and the restarted server passes its own integrity check."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_KEY, start_server

from factmem.agents.normalizer import Normalizer
from factmem.store.ids import claim_point_id

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

FLUSH_INTERVAL_S = 1.0
RUNS = 2


def _id_of(text: str) -> str:
    return claim_point_id(Normalizer().normalize(text).comparison_key)


def _writer(url: str, stop: threading.Event, acked: dict[str, float], admin: bool, tag: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, timeout=10, headers=headers) as http:
        i = 0
        while not stop.is_set():
            i += 1
            text = f"{tag} {'curated' if admin else 'verified'} claim {i} about the harbour of Quillon"
            try:
                if admin:
                    r = http.post("/claims", json={"claims": [{"claim": text, "verdict": "True"}]})
                    ok = r.status_code == 200 and r.json()["inserted"] == 1
                    key = text
                else:
                    r = http.post("/verify", json={"raw_text": text})
                    ok = r.status_code == 200 and r.json()["stored"]
                    key = r.json()["claim_id"] if ok else ""
            except httpx.TransportError:
                return  # the server is gone
            if ok:
                acked[key] = time.monotonic()


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    totals = {"admin": 0, "verify": 0, "admin_lost": 0, "verify_lost": 0}
    worst_age = 0.0
    for run in range(RUNS):
        server = start_server(
            data_dir, tmp_path / f"run{run}.log", ADMIN_API_KEY=ADMIN_KEY, SEED_ON_EMPTY="true"
        )
        stop = threading.Event()
        admin: dict[str, float] = {}
        verified: dict[str, float] = {}
        writers = [
            threading.Thread(target=_writer, args=(server.url, stop, admin, True, f"run{run}")),
            threading.Thread(target=_writer, args=(server.url, stop, verified, False, f"run{run}")),
        ]
        for writer in writers:
            writer.start()
        time.sleep(3.0)
        os.kill(server.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        stop.set()
        for writer in writers:
            writer.join()
        server.process.wait()
        restarted = start_server(data_dir, tmp_path / f"restart{run}.log", ADMIN_API_KEY=ADMIN_KEY)
        try:
            with restarted.client() as http:
                lost_admin = [
                    text
                    for text in admin
                    if not http.post("/verify", json={"raw_text": text}).json()["cache_hit"]
                ]
                lost_verified = [cid for cid in verified if http.get(f"/claims/{cid}").status_code != 200]
        finally:
            restarted.stop()
        totals["admin"] += len(admin)
        totals["verify"] += len(verified)
        totals["admin_lost"] += len(lost_admin)
        totals["verify_lost"] += len(lost_verified)
        worst_age = max([worst_age, *(killed_at - verified[cid] for cid in lost_verified)])
    print(f"kill -9 x{RUNS}: {totals}, oldest lost /verify write {worst_age:.2f} s before the kill")
    assert totals["admin"] > 0 and totals["verify"] > 0
    assert totals["admin_lost"] == 0
    assert worst_age <= FLUSH_INTERVAL_S + 0.5

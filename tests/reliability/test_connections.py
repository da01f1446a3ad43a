"""Hostile connections against a real server: huge heads, slow and idle sockets, a full in-flight cap.

The server runs ``backend/api_server.py`` (uvicorn with :mod:`factmem.api.connections`), on loopback.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningServer, start_server
from faults import memory_cgroup, oom_kills, status_kb

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

READ_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 64


@pytest.fixture(scope="module")
def bounded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("connections")
    running = start_server(
        base / "data",
        base / "server.log",
        SEED_ON_EMPTY="true",
        REQUEST_READ_TIMEOUT_S=str(READ_TIMEOUT_S),
        MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        MAX_IN_FLIGHT_REQUESTS="3",
    )
    yield running
    running.stop()


def _address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _read_response(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return status, headers, body


def _send_huge_head(address: tuple[str, int], size: int) -> int:
    """Send a request whose one header line is ``size`` bytes; the status read back (0: reset first)."""
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * 65536
        with contextlib.suppress(OSError):  # the server closes once it has seen enough
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
        return _read_response(sock)[0]


def test_a_head_over_the_limit_gets_431_json(bounded_server: RunningServer) -> None:
    with socket.create_connection(_address(bounded_server)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        status, headers, body = _read_response(sock)
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert "16384 bytes" in json.loads(body)["detail"]
    with socket.create_connection(_address(bounded_server)) as sock:  # an over-long request line too
        sock.sendall(b"GET /health?" + b"q" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock)[0] == 431
    with bounded_server.client() as http:  # a head under the limit is served
        assert http.get("/health", headers={"X-Pad": "a" * 8_000}).status_code == 200


def test_slow_and_idle_sockets_lock_no_one_out_and_are_closed(bounded_server: RunningServer) -> None:
    """70 sockets dribbling their headers (more than the connection cap) while clients poll."""
    address = _address(bounded_server)
    slow = []
    for _ in range(70):
        sock = socket.create_connection(address)
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        slow.append(sock)
    stop = threading.Event()

    def dribble() -> None:
        while not stop.wait(0.3):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    statuses: list[tuple[str, int, str]] = []
    try:
        with bounded_server.client() as http:
            deadline = time.monotonic() + READ_TIMEOUT_S + 1.5
            while time.monotonic() < deadline:
                for method, path, body in (("GET", "/health", None), ("GET", "/ready", None)):
                    r = http.request(method, path, json=body)
                    statuses.append((path, r.status_code, r.headers.get("content-type", "")))
                r = http.post("/verify", json={"raw_text": "The Great Wall of China is visible from space"})
                statuses.append(("/verify", r.status_code, r.headers.get("content-type", "")))
                time.sleep(0.1)
    finally:
        stop.set()
        dribbler.join()
    print(
        f"70 slow sockets: {len(statuses)} requests answered, statuses {sorted({c for _, c, _ in statuses})}"
    )
    assert statuses and all(code == 200 for _, code, _ in statuses), statuses
    # every slow socket was answered 408 or closed (the cap evicts the oldest), none is still open
    outcomes = [_read_response(sock, timeout=READ_TIMEOUT_S + 3)[0] for sock in slow]
    for sock in slow:
        sock.close()
    print(
        f"slow sockets: {outcomes.count(408)} answered 408, {outcomes.count(0)} closed by the connection cap"
    )
    assert set(outcomes) <= {0, 408}, outcomes
    assert outcomes.count(408) >= 70 - MAX_CONNECTIONS


def test_the_in_flight_cap_answers_json_503_but_never_to_health(bounded_server: RunningServer) -> None:
    address = _address(bounded_server)
    held = []
    for _ in range(3):  # requests whose body never comes: in flight until the read timeout
        sock = socket.create_connection(address)
        sock.sendall(
            b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 40\r\n\r\n"
        )
        held.append(sock)
    time.sleep(0.3)
    try:
        with bounded_server.client() as http:
            busy = http.get("/stats")
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "5"
            assert set(busy.json()) == {"detail", "request_id"}
            for path in ("/health", "/ready", "/metrics"):
                assert http.get(path).status_code == 200, path
            time.sleep(READ_TIMEOUT_S + 0.5)  # the held requests time out and free their places
            assert http.get("/stats").status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_huge_heads_leave_rss_flat_inside_a_256_mb_cgroup(tmp_path: Path) -> None:
    """Six 32 MB header lines (which OOM-killed the unbounded server in 256 MB) change nothing."""
    with memory_cgroup(256) as group:
        server = start_server(tmp_path / "data", tmp_path / "server.log", cgroup=group, SEED_ON_EMPTY="true")
        try:
            pid = server.process.pid
            with server.client() as http:
                for _ in range(20):  # touch the serving paths so RSS has settled
                    http.get("/health")
                rss_before = status_kb(pid, "VmRSS")
                statuses = [_send_huge_head(_address(server), 32 * 1024 * 1024) for _ in range(6)]
                rss_after = status_kb(pid, "VmRSS")
                assert http.get("/health").status_code == 200
            print(f"6 x 32 MB heads in 256 MB: statuses {statuses}, RSS {rss_before} -> {rss_after} kB")
            assert server.process.poll() is None
            assert oom_kills(group) == 0
            assert set(statuses) <= {0, 431} and 431 in statuses, statuses
            assert rss_after - rss_before < 8 * 1024, (rss_before, rss_after)
        finally:
            server.stop()

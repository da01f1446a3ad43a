"""A load run: threads sending a plan over one pooled client, ``/health`` sampled from a thread of its own."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import httpx
from tqdm import tqdm

from factmem_bench.contract import classify, response_problem
from factmem_bench.memory_trend import HealthSample
from factmem_bench.mix import PlannedRequest
from factmem_bench.process_memory import read_process_memory

REQUEST_TIMEOUT_S = 30.0
HEALTH_TIMEOUT_S = 10.0


@dataclass
class RequestResult:
    """One row of ``requests.csv``; ``started_at`` is seconds since the run started."""

    index: int
    kind: str
    variant: str
    status: int | None
    latency_ms: float
    cache_hit: bool | None
    verdict: str | None
    started_at: float
    completed: int  # order of completion, 1-based: the x axis shared with health samples
    outcome: str
    detail: str


@dataclass
class LoadRun:
    """Sends the plan from ``concurrency`` threads over one pooled client, sampling ``/health`` from a
    separate thread so the load on ``/verify`` stays at exactly ``concurrency`` while memory is read.

    ``memory_pid``: a process on this machine whose ``/proc`` status gives the memory figures when
    ``/health`` does not report them (any server other than factmem).
    """

    client: httpx.Client
    url: str
    plan: Sequence[PlannedRequest]
    concurrency: int
    health_every: int
    deadline: float
    memory_pid: int | None = None
    results: list[RequestResult] = field(default_factory=list)
    samples: list[HealthSample] = field(default_factory=list)
    stopped_early: str | None = None
    duration_s: float = 0.0
    _next: int = 0
    _completed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _triggers: Queue[int | None] = field(default_factory=Queue)
    _t0: float = field(default_factory=time.monotonic)

    def sample_health(self) -> HealthSample:
        """One ``/health`` reading; never raises, a failure is a sample with status and no memory."""
        with self._lock:
            index = self._completed
        started = time.perf_counter()
        try:
            response = self.client.get(f"{self.url}/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError:
            response = None
        payload = json_or_none(response) if response is not None and response.status_code == 200 else None
        if isinstance(payload, dict):
            status = str(payload.get("status", "?"))
        else:
            payload, status = {}, "unreachable" if response is None else f"http-{response.status_code}"
        memory = {
            "rss_mb": number(payload.get("memory_mb")),
            "rss_anon_mb": number(payload.get("rss_anon_mb")),
            "peak_rss_mb": number(payload.get("peak_rss_mb")),
        }
        if memory["rss_mb"] is None and self.memory_pid is not None:
            from_proc = read_process_memory(self.memory_pid)
            memory = {
                "rss_mb": from_proc["rss_mb"],
                "rss_anon_mb": from_proc["rss_anon_mb"],
                "peak_rss_mb": from_proc["hwm_mb"],
            }
        sample = HealthSample(
            request_index=index,
            elapsed_s=round(time.monotonic() - self._t0, 3),
            **memory,
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        with self._lock:
            self.samples.append(sample)
        return sample

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or self._next >= len(self.plan):
                return None
            if time.monotonic() >= self.deadline:
                self.stopped_early = self.stopped_early or (
                    f"stopped at --max-seconds after {self._next} of {len(self.plan)} requests"
                )
                return None
            self._next += 1
            return self._next - 1

    def _send(self, planned: PlannedRequest) -> RequestResult:
        started_at = time.monotonic() - self._t0
        started = time.perf_counter()
        status: int | None = None
        cache_hit = verdict = None
        retry_after, body_problem = True, None
        try:
            response = self.client.post(
                f"{self.url}/verify", content=planned.body, headers={"content-type": "application/json"}
            )
            status = response.status_code
            retry_after = "retry-after" in response.headers
            if status == 200:
                payload = json_or_none(response)
                body_problem = response_problem(payload)
                if isinstance(payload, dict):
                    hit = payload.get("cache_hit")
                    cache_hit = hit if isinstance(hit, bool) else None
                    result = payload.get("verification_result")
                    verdict = result.get("verdict") if isinstance(result, dict) else None
        except httpx.HTTPError as exc:
            body_problem = f"{type(exc).__name__}: {exc}"
        latency_ms = (time.perf_counter() - started) * 1000
        outcome, detail = classify(planned.kind, status, retry_after=retry_after, body_problem=body_problem)
        if status is None:
            detail = body_problem or detail
        return RequestResult(
            index=planned.index,
            kind=planned.kind,
            variant=planned.variant,
            status=status,
            latency_ms=round(latency_ms, 2),
            cache_hit=cache_hit,
            verdict=verdict,
            started_at=round(started_at, 3),
            completed=0,
            outcome=outcome,
            detail=detail,
        )

    def _finish(self, result: RequestResult, bar: tqdm) -> None:
        with self._lock:
            self._completed += 1
            result.completed = self._completed
            self.results.append(result)
            due = self._completed % self.health_every == 0 and self._completed < len(self.plan)
        if due:
            self._triggers.put(self._completed)
        bar.update(1)

    def _worker(self, bar: tqdm) -> None:
        try:
            while (index := self._take()) is not None:
                self._finish(self._send(self.plan[index]), bar)
        except Exception as exc:  # a bug here must end the run visibly, not leave requests unsent
            self._stop.set()
            self.stopped_early = f"load thread crashed: {type(exc).__name__}: {exc}"

    def _monitor(self, bar: tqdm) -> None:
        while self._triggers.get() is not None:
            sample = self.sample_health()
            if sample.rss_mb is not None:
                bar.set_postfix_str(f"rss {sample.rss_mb:.0f} MB", refresh=False)

    def run(self) -> None:
        """Send everything (or until the deadline or Ctrl-C), with a health sample at start and end."""
        self._t0 = time.monotonic()
        self.sample_health()
        bar = tqdm(total=len(self.plan), unit="req", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
        threads = [
            threading.Thread(target=self._worker, args=(bar,), daemon=True) for _ in range(self.concurrency)
        ]
        monitor = threading.Thread(target=self._monitor, args=(bar,), daemon=True)
        for thread in [*threads, monitor]:
            thread.start()
        try:
            _join(threads)
        except KeyboardInterrupt:
            self._stop.set()
            self.stopped_early = f"interrupted by the user after {self._next} of {len(self.plan)} requests"
            print("\nstopping: waiting for requests in flight (Ctrl-C again to abort) ...", file=sys.stderr)
            _join(threads)
        finally:
            bar.close()
        self._triggers.put(None)
        _join([monitor])
        self.duration_s = time.monotonic() - self._t0
        self.sample_health()
        self.results.sort(key=lambda r: r.index)
        self.samples.sort(key=lambda s: (s.request_index, s.elapsed_s))


def _join(threads: Sequence[threading.Thread]) -> None:
    # join with a timeout so the main thread keeps receiving KeyboardInterrupt
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)


def number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

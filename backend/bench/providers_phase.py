"""The providers phase: factmem with a loopback LLM and web search that each answer after a delay (2 s).

What it shows, on the memory the other phases built (a copy, so their numbers are untouched):

- **bursts of misses**: 64 never-seen claims sent at once (``Counts.burst_misses``). Each waits on the
  search, then the LLM (and, for a text with a conjunction, an LLM split first), holding no CPU slot
  meanwhile, so a burst should take about one claim's provider time, not ``misses × delay / slots``;
- **cache hits meanwhile**: one client sends seed claims back to back during each burst; their latency is
  compared with the same client's before any burst;
- **``/health`` meanwhile**: polled every ``HEALTH_POLL_S``, compared the same way (with a quiet window
  before the first burst);
- **memory**: the same requests (the quiet window, then the bursts) are sent to a second server without
  providers on another copy of the memory; RSS and anonymous RSS of both, settled, are compared.
"""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from factmem_bench.driving import pcts
from factmem_bench.mix import new_claim
from factmem_bench.phases import Context, factmem_env, measured_server, settle
from factmem_bench.server import FACTMEM_SERVER, launch
from factmem_bench.stats import latency_stats

PROVIDER_SERVER = (sys.executable, "-m", "factmem_bench.provider_servers")
HEALTH_POLL_S = 0.05
REQUEST_TIMEOUT_S = 60.0


def phase_providers(ctx: Context) -> None:
    """Phase 8: remote providers on loopback; the local path on the same requests, for memory."""
    c = ctx.counts
    section: dict[str, Any] = {
        "provider_delay_s": c.provider_delay_s,
        "burst_misses": c.burst_misses,
        "bursts": c.provider_bursts,
        "note": "LLM and SearXNG scripted on loopback, each answering after the delay; a miss asks the "
        "search, then the LLM (and first the LLM for a split when its text has a conjunction).",
    }
    ctx.report["providers"] = section
    command = (*PROVIDER_SERVER, "--delay", str(c.provider_delay_s))
    provider = launch(command, log_path=ctx.out_dir / "providers.log", name="providers")
    try:
        provider.wait_until("up", timeout_s=30)
        with_providers = {
            "LLM_BASE_URL": f"{provider.url}/v1",
            "LLM_MODEL": "scripted-bench-model",
            "WEB_SEARCH_PROVIDER": "searxng",
            "WEB_SEARCH_URL": f"{provider.url}/searxng",
        }
        section["with_providers"] = _measure(ctx, "providers", with_providers)
        section["local"] = _measure(ctx, "local", {})
    finally:
        provider.stop()
    mine, local = section["with_providers"]["settled"], section["local"]["settled"]
    section["rss_above_local_mb"] = _diff(mine.get("rss_mb"), local.get("rss_mb"))
    section["rss_anon_above_local_mb"] = _diff(mine.get("rss_anon_mb"), local.get("rss_anon_mb"))


def burst_texts(seed: int, burst: int, misses: int) -> list[str]:
    """Never-seen claims, the same for both servers (the seed does not depend on the server)."""
    return [new_claim(random.Random(f"providers:{seed}:{burst}:{i}")) for i in range(misses)]


def _measure(ctx: Context, name: str, extra_env: dict[str, str]) -> dict[str, Any]:
    c = ctx.counts
    data_dir = ctx.work_dir / f"data-{name}"
    shutil.copytree(ctx.work_dir / "data-10k", data_dir, symlinks=True)
    limits = httpx.Limits(max_connections=c.burst_misses + 8)
    result: dict[str, Any] = {"bursts": []}
    try:
        with (
            measured_server(
                f"factmem-{name}",
                FACTMEM_SERVER,
                factmem_env(data_dir) | extra_env,
                ctx.out_dir / f"server-{name}.log",
                timeout_s=min(300.0, ctx.remaining_s()),
            ) as (server, _),
            httpx.Client(timeout=REQUEST_TIMEOUT_S, limits=limits) as client,
        ):
            hits = ctx.seed_claims[:50]
            result["quiet"] = _window(client, server.url, hits, lambda: time.sleep(c.provider_quiet_s))
            for number in range(c.provider_bursts):
                burst: dict[str, Any] = {}
                texts = burst_texts(ctx.seed, number, c.burst_misses)

                def send_burst(into: dict[str, Any] = burst, texts: list[str] = texts) -> None:
                    into.update(_burst(client, server.url, texts))

                window = _window(client, server.url, hits, send_burst)
                result["bursts"].append(burst | {"meanwhile": window})
                print(f"[providers:{name}] burst {number + 1}: {_burst_line(burst, window)}", file=sys.stderr)
            result["settled"] = settle(server, client)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _burst(client: httpx.Client, url: str, texts: Sequence[str]) -> dict[str, Any]:
    """All ``texts`` at once (one thread each); the wall time from the first send to the last answer."""

    def send(text: str) -> tuple[int | None, float, dict[str, Any]]:
        started = time.perf_counter()
        try:
            response = client.post(f"{url}/verify", json={"raw_text": text})
        except httpx.HTTPError:
            return None, (time.perf_counter() - started) * 1000, {}
        elapsed = (time.perf_counter() - started) * 1000
        is_json = response.headers.get("content-type", "").startswith("application/json")
        return response.status_code, elapsed, response.json() if is_json else {}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        answers = list(pool.map(send, texts))
    wall = time.perf_counter() - started
    results = [body.get("verification_result") or {} for _, _, body in answers]
    return {
        "wall_s": round(wall, 2),
        "statuses": dict(Counter(str(status) for status, _, _ in answers)),
        "latency_ms": latency_stats([ms for status, ms, _ in answers if status == 200]),
        "verdict_by": dict(Counter(r.get("verdict_by", "none") for r in results)),
        "fallbacks": sum(bool(r.get("fallback_reason")) for r in results),
    }


def _window(
    client: httpx.Client, url: str, hit_claims: Sequence[str], during: Callable[[], None]
) -> dict[str, Any]:
    """Cache hits back to back and ``/health`` polls while ``during`` runs."""
    done = threading.Event()
    hits: list[float] = []
    hit_statuses: Counter[str] = Counter()
    health: list[float] = []

    def hit_loop() -> None:
        number = 0
        while not done.is_set():
            claim = hit_claims[number % len(hit_claims)]
            started = time.perf_counter()
            try:
                response = client.post(f"{url}/verify", json={"raw_text": claim})
            except httpx.HTTPError:
                hit_statuses["transport_error"] += 1
            else:
                hit_statuses[str(response.status_code)] += 1
                if response.status_code == 200 and response.json().get("cache_hit"):
                    hits.append((time.perf_counter() - started) * 1000)
            number += 1

    def health_loop() -> None:
        while not done.is_set():
            started = time.perf_counter()
            try:
                if client.get(f"{url}/health").status_code == 200:
                    health.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                pass
            time.sleep(HEALTH_POLL_S)

    threads = [threading.Thread(target=hit_loop), threading.Thread(target=health_loop)]
    for thread in threads:
        thread.start()
    try:
        during()
    finally:
        done.set()
        for thread in threads:
            thread.join()
    return {"cache_hit_ms": latency_stats(hits) | {"statuses": dict(hit_statuses)}, "health_ms": pcts(health)}


def _burst_line(burst: dict[str, Any], window: dict[str, Any]) -> str:
    hits, health = window["cache_hit_ms"], window["health_ms"]
    return (
        f"{sum(int(n) for n in burst['statuses'].values())} misses answered in {burst['wall_s']} s "
        f"(statuses {burst['statuses']}, verdicts by {burst['verdict_by']}); cache hits meanwhile p50/p95 "
        f"{hits['p50']}/{hits['p95']} ms ({hits['statuses']}); /health p99 {health['p99']} ms"
    )


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 1)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The phase's lines in the printed summary."""
    section = report.get("providers")
    if not section or "local" not in section:
        return []
    mine, local = section["with_providers"], section["local"]
    indent = " " * 17
    quiet = mine["quiet"]
    lines = [
        f"  providers      loopback LLM + SearXNG answering in {section['provider_delay_s']:g} s each, "
        f"bursts of {section['burst_misses']} concurrent misses",
        f"{indent}before the bursts: cache hits p50/p95 {quiet['cache_hit_ms']['p50']}/"
        f"{quiet['cache_hit_ms']['p95']} ms, /health p99 {quiet['health_ms']['p99']} ms",
    ]
    lines += [
        f"{indent}burst {n}: {_burst_line(b, b['meanwhile'])}" for n, b in enumerate(mine["bursts"], start=1)
    ]
    lines.append(
        f"{indent}settled RSS / anon with providers {_mb(mine['settled'])}, "
        f"local path {_mb(local['settled'])} "
        f"(+{section['rss_above_local_mb']} / +{section['rss_anon_above_local_mb']} MB)"
    )
    return lines


def _mb(reading: dict[str, Any]) -> str:
    return f"{reading.get('rss_mb')} / {reading.get('rss_anon_mb')} MB"

"""Prometheus metrics of one factmem process: memory, requests, sheds, cleanups and the memory's size.

One ``Metrics`` object per app run owns a ``CollectorRegistry`` of its own (never the global default), so
several apps can live side by side in one test process. Values that change on their own (memory, store
sizes, readiness) are read when Prometheus scrapes, by custom collectors; events (requests, sheds,
cleanups) are counted as they happen. ``Metrics`` is also the observer of the memory guard and admission.

Like prometheus_client's ``ProcessCollector``, the collectors take their data sources as arguments
(``proc``, ``cgroup_root``, the service) and never fail a scrape: a value that cannot be read is left out,
so Prometheus sees the series disappear instead of the whole scrape failing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from factmem import __version__
from factmem.admission import REFUSAL_REASONS
from factmem.memory.guard import CLEANUP_REASONS
from factmem.memory.readings import MemoryUsage, get_memory_usage
from factmem.outbound import Outbound
from factmem.outbound.usage import LATENCY_BUCKETS_S, ProviderUsage
from factmem.store.base import ClaimStore

__all__ = [
    "HTTP_DURATION_BUCKETS",
    "MemoryCollector",
    "Metrics",
    "ProviderCollector",
    "ServiceCollector",
    "ServiceView",
]

logger = logging.getLogger(__name__)

_MB = 1024 * 1024

#: Request latency buckets, in seconds: a cache hit takes milliseconds, a cold miss up to seconds.
HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceView(Protocol):
    """What the service collector reads from the service (``factmem.api.service.Service``)."""

    ready: threading.Event
    startup_error: str | None
    model_load_seconds: float | None
    claim_store: ClaimStore | None
    evidence_store: ClaimStore | None
    outbound: Outbound | None


class MemoryCollector:
    """The process's and its container's memory, read from ``/proc`` and the cgroup at each scrape."""

    def __init__(
        self, limit_mb: float | None, *, proc: str = "/proc", cgroup_root: str = "/sys/fs/cgroup"
    ) -> None:
        self.limit_mb = limit_mb
        self.proc = proc
        self.cgroup_root = cgroup_root

    def collect(self) -> Iterator[Metric]:
        try:
            usage = get_memory_usage(self.limit_mb, proc=self.proc, cgroup_root=self.cgroup_root)
        except Exception:  # get_memory_usage never raises; a scrape must not fail if it ever does
            logger.warning("metrics: reading memory usage failed", exc_info=True)
            return
        yield from _memory_families(usage)


def _memory_families(usage: MemoryUsage) -> Iterator[Metric]:
    gauges: tuple[tuple[str, str, float | None], ...] = (
        # rss_mb is 0.0 when /proc is unreadable; a live process always has some, so 0 means unknown.
        ("factmem_memory_rss_bytes", "Resident set size (VmRSS).", usage.rss_mb or None),
        (
            "factmem_memory_rss_anon_bytes",
            "Anonymous resident memory (RssAnon): what the container's OOM killer counts.",
            usage.rss_anon_mb,
        ),
        (
            "factmem_memory_rss_file_bytes",
            "File-backed resident memory (RssFile + RssShmem), e.g. the vector store's mmap; droppable.",
            usage.rss_file_mb,
        ),
        ("factmem_memory_peak_rss_bytes", "Peak resident set size (VmHWM).", usage.peak_rss_mb),
        (
            "factmem_container_memory_usage_bytes",
            "The container's memory use (cgroup memory.current / memory.usage_in_bytes).",
            usage.container_usage_mb,
        ),
        (
            "factmem_container_memory_working_set_bytes",
            "The container's usage less inactive page cache (memory.stat inactive_file), under a limit.",
            usage.container_working_set_mb,
        ),
    )
    for name, documentation, mb in gauges:
        if mb is not None:
            yield GaugeMetricFamily(name, documentation, value=mb * _MB)
    if usage.limit_mb is not None:
        limit = GaugeMetricFamily(
            "factmem_memory_limit_bytes",
            "The memory limit the service sheds load against; source: setting, cgroup_v2 or cgroup_v1.",
            labels=["source"],
        )
        limit.add_metric([usage.limit_source], usage.limit_mb * _MB)
        yield limit
    if usage.oom_kill_events is not None:
        yield CounterMetricFamily(
            "factmem_container_oom_kills",
            "Processes the kernel OOM-killed in this container (cgroup memory.events oom_kill).",
            value=usage.oom_kill_events,
        )


class ServiceCollector:
    """Readiness, model load time and the size of the memory, read from the service at each scrape."""

    def __init__(self, service: ServiceView) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        ready = service.ready.is_set() and service.startup_error is None
        yield GaugeMetricFamily(
            "factmem_ready",
            "1 once the model and the stores are loaded (warm-up done), else 0.",
            value=int(ready),
        )
        if service.model_load_seconds is not None:
            yield GaugeMetricFamily(
                "factmem_model_load_seconds",
                "Time the warm-up took to load the embedding model and build the agents.",
                value=service.model_load_seconds,
            )
        counts = (
            ("factmem_claims_in_memory", "Verified claims in the claim memory.", service.claim_store),
            ("factmem_evidence_passages", "Passages in the evidence collection.", service.evidence_store),
        )
        for name, documentation, store in counts:
            count = _count(store)
            if count is not None:
                yield GaugeMetricFamily(name, documentation, value=count)
        yield from _storage_families(service)


def _storage_families(service: ServiceView) -> Iterator[Metric]:
    """Whether each store takes writes, its disk's free space and reserve, its failed flushes in a row."""
    families = {
        "writable": GaugeMetricFamily(
            "factmem_store_writable",
            "1 while the store takes writes; 0 when its disk is below the reserve or its flushes fail.",
            labels=["collection"],
        ),
        "disk_free_bytes": GaugeMetricFamily(
            "factmem_disk_free_bytes", "Free space of the store's filesystem.", labels=["collection"]
        ),
        "disk_headroom_bytes": GaugeMetricFamily(
            "factmem_disk_headroom_bytes",
            "Free space minus the holes the store's sparse files may still fill: what writes can use.",
            labels=["collection"],
        ),
        "disk_reserve_bytes": GaugeMetricFamily(
            "factmem_disk_reserve_bytes", "DISK_RESERVE_MB: headroom writes need.", labels=["collection"]
        ),
        "flush_failures": GaugeMetricFamily(
            "factmem_store_flush_failures",
            "Flushes that failed in a row (0 once one succeeds).",
            labels=["collection"],
        ),
    }
    for store in (service.claim_store, service.evidence_store):
        if store is None:
            continue
        status = store.storage_status()
        values = {
            "writable": int(status.writable),
            "disk_free_bytes": status.disk_free_bytes,
            "disk_headroom_bytes": status.disk_headroom_bytes,
            "disk_reserve_bytes": status.disk_reserve_bytes,
            "flush_failures": status.flush_failures,
        }
        for key, value in values.items():
            if value is not None:
                families[key].add_metric([store.name], value)
    yield from families.values()


class ProviderCollector:
    """Calls, tokens, cost and latency of the remote providers (LLM, web search), from their usage totals."""

    def __init__(self, usage: ProviderUsage) -> None:
        self.usage = usage

    def collect(self) -> Iterator[Metric]:
        totals = self.usage.snapshot()
        calls = CounterMetricFamily(
            "factmem_provider_requests",
            "Calls to remote providers (retries of one call included), by provider and outcome "
            "(ok, invalid answer, error, cached).",
            labels=["provider", "outcome"],
        )
        tokens = CounterMetricFamily(
            "factmem_provider_tokens", "LLM tokens billed, by provider and kind.", labels=["provider", "kind"]
        )
        cost = CounterMetricFamily(
            "factmem_provider_cost_usd",
            "Money spent on remote providers at the operator's prices (LLM_PRICE_*, WEB_SEARCH_PRICE_*).",
            labels=["provider"],
        )
        today = GaugeMetricFamily(
            "factmem_provider_spent_today_usd", "Money spent since 00:00 UTC.", labels=["provider"]
        )
        latency = HistogramMetricFamily(
            "factmem_provider_request_duration_seconds",
            "Time of one provider call, retries and waits included.",
            labels=["provider"],
        )
        for provider, total in sorted(totals.items()):
            for outcome, count in sorted(total.calls.items()):
                calls.add_metric([provider, outcome], count)
            tokens.add_metric([provider, "input"], total.input_tokens)
            tokens.add_metric([provider, "output"], total.output_tokens)
            cost.add_metric([provider], total.cost_usd)
            today.add_metric([provider], self.usage.spent_today_usd(provider))
            cumulative, buckets = 0, []
            for bound, count in zip(
                (*map(str, LATENCY_BUCKETS_S), "+Inf"), total.latency_bucket_counts, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([provider], buckets, total.latency_sum_s)
        yield from (calls, tokens, cost, today, latency)


def _count(store: ClaimStore | None) -> int | None:
    if store is None:
        return None
    try:
        return store.count()
    except Exception as exc:  # a closed or failing store leaves the series out, never fails the scrape
        logger.warning("metrics: counting %s failed: %s: %s", store.name, type(exc).__name__, exc)
        return None


class Metrics:
    """The registry and every factmem metric; the observer of the memory guard and admission.

    Args:
        memory_limit_mb: The ``MEMORY_LIMIT_MB`` setting, passed to ``get_memory_usage`` at each scrape.
        store_backend: ``"qdrant-edge"`` or ``"qdrant-server"``, for ``factmem_build_info``.
        registry: Where to register; a fresh ``CollectorRegistry`` by default (never the global one).
        proc: Root of the proc filesystem, for the process and memory collectors.
        cgroup_root: Mount point of the cgroup filesystem, for the memory collector.
    """

    def __init__(
        self,
        *,
        memory_limit_mb: float | None,
        store_backend: str,
        registry: CollectorRegistry | None = None,
        proc: str = "/proc",
        cgroup_root: str = "/sys/fs/cgroup",
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store_backend = store_backend
        ProcessCollector(proc=proc, registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(MemoryCollector(memory_limit_mb, proc=proc, cgroup_root=cgroup_root))
        self._service_collector: ServiceCollector | None = None

        Info("factmem_build", "Version and store backend of this process.", registry=self.registry).info(
            {"version": __version__, "store_backend": store_backend}
        )
        self.http_requests = Counter(
            "factmem_http_requests",
            "HTTP requests answered, by route template, method, status and outcome.",
            ["route", "method", "status", "outcome"],
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "factmem_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response.",
            ["route", "outcome"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.cleanups = Counter(
            "factmem_memory_cleanups",
            "Memory cleanups (gc.collect + malloc_trim; file pages at ready and under pressure), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.released_bytes = Counter(
            "factmem_memory_released_bytes",
            "Resident memory handed back to the OS by cleanups.",
            registry=self.registry,
        )
        self.requests_shed = Counter(
            "factmem_requests_shed",
            "Requests refused with 503 to protect the process, by reason.",
            ["reason"],
            registry=self.registry,
        )
        # label values created at zero, so ``rate()`` works from the first scrape
        for reason in CLEANUP_REASONS:
            self.cleanups.labels(reason)
        for reason in REFUSAL_REASONS:
            self.requests_shed.labels(reason)

    def watch(self, service: ServiceView) -> None:
        """Report the service's readiness, model load time and store sizes (once per ``Metrics``)."""
        if self._service_collector is not None:
            raise ValueError("Metrics already watch a service")
        self._service_collector = ServiceCollector(service)
        self.registry.register(self._service_collector)
        if service.outbound is not None:
            self.registry.register(ProviderCollector(service.outbound.usage))

    # --- events ---

    def observe_request(self, route: str, method: str, status: int, outcome: str, seconds: float) -> None:
        self.http_requests.labels(route, method, str(status), outcome).inc()
        self.http_request_duration.labels(route, outcome).observe(seconds)

    def memory_cleaned(self, reason: str, released_bytes: int) -> None:
        """``CleanupObserver``: one cleanup ran."""
        self.cleanups.labels(reason).inc()
        self.released_bytes.inc(max(0, released_bytes))

    def request_shed(self, reason: str) -> None:
        """``RefusalObserver``: one request was refused."""
        self.requests_shed.labels(reason).inc()

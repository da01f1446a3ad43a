"""The service object behind the routes: settings, stores, pipeline, readiness, memory guard and admission.

Created once in the app's lifespan and kept on ``app.state``. The slow part of startup (loading the model,
seeding an empty memory, building the vector index) runs in a background thread, so ``/health`` answers at
once while ``/ready`` says 503 until it is done.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from factmem.admission import Admission, RefusalObserver
from factmem.cpu_slots import CpuSlots
from factmem.embeddings import MINILM_INT8, get_shared_embedding_model, is_embedding_model_loaded
from factmem.errors import StoreCorruptError, StoreError, StoreUnavailableError
from factmem.ingest import seed_if_empty
from factmem.logging_setup import redact_url
from factmem.memory.guard import CleanupObserver, GuardPolicy, MemoryGuard
from factmem.memory.readings import get_memory_usage
from factmem.outbound import Outbound
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store import ClaimStore, open_store
from factmem.store.base import INDEXING_THRESHOLD_POINTS
from factmem.store.durability import StorageStatus
from factmem.verifier import Verifier

logger = logging.getLogger(__name__)

#: Build the HNSW index at startup only when this many points are searched by brute force (the store's own
#: optimizer threshold: below it, a build would do nothing).
INDEX_BUILD_MIN_UNINDEXED = INDEXING_THRESHOLD_POINTS


class ServiceObserver(CleanupObserver, RefusalObserver, Protocol):
    """Told about cleanups and refused requests (the Prometheus metrics)."""


class Service:
    def __init__(
        self, settings: Settings, observer: ServiceObserver | None = None, outbound: Outbound | None = None
    ) -> None:
        self.settings = settings
        #: The shared HTTP client and the providers' usage totals (tokens, cost, latency) when an LLM or web
        #: search is configured; ``outbound.usage.spent_today_usd()`` is what a spend cap reads.
        self.outbound = outbound
        self.started_at = time.monotonic()
        self.ready = threading.Event()
        self.startup_error: str | None = None
        self.model_load_seconds: float | None = None
        self.claim_store: ClaimStore | None = None
        self.evidence_store: ClaimStore | None = None
        self.pipeline: VerificationPipeline | None = None
        self.guard = MemoryGuard(GuardPolicy.from_settings(settings), observer=observer)
        self.admission = Admission(
            self.guard,
            #: CPU work of verifications (model, store, JSON); waiting on a remote provider holds none.
            CpuSlots(settings.cpu_slots),
            retry_after_s=settings.retry_after_s,
            observer=observer,
            max_queued=settings.max_queued_requests,
            max_queue_wait_s=settings.max_queue_wait_s,
        )
        self.verifier: Verifier | None = None
        self._warmup: threading.Thread | None = None
        #: called from the warm-up thread when it fails (the server exits; in-process tests keep None)
        self.on_startup_failure: Callable[[str], None] | None = None

    def open(self) -> None:
        """Open the stores (fast) and start the slow warm-up in the background."""
        s = self.settings
        usage = get_memory_usage(s.memory_limit_mb)  # the limit in force: a stricter cgroup beats the setting
        logger.info(
            "starting store=%s data_dir=%s qdrant_url=%s memory_limit_mb=%s limit_source=%s "
            "memory_limit_setting_mb=%s container_limit_mb=%s",
            "qdrant-server" if s.uses_remote_qdrant else "qdrant-edge",
            s.data_dir,
            redact_url(s.qdrant_url),
            usage.limit_mb,
            usage.limit_source,
            s.memory_limit_mb,
            usage.container_limit_mb,
        )
        self.claim_store = open_store(s, s.claims_collection, MINILM_INT8.dim)
        self.evidence_store = open_store(s, s.evidence_collection, MINILM_INT8.dim)
        self._refuse_a_disk_below_its_reserve()
        self._refuse_a_damaged_store()
        self.pipeline = VerificationPipeline(
            s,
            self.claim_store,
            self.evidence_store,
            lambda: get_shared_embedding_model(s),
            outbound=self.outbound,
        )
        self.verifier = Verifier(self.pipeline, self.admission)
        self._warmup = threading.Thread(target=self._warm_up, name="factmem-warmup", daemon=True)
        self._warmup.start()

    def _refuse_a_damaged_store(self) -> None:
        """A torn or unreadable store is not served: the process exits with what is wrong and how to
        recover (a store loaded silently with half its claims, or answering every request with a 500, is
        worse than one that says so)."""
        for store in (self.claim_store, self.evidence_store):
            if store is None:
                continue
            try:
                store.check_integrity()
            except StoreCorruptError as exc:
                logger.error("refusing to start: %s", exc)
                self.close()
                raise

    def _refuse_a_disk_below_its_reserve(self) -> None:
        """Startup on a disk too full to write (the first write would kill the process with SIGBUS) stops
        here, with the reason, instead of crashing later with no log line."""
        status = self.storage_status(fresh=True)
        if status.writable:
            return
        logger.error("refusing to start: %s", status.reason)
        self.close()
        raise StoreUnavailableError(f"refusing to start: {status.reason}", disk_full=True)

    def storage_status(self, *, fresh: bool = False) -> StorageStatus:
        """The stores' write status: the first one refusing writes, else the claim memory's."""
        statuses = [
            store.storage_status(fresh=fresh)
            for store in (self.claim_store, self.evidence_store)
            if store is not None
        ]
        refusing = [status for status in statuses if not status.writable]
        return (refusing or statuses or [StorageStatus(writable=True)])[0]

    def _warm_up(self) -> None:
        assert self.pipeline is not None and self.claim_store is not None
        try:
            # First, before the model is loaded: the child process's memory then never adds to the model's.
            self._build_index_if_behind(self.claim_store)
            started = time.perf_counter()
            self.pipeline.warm_up()
            self.pipeline.check_stored_vectors()
            self.model_load_seconds = time.perf_counter() - started
            if self.settings.seed_on_empty:
                seed_if_empty(self.pipeline, self.settings.seed_file)
            # Everything alive now (modules, model, agents) lives as long as the process. Freezing it takes
            # it out of the collector's sight, so a full gc.collect() no longer walks it holding the GIL
            # (what /health waited behind, every MEMORY_CLEANUP_EVERY requests).
            gc.collect()
            gc.freeze()
            if self.settings.memory_release_file_pages:
                # Loading ran code and read store pages that serving will not touch again; what serving
                # needs faults back in, so RSS from here on is the working set (factmem.memory.file_pages).
                self.guard.cleanup("ready", release_file_pages=True)
            self.ready.set()
            logger.info(
                "ready model_load_s=%.2f claims=%d", self.model_load_seconds, self.claim_store.count()
            )
        except Exception as exc:
            self.startup_error = f"{type(exc).__name__}: {exc}"
            logger.exception("warm-up failed: %s", self.startup_error)
            if self.on_startup_failure is not None:
                # A server that can never become ready must not answer /health for ever: exit non-zero so
                # the platform restarts it (and shows this log line).
                self.on_startup_failure(self.startup_error)

    @staticmethod
    def _build_index_if_behind(store: ClaimStore) -> None:
        """Index an embedded store whose brute-force part has grown large (only the server's restarts and
        bulk writes get it there), in a child process: ``/health`` keeps answering meanwhile."""
        unindexed = store.unindexed_points()  # always 0 on a Qdrant server: it indexes by itself
        if unindexed < INDEX_BUILD_MIN_UNINDEXED:
            return
        started = time.perf_counter()
        logger.info("building vector index unindexed_points=%d (child process, before ready)", unindexed)
        try:
            changed = store.build_index_out_of_process()
        except StoreError:
            # Serving without the index is slower, not wrong: every point is still searched.
            logger.exception("vector index build failed; serving with brute-force search")
            return
        logger.info(
            "vector index built seconds=%.1f changed=%s unindexed_points=%d",
            time.perf_counter() - started,
            changed,
            store.unindexed_points(),
        )

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.ready.wait(timeout)

    @property
    def model_loaded(self) -> bool:
        return is_embedding_model_loaded()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at

    def close(self) -> None:
        if self._warmup is not None:
            # A warm-up still loading the model is a daemon thread: do not hold a SIGTERM hostage to it.
            self._warmup.join(timeout=5)
        for store in (self.claim_store, self.evidence_store):
            if store is not None:
                try:
                    store.close()
                except Exception:
                    logger.exception("closing store failed")

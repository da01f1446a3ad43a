"""The server's driver of the pipeline: CPU stages in worker threads holding a CPU slot, remote calls awaited.

``VerificationPipeline.verify`` runs the stages one after the other in the calling thread (the CLI, the
evaluation scripts and the tests use it). The server drives the same stage methods from the event loop so
that a verification holds one of the ``MAX_CONCURRENT_REQUESTS`` CPU slots only while it computes:

1. **recall** (worker thread, once admission let the request in: 503 + Retry-After otherwise, before any
   work): normalize, search the memory, local evidence. A cache hit, or any claim when no provider is
   configured, is judged and stored in the same step: one thread hop, as before providers existed.
2. **providers** (event loop, no slot): the LLM judges the claim. At most ``MAX_OUTBOUND_WAITING`` requests
   wait here at once (503 beyond: each holds its claim, matches and passages in memory); all of it within
   ``VERIFY_TIME_BUDGET_S``. A provider that fails, answers unusably or runs out of time leaves the verdict
   to the local reasoner, and the response says why.
3. **remember** (worker thread, queued for a slot: the outbound work is paid for, so it waits its turn
   rather than being shed): judge locally where no provider answered, store, write the response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from factmem.agents.base import AgentTimings
from factmem.errors import ProviderError
from factmem.outbound.deadline import Deadline
from factmem.outbound.usage import CallLog
from factmem.pipeline import ClaimCheck, Verification, VerificationPipeline
from factmem.settings import Settings

if TYPE_CHECKING:
    from factmem.admission import Admission

T = TypeVar("T")


@dataclass(frozen=True)
class _Rendered(Generic[T]):
    """The response, when the first CPU stage could finish the whole verification."""

    body: T


class Verifier:
    """Verifies claims for the API; one per process, shared by all requests (used from the event loop)."""

    def __init__(self, pipeline: VerificationPipeline, admission: Admission) -> None:
        self.pipeline = pipeline
        self.admission = admission
        self._waiting_on_providers = 0

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    @property
    def waiting_on_providers(self) -> int:
        """Requests awaiting a remote provider right now."""
        return self._waiting_on_providers

    async def verify(self, raw_text: str, *, render: Callable[[Verification], T]) -> T:
        """Verify ``raw_text``; ``render`` turns the outcome into the response in the last CPU stage.

        Args:
            raw_text: The text as the user sent it.
            render: Builds what the caller returns (the JSON body) while the slot is still held, so the
                event loop never serializes a response.
        """
        reasoner = self.pipeline.llm_reasoner
        usage = self.pipeline.outbound.usage if self.pipeline.outbound is not None else None

        def recall() -> _Rendered[T] | ClaimCheck:
            timings = AgentTimings()
            claim = self.pipeline.normalize(raw_text, timings)
            check = self.pipeline.recall(claim, timings=timings)
            if check.cache_hit or reasoner is None:
                self.pipeline.judge(check)
                return _Rendered(render(self.pipeline.remember(check)))
            check.calls = CallLog(usage)
            return check

        recalled = await self.admission.run_new_verification(recall)
        if isinstance(recalled, _Rendered):
            return recalled.body
        check = recalled

        if self._waiting_on_providers >= self.settings.max_outbound_waiting:
            raise self.admission.refuse(
                "providers_busy", "too many verifications are waiting on the LLM or web search"
            )
        self._waiting_on_providers += 1
        try:
            await self._consult_providers(check)
        finally:
            self._waiting_on_providers -= 1

        def remember() -> T:
            if check.result is None:
                self.pipeline.judge(check)
            return render(self.pipeline.remember(check))

        return await self.admission.run_returning_verification(remember)

    async def _consult_providers(self, check: ClaimCheck) -> None:
        """Ask the LLM for the claim's verdict within the time budget; on failure say why, set no verdict."""
        reasoner = self.pipeline.llm_reasoner
        assert reasoner is not None
        budget = self.settings.verify_time_budget_s
        deadline = Deadline(budget)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                check.result = await reasoner.reason(
                    check.claim,
                    check.retrieval,
                    check.evidence,
                    today=check.now.date(),
                    deadline=deadline,
                    log=check.calls,
                )
        except ProviderError as exc:
            check.fallback_reason = str(exc)
        except TimeoutError:
            check.fallback_reason = f"the LLM gave no answer within the {budget:g} s time budget"
        finally:
            check.timings.record("llm", (time.perf_counter() - started) * 1000.0)

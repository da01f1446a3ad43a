"""The server's driver of the pipeline: CPU stages in worker threads holding a CPU slot, remote calls awaited.

``VerificationPipeline.verify`` runs the stages one after the other in the calling thread (the CLI, the
evaluation scripts and the tests use it). The server drives the same stage methods from the event loop so
that a verification holds one of the ``MAX_CONCURRENT_REQUESTS`` CPU slots only while it computes:

1. **recall** (worker thread, once admission let the request in: 503 + Retry-After otherwise, before any
   work): normalize, search the memory, local evidence. A cache hit, or any claim when no provider is
   configured, is judged and stored in the same step: one thread hop, as before providers existed.
2. **providers** (event loop, no slot): web search, then the LLM judges the claim with what was found. At
   most ``MAX_OUTBOUND_WAITING`` requests wait here at once (503 beyond: each holds its claim, matches and
   passages in memory); all of it within ``VERIFY_TIME_BUDGET_S``. A provider that fails, answers unusably
   or runs out of time leaves its part to the local reasoner, and the response says why.
3. **remember** (worker thread, queued for a slot: the outbound work is paid for, so it waits its turn
   rather than being shed): judge locally where no provider answered, store, write the response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from factmem import reasoning_trace as trace
from factmem.agents.base import AgentTimings, RemoteEvidenceProvider
from factmem.errors import ProviderError
from factmem.outbound.deadline import Deadline
from factmem.outbound.usage import CallLog
from factmem.pipeline import ClaimCheck, Verification, VerificationPipeline
from factmem.settings import Settings
from factmem.spend_cap import DailySpendCap

if TYPE_CHECKING:
    from factmem.admission import Admission
    from factmem.agents.llm_reasoner import LlmReasoner

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
        usage = pipeline.outbound.usage if pipeline.outbound is not None else None
        self.spend_cap = DailySpendCap(
            pipeline.settings.daily_spend_cap_usd, usage.spent_today_usd if usage else lambda: 0.0
        )

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
        remote = self.pipeline.llm_reasoner is not None or self.pipeline.web_evidence is not None
        usage = self.pipeline.outbound.usage if self.pipeline.outbound is not None else None

        def recall() -> _Rendered[T] | ClaimCheck:
            timings = AgentTimings()
            claim = self.pipeline.normalize(raw_text, timings)
            check = self.pipeline.recall(claim, timings=timings)
            if check.cache_hit or not remote:
                self.pipeline.judge(check)
                return _Rendered(render(self.pipeline.remember(check)))
            if not self.spend_cap.allows_llm():
                check.fallback_reason = self.spend_cap.reason()
                check.trace.append(trace.spend_capped(check.fallback_reason))
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
        """Web evidence, then the LLM's verdict, all within the time budget; a provider that fails leaves
        its part empty (no passages, no verdict) and the trace and ``fallback_reason`` say why."""
        web, reasoner = self.pipeline.web_evidence, self.pipeline.llm_reasoner
        budget = self.settings.verify_time_budget_s
        deadline = Deadline(budget)
        asking = "web"
        try:
            async with asyncio.timeout(budget):
                if web is not None:
                    await self._search_web(check, web, deadline)
                asking = "llm"
                if reasoner is not None:
                    await self._ask_llm(check, reasoner, deadline)
        except TimeoutError:
            over = f"past the {budget:g} s time budget"
            if asking == "web":
                check.trace.append(trace.web_failed(over))
            if reasoner is not None:
                check.fallback_reason = (
                    f"the LLM gave no answer within the {budget:g} s time budget"
                    if asking == "llm"
                    else f"the {budget:g} s time budget was spent before the LLM could be asked"
                )
                check.trace.append(trace.llm_failed(check.fallback_reason))

    async def _search_web(self, check: ClaimCheck, web: RemoteEvidenceProvider, deadline: Deadline) -> None:
        started = time.perf_counter()
        try:
            check.web_evidence = await web.search(check.claim, deadline=deadline, log=check.calls)
            cached = bool(check.calls.calls) and check.calls.calls[-1].outcome == "cached"
            check.trace.append(trace.searched_web(web.name, check.web_evidence, cached))
        except ProviderError as exc:
            check.trace.append(trace.web_failed(str(exc)))
        finally:
            check.timings.record("web_search", (time.perf_counter() - started) * 1000.0)

    async def _ask_llm(self, check: ClaimCheck, reasoner: LlmReasoner, deadline: Deadline) -> None:
        started = time.perf_counter()
        try:
            check.result = await reasoner.reason(
                check.claim,
                check.retrieval,
                check.evidence + check.web_evidence,
                today=check.now.date(),
                deadline=deadline,
                log=check.calls,
            )
            repaired = any(call.purpose == "repair" for call in check.calls.calls)
            check.trace.append(trace.asked_llm(reasoner.chat.model, check.result, repaired))
        except ProviderError as exc:
            check.fallback_reason = str(exc)
            check.trace.append(trace.llm_failed(str(exc)))
        finally:
            check.timings.record("llm", (time.perf_counter() - started) * 1000.0)

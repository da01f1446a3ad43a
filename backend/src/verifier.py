"""The server's driver of the pipeline: CPU stages in worker threads holding a CPU slot, remote calls awaited.

``VerificationPipeline.verify`` runs the stages one after the other in the calling thread (the CLI, the
evaluation scripts and the tests use it). The server drives the same stage methods from the event loop so
that a verification holds one of the ``MAX_CONCURRENT_REQUESTS`` CPU slots only while it computes:

1. **recall** (worker thread, once admission let the request in: 503 + Retry-After otherwise, before any
   work): normalize, search the memory, local evidence. A cache hit, or any claim when no provider is
   configured, is judged and stored in the same step: one thread hop, as before providers existed. A
   claim the memory does not hold (it needs the model) gives its slot back after normalizing and queues
   again behind short work (``factmem.cpu_slots``): under load a cache hit no longer waits for every miss
   ahead of it.
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
from factmem.agents.claim_splitter import worth_extracting
from factmem.errors import ProviderError
from factmem.outbound.deadline import Deadline
from factmem.outbound.usage import CallLog
from factmem.pipeline import (
    ClaimCheck,
    ClaimSplit,
    MemoryLookUp,
    TextVerification,
    VerificationPipeline,
    split_trace,
)
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


@dataclass(frozen=True)
class _Pending:
    """What the first CPU stage hands to the providers: the claims, recalled, and whether to ask the LLM
    for a better split first."""

    split: ClaimSplit
    checks: list[ClaimCheck]
    extract: bool


@dataclass(frozen=True)
class _NeedsModel:
    """The first CPU stage found a claim the memory does not hold: the rest waits behind short work."""

    split: ClaimSplit
    timings: AgentTimings
    looked_up: MemoryLookUp


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

    async def verify(self, raw_text: str, *, render: Callable[[TextVerification], T]) -> T:
        """Verify every claim of ``raw_text``; ``render`` turns the outcome into the response in the last
        CPU stage (the JSON is written while the slot is held, never on the event loop).
        """
        pipeline = self.pipeline
        remote = pipeline.llm_reasoner is not None or pipeline.web_evidence is not None
        usage = pipeline.outbound.usage if pipeline.outbound is not None else None

        def recall(
            split: ClaimSplit, timings: AgentTimings, looked_up: MemoryLookUp
        ) -> _Rendered[T] | _Pending:
            checks = self._recall_all(split, timings, looked_up)
            extract = self._may_extract(raw_text, checks)
            if not remote or (all(c.cache_hit for c in checks) and not extract):
                return _Rendered(render(self._finish(split, checks, CallLog(None), split_trace(split))))
            if not self.spend_cap.allows_llm():
                for check in checks:
                    if not check.cache_hit:
                        check.fallback_reason = self.spend_cap.reason()
                        check.trace.append(trace.spend_capped(check.fallback_reason))
                return _Rendered(render(self._finish(split, checks, CallLog(None), split_trace(split))))
            for check in checks:
                check.calls = CallLog(usage)
            return _Pending(split, checks, extract)

        def look_up() -> _Rendered[T] | _Pending | _NeedsModel:
            timings = AgentTimings()
            split = pipeline.split(raw_text, timings)
            looked_up = pipeline.look_up(split.claims)
            if looked_up.needs_model:
                return _NeedsModel(split, timings, looked_up)
            return recall(split, timings, looked_up)

        recalled = await self.admission.run_new_verification(look_up)
        if isinstance(recalled, _NeedsModel):
            needing = recalled
            recalled = await self.admission.run_verification_needing_the_model(
                lambda: recall(needing.split, needing.timings, needing.looked_up)
            )
        if isinstance(recalled, _Rendered):
            return recalled.body
        pending = recalled

        if self._waiting_on_providers >= self.settings.max_outbound_waiting:
            raise self.admission.refuse(
                "providers_busy", "too many verifications are waiting on the LLM or web search"
            )
        self._waiting_on_providers += 1
        request_calls = CallLog(usage)
        try:
            deadline = Deadline(self.settings.verify_time_budget_s)
            split, checks, notes = pending.split, pending.checks, list(split_trace(pending.split))
            if pending.extract:
                split, checks, notes = await self._extract(raw_text, pending, deadline, request_calls)
            await asyncio.gather(*(self._consult_providers(c, deadline) for c in checks if not c.cache_hit))
        finally:
            self._waiting_on_providers -= 1

        def remember() -> T:
            return render(self._finish(split, checks, request_calls, tuple(notes)))

        return await self.admission.run_returning_verification(remember)

    def _recall_all(
        self, split: ClaimSplit, timings: AgentTimings, looked_up: MemoryLookUp
    ) -> list[ClaimCheck]:
        # The first claim's timings also hold the normalizer's and the splitter's time.
        return [
            self.pipeline.recall(claim, timings=timings if number == 0 else None, looked_up=looked_up)
            for number, claim in enumerate(split.claims)
        ]

    def _may_extract(self, raw_text: str, checks: list[ClaimCheck]) -> bool:
        """Whether to ask the LLM for the claims: configured, the text may hold several, one is new."""
        from_rules_all_known = all(c.cache_hit for c in checks)
        return (
            self.pipeline.claim_extractor is not None
            and not from_rules_all_known
            and worth_extracting(raw_text)
        )

    async def _extract(
        self, raw_text: str, pending: _Pending, deadline: Deadline, log: CallLog
    ) -> tuple[ClaimSplit, list[ClaimCheck], list[str]]:
        """The LLM's claims, recalled (a short CPU stage); the rules' claims when it fails."""
        extractor = self.pipeline.claim_extractor
        assert extractor is not None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(deadline.remaining()):
                parts = await extractor.extract(raw_text, deadline=deadline, log=log)
        except (ProviderError, TimeoutError) as exc:
            reason = str(exc) or f"past the {deadline.seconds:g} s time budget"
            split, checks, notes = pending.split, pending.checks, [trace.split_failed(reason)]
        else:
            split = self.pipeline.claims_of(pending.split.text, parts, f"llm:{extractor.chat.model}")
            checks, notes = await self._recall_split(split, pending, log), []
        checks[0].timings.record("llm_split", (time.perf_counter() - started) * 1000.0)
        return split, checks, [*notes, *split_trace(split)]

    async def _recall_split(self, split: ClaimSplit, pending: _Pending, log: CallLog) -> list[ClaimCheck]:
        """The checks of the LLM's claims: the rules' where they found the same claim, else recalled now."""
        known = {c.claim.comparison_key: c for c in pending.checks}
        if [c.comparison_key for c in split.claims] == list(known):
            return pending.checks

        def recall_new() -> list[ClaimCheck]:
            checks = []
            for claim in split.claims:
                check = known.get(claim.comparison_key)
                if check is None:
                    check = self.pipeline.recall(claim)
                    check.calls = CallLog(log.usage)
                checks.append(check)
            return checks

        return await self.admission.run_returning_verification(recall_new)

    def _finish(
        self, split: ClaimSplit, checks: list[ClaimCheck], request_calls: CallLog, notes: tuple[str, ...]
    ) -> TextVerification:
        """Judge locally where no provider answered, store each claim, gather the outcome (CPU stage)."""
        verifications = []
        for check in checks:
            if check.result is None:
                self.pipeline.judge(check)
            verifications.append(self.pipeline.remember(check))
        return TextVerification(split, tuple(verifications), tuple(request_calls.calls), notes)

    async def _consult_providers(self, check: ClaimCheck, deadline: Deadline) -> None:
        """Web evidence, then the LLM's verdict, within what is left of the time budget. A provider that
        fails leaves its part empty (no passages, no verdict); the trace and ``fallback_reason`` say why."""
        web, reasoner = self.pipeline.web_evidence, self.pipeline.llm_reasoner
        budget = deadline.seconds
        asking = "web"
        try:
            async with asyncio.timeout(deadline.remaining()):
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

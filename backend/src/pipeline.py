"""The verification pipeline: builds each agent once and runs them in order for every claim.

Agents are created on first use and kept in ``_agent_cache`` for the life of the process; they all share
the one embedding model (``get_shared_embedding_model()``) and the stores opened at startup. Nothing —
agent, model or client — is created per request: that is what keeps RSS flat under load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from factmem import reasoning_trace as trace
from factmem.agents.base import (
    AgentTimings,
    EvidencePassage,
    MemoryWrite,
    NormalizedClaim,
    Retrieval,
    Verdict,
    VerificationResult,
)
from factmem.agents.claim_splitter import ClaimPart, split_claims
from factmem.agents.evidence import EvidenceCollector, LocalEvidenceProvider
from factmem.agents.memory_update import MemoryUpdater
from factmem.agents.normalizer import Normalizer
from factmem.agents.reasoner import LocalReasoner, ReasoningPolicy
from factmem.agents.retriever import OwnRecord, RetrievalPolicy, Retriever
from factmem.embeddings import Embedder, get_shared_embedding_model
from factmem.errors import EmbeddingError, InputError, ReasonerError
from factmem.outbound.usage import CallLog, ProviderCall
from factmem.settings import Settings
from factmem.store.base import ClaimStore
from factmem.text import known_words
from factmem.text_checks import first_unicode_problem
from factmem.time_decay import utc_now

if TYPE_CHECKING:
    from factmem.agents.llm_normalizer import LlmClaimExtractor
    from factmem.agents.llm_reasoner import LlmReasoner
    from factmem.outbound import Outbound
    from factmem.outbound.search import WebEvidence

T = TypeVar("T")


@dataclass(frozen=True)
class Verification:
    """Everything one run of the pipeline produced for one claim."""

    claim: NormalizedClaim
    retrieval: Retrieval
    evidence: tuple[EvidencePassage, ...]
    result: VerificationResult
    write: MemoryWrite
    timings_ms: dict[str, float]
    #: Why a configured provider did not give the verdict (the local reasoner did), in words for the user.
    fallback_reason: str | None = None
    #: Calls to remote providers made for this claim, with their tokens, cost and latency.
    provider_calls: tuple[ProviderCall, ...] = ()
    #: Passages found on the web (also in ``evidence`` order after the local ones for the reasoner).
    web_evidence: tuple[EvidencePassage, ...] = ()
    #: The steps the agents took, for the user (``factmem.reasoning_trace``).
    trace: tuple[str, ...] = ()

    @property
    def cache_hit(self) -> bool:
        return self.retrieval.cache_hit is not None

    @property
    def web_search_used(self) -> bool:
        """Whether web results were put before the reasoner."""
        return bool(self.web_evidence)

    @property
    def web_search_ran(self) -> bool:
        """Whether the web was searched (or a recent search reused) for this claim, found or not."""
        return any(call.provider == "web_search" for call in self.provider_calls)


@dataclass(frozen=True)
class ClaimSplit:
    """A text as one normalized claim (``text``), and the claims it makes (``(text,)`` when it is one)."""

    text: NormalizedClaim
    claims: tuple[NormalizedClaim, ...]
    #: Claims beyond ``MAX_CLAIMS_PER_REQUEST``: found, not verified.
    skipped: int = 0
    #: Who split the text: ``rules`` or ``llm:<model>``.
    split_by: str = "rules"


@dataclass(frozen=True)
class MemoryLookUp:
    """What the memory holds of each claim of a split, read by id before the claims are recalled."""

    #: Each claim's own record, by comparison key.
    records: dict[str, OwnRecord]
    #: Recalling at least one of them runs the model (neither a stored nor a cached vector).
    needs_model: bool


@dataclass(frozen=True)
class TextVerification:
    """Everything one verification of a whole text produced: each of its claims, verified on its own."""

    split: ClaimSplit
    claims: tuple[Verification, ...]
    #: Calls made for the text as a whole (an LLM split), not for one claim.
    provider_calls: tuple[ProviderCall, ...] = ()
    #: Steps taken for the text as a whole (how it was split), before each claim's own.
    trace: tuple[str, ...] = ()

    @property
    def single(self) -> bool:
        return len(self.claims) == 1

    def overall(self) -> VerificationResult:
        """The text's verdict: False if any claim is False (one false claim makes the text misleading),
        True if every claim is True, else Uncertain."""
        results = [v.result for v in self.claims]
        verdicts = [r.verdict for r in results]
        if "False" in verdicts:
            verdict: Verdict = "False"
            confidence = max(r.confidence for r in results if r.verdict == "False")
            why = "at least one of its claims is False"
        elif all(v == "True" for v in verdicts):
            verdict, confidence, why = "True", min(r.confidence for r in results), "every claim is True"
        else:
            verdict, confidence = "Uncertain", min(r.confidence for r in results)
            why = "not every claim could be judged"
        counts = ", ".join(
            f"{verdicts.count(v)} {v}" for v in ("True", "False", "Uncertain") if v in verdicts
        )
        producers = {r.verdict_by for r in results}
        return VerificationResult(
            verdict=verdict,
            confidence=round(confidence, 4),
            reasoning=f"{len(results)} claims ({counts}): the text is {verdict} because {why}",
            explanation=" ".join(
                f"“{v.claim.normalized_text}” {v.result.verdict} ({v.result.confidence:.2f})."
                for v in self.claims
            ),
            evidence_ids=tuple(dict.fromkeys(i for r in results for i in r.evidence_ids)),
            verdict_by=producers.pop() if len(producers) == 1 else "mixed",
        )


@dataclass
class ClaimCheck:
    """One claim on its way through the stages; each stage fills in its part.

    Mutable on purpose: the async driver hands the same object from a worker thread (recall) to the event
    loop (remote providers) and back to a worker thread (judge, remember), one stage at a time.
    """

    claim: NormalizedClaim
    retrieval: Retrieval
    now: datetime
    timings: AgentTimings
    #: Passages from in-process sources (the local evidence collection), found during recall.
    evidence: list[EvidencePassage] = field(default_factory=list)
    #: Passages found on the web (the server's driver fills this in, between recall and judge).
    web_evidence: list[EvidencePassage] = field(default_factory=list)
    result: VerificationResult | None = None
    fallback_reason: str | None = None
    calls: CallLog = field(default_factory=lambda: CallLog(None))
    trace: list[str] = field(default_factory=list)

    @property
    def cache_hit(self) -> bool:
        return self.retrieval.cache_hit is not None


@contextmanager
def _timed(timings: AgentTimings, agent: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.record(agent, (time.perf_counter() - started) * 1000.0)


class VerificationPipeline:
    """normalizer → retriever → evidence → reasoner → memory update, over shared resources."""

    def __init__(
        self,
        settings: Settings,
        claim_store: ClaimStore,
        evidence_store: ClaimStore,
        embedder_factory: Callable[[], Embedder] = get_shared_embedding_model,
        outbound: Outbound | None = None,
    ) -> None:
        self.settings = settings
        self.claim_store = claim_store
        self.evidence_store = evidence_store
        self._embedder_factory = embedder_factory
        #: The shared HTTP client and usage totals, when remote providers are configured (the server's).
        self.outbound = outbound
        self._agent_cache: dict[str, Any] = {}
        self._agent_builds: dict[str, int] = {}
        # Re-entrant: building one agent may build the ones it depends on (the retriever needs the embedder).
        self._cache_lock = threading.RLock()

    # --- agents, built once ---

    def _agent(self, name: str, build: Callable[[], T]) -> T:
        agent = self._agent_cache.get(name)
        if agent is None:
            with self._cache_lock:
                agent = self._agent_cache.get(name)
                if agent is None:
                    agent = build()
                    self._agent_cache[name] = agent
                    self._agent_builds[name] = self._agent_builds.get(name, 0) + 1
        return agent  # type: ignore[return-value]

    @property
    def agent_builds(self) -> dict[str, int]:
        """How many times each agent was constructed (1 each in a healthy process)."""
        return dict(self._agent_builds)

    @property
    def embedder(self) -> Embedder:
        return self._agent("embedder", self._embedder_factory)

    @property
    def normalizer(self) -> Normalizer:
        return self._agent("normalizer", lambda: Normalizer(max_chars=self.settings.max_claim_chars))

    @property
    def retriever(self) -> Retriever:
        return self._agent(
            "retriever",
            lambda: Retriever(self.claim_store, self.embedder, RetrievalPolicy.from_settings(self.settings)),
        )

    @property
    def evidence(self) -> EvidenceCollector:
        def build() -> EvidenceCollector:
            local = LocalEvidenceProvider(self.evidence_store, self.settings.min_evidence_similarity)
            return EvidenceCollector([local], limit=5)

        return self._agent("evidence", build)

    @property
    def reasoner(self) -> LocalReasoner:
        return self._agent("reasoner", lambda: LocalReasoner(ReasoningPolicy.from_settings(self.settings)))

    @property
    def llm_reasoner(self) -> LlmReasoner | None:
        """The LLM reasoner when an LLM is configured and the process may call out; else None."""
        if self.outbound is None or not self.settings.llm_configured:
            return None
        outbound = self.outbound

        def build() -> LlmReasoner:
            # Imported here: a deployment without an LLM never loads the HTTP client code.
            from factmem.agents.llm_reasoner import LlmPolicy, LlmReasoner
            from factmem.outbound.chat import chat_client_from_settings

            policy = LlmPolicy.from_settings(self.settings)
            return LlmReasoner(chat_client_from_settings(self.settings, outbound), policy)

        return self._agent("llm_reasoner", build)

    @property
    def web_evidence(self) -> WebEvidence | None:
        """Web search when it is configured and the process may call out; else None."""
        if self.outbound is None or not self.settings.web_search_configured:
            return None
        outbound = self.outbound

        def build() -> WebEvidence:
            from factmem.outbound.search import web_evidence_from_settings

            return web_evidence_from_settings(self.settings, outbound)

        return self._agent("web_evidence", build)

    @property
    def claim_extractor(self) -> LlmClaimExtractor | None:
        """Claim extraction by the LLM, when one is configured and ``LLM_SPLIT_CLAIMS`` is on; else None."""
        s = self.settings
        if self.outbound is None or not s.llm_configured or not s.llm_split_claims:
            return None
        if s.max_claims_per_request == 1:
            return None
        reasoner = self.llm_reasoner
        assert reasoner is not None

        def build() -> LlmClaimExtractor:
            from factmem.agents.llm_normalizer import LlmClaimExtractor

            return LlmClaimExtractor(reasoner.chat, s.max_claims_per_request)

        return self._agent("claim_extractor", build)

    @property
    def memory_updater(self) -> MemoryUpdater:
        return self._agent(
            "memory_update",
            lambda: MemoryUpdater(
                self.claim_store,
                dedup_similarity=self.settings.dedup_similarity_threshold,
                embedding_model=self.embedder.model_id,
                llm_verdict_reliability=self.settings.llm_verdict_reliability,
                recheck=lambda claim: self.retriever.retrieve(claim),
            ),
        )

    def check_stored_vectors(self) -> None:
        """Refuse to serve a memory embedded by a different model: its similarities would be meaningless.

        Every stored claim records the ``model_id`` of the embedder that wrote it; one sample is enough,
        since the whole memory is written by the one model of the process.
        """
        for point in self.claim_store.top_by_seen_count(1):
            stored = point.payload.get("embedding_model")
            if stored and stored != self.embedder.model_id:
                raise EmbeddingError(
                    f"collection {self.claim_store.name!r} was embedded with {stored}, but this server runs "
                    f"{self.embedder.model_id}; restore the embedding settings or re-ingest the data"
                )

    def warm_up(self) -> None:
        """Build every agent (and load the model) before the first request needs them."""
        built = (self.normalizer, self.retriever, self.evidence, self.reasoner, self.memory_updater)
        assert all(agent is not None for agent in built)
        # Built now when configured (None otherwise), not by the first request.
        _ = (self.llm_reasoner, self.web_evidence, self.claim_extractor)
        known_words()  # the misspelling rules' word list, read once here rather than inside a request

    # --- the stages of one verification (each runs in a worker thread; none waits on the network) ---

    def look_up(self, claims: Sequence[NormalizedClaim]) -> MemoryLookUp:
        """Each claim's own record, read once: whether recalling them runs the model (the server queues
        those behind short work: ``factmem.verifier``), and what :meth:`recall` starts from."""
        records = {claim.comparison_key: self.retriever.own_record(claim) for claim in claims}
        return MemoryLookUp(
            records=records,
            needs_model=any(self.retriever.needs_model(c, records[c.comparison_key]) for c in claims),
        )

    def recall(
        self,
        claim: NormalizedClaim,
        *,
        now: datetime | None = None,
        timings: AgentTimings | None = None,
        looked_up: MemoryLookUp | None = None,
    ) -> ClaimCheck:
        """What the memory knows about the claim, and, unless it is a cache hit, local evidence passages."""
        now = now or utc_now()
        timings = timings or AgentTimings()
        own = looked_up.records.get(claim.comparison_key) if looked_up is not None else None
        with _timed(timings, "retriever"):
            retrieval = self.retriever.retrieve(claim, now=now, own=own)
        check = ClaimCheck(claim=claim, retrieval=retrieval, now=now, timings=timings)
        check.trace += [trace.read_claim(claim.normalized_text), trace.searched_memory(retrieval)]
        if not check.cache_hit:
            with _timed(check.timings, "evidence"):
                check.evidence = self.evidence.collect(claim, check.retrieval.vector)
            found = trace.searched_evidence(check.evidence)
            if found:
                check.trace.append(found)
        return check

    def judge(self, check: ClaimCheck) -> VerificationResult:
        """A verdict by the local rules: the cached one on a cache hit, else the local reasoner's (which
        lists web passages with the verdict but does not weigh them)."""
        if check.retrieval.cache_hit is not None:
            check.result = _result_from_cache(check.retrieval)
            return check.result
        with _timed(check.timings, "reasoner"):
            evidence = check.evidence + check.web_evidence
            check.result = self.reasoner.reason(check.claim, check.retrieval, evidence)
        check.trace.append(trace.judged_locally(check.result, len(check.web_evidence)))
        return check.result

    def remember(self, check: ClaimCheck) -> Verification:
        """Store the verdict (dedup, seen_count) and freeze the claim's outcome."""
        assert check.result is not None, "judge a claim before remembering it"
        # the write comes last: an answer that cannot be rendered (invalid Unicode from a provider) fails
        # here, before anything is stored or counted
        problem = first_unicode_problem((check.claim, check.result, check.evidence, check.web_evidence))
        if problem is not None:
            raise ReasonerError(f"the answer cannot be rendered: {problem}; nothing was stored")
        with _timed(check.timings, "memory_update"):
            write = self.memory_updater.update(check.claim, check.retrieval, check.result, now=check.now)
        check.trace.append(trace.stored(write))
        check.timings.record("total", sum(check.timings.values.values()))
        return Verification(
            claim=check.claim,
            retrieval=check.retrieval,
            evidence=tuple(check.evidence + check.web_evidence),
            result=check.result,
            write=write,
            timings_ms=dict(check.timings.values),
            fallback_reason=check.fallback_reason,
            provider_calls=tuple(check.calls.calls),
            web_evidence=tuple(check.web_evidence),
            trace=tuple(check.trace),
        )

    def normalize(self, raw_text: str, timings: AgentTimings) -> NormalizedClaim:
        """The cleaned claim; raises ``InputError`` for unusable text, before anything is read or written."""
        with _timed(timings, "normalizer"):
            return self.normalizer.normalize(raw_text)

    def split(self, raw_text: str, timings: AgentTimings) -> ClaimSplit:
        """The text as one claim (``InputError`` for unusable text) and the claims the rules find in it."""
        whole = self.normalize(raw_text, timings)
        if self.settings.max_claims_per_request == 1:
            return ClaimSplit(whole, (whole,))
        with _timed(timings, "splitter"):
            parts = split_claims(raw_text)
            if len(parts) < 2:  # one claim: normalizing it again would only repeat the work above
                return ClaimSplit(whole, (whole,))
            split = self.claims_of(whole, [ClaimPart(part) for part in parts], "rules")
        return split if len(split.claims) > 1 else ClaimSplit(whole, (whole,))

    def claims_of(self, whole: NormalizedClaim, parts: Sequence[ClaimPart], split_by: str) -> ClaimSplit:
        """The parts as normalized claims, each once, at most ``MAX_CLAIMS_PER_REQUEST`` (the rest counted).

        A part the normalizer refuses (no letters, too short) is dropped; entities and dates found for a
        part (by an LLM) replace the rules' own. No part left: the whole text is the claim.
        """
        claims: dict[str, NormalizedClaim] = {}
        for part in parts:
            try:
                claim = self.normalizer.normalize(part.text)
            except InputError:
                continue
            if part.entities or part.dates:
                claim = replace(
                    claim,
                    entities=part.entities or claim.entities,
                    temporal_markers=part.dates or claim.temporal_markers,
                )
            claims.setdefault(claim.comparison_key, claim)
        if not claims:
            return ClaimSplit(whole, (whole,))
        limit = self.settings.max_claims_per_request
        found = tuple(claims.values())
        return ClaimSplit(whole, found[:limit], max(0, len(found) - limit), split_by)

    def verify_text(self, raw_text: str) -> TextVerification:
        """Every claim of a text through the local pipeline, synchronously, each stored on its own."""
        timings = AgentTimings()
        split = self.split(raw_text, timings)
        verifications = []
        for number, claim in enumerate(split.claims):
            check = self.recall(claim, timings=timings if number == 0 else None)
            self.judge(check)
            verifications.append(self.remember(check))
        return TextVerification(split, tuple(verifications), trace=split_trace(split))

    def verify(self, raw_text: str) -> Verification:
        """The whole local pipeline on one claim, synchronously (CLI, evaluation scripts, tests).

        The server's async driver (``factmem.verifier``) runs the same stages, with remote providers between
        them when they are configured. Raises ``InputError`` for unusable text, before any write.
        """
        timings = AgentTimings()
        claim = self.normalize(raw_text, timings)
        check = self.recall(claim, timings=timings)
        self.judge(check)
        return self.remember(check)


def split_trace(split: ClaimSplit) -> tuple[str, ...]:
    """The step that split the text, when it made more than one claim of it."""
    if len(split.claims) == 1:
        return ()
    return (trace.split_text(len(split.claims), split.split_by, split.skipped),)


def _result_from_cache(retrieval: Retrieval) -> VerificationResult:
    hit = retrieval.cache_hit
    assert hit is not None
    return VerificationResult(
        verdict=hit.verdict,
        confidence=hit.confidence,
        reasoning=(
            f"cache hit: same claim verified {hit.age_days:.1f} days ago (similarity {hit.similarity:.2f})"
        ),
        explanation=hit.explanation,
        evidence_ids=(hit.id,),
        evidence_summary=(
            f"memory: “{hit.claim_text}” ({hit.verdict}, seen {hit.seen_count}× before this request)"
        ),
        verdict_by=hit.verdict_by,
    )

"""Values passed between the agents of one verification, and the contracts of the pluggable agents.

Each agent is one class with one entry method; they hand each other these frozen values so a request's
state is explicit (and the embedding of the claim is computed once and carried along, never recomputed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from factmem.polarity import ClaimSignature, ValueConflict

if TYPE_CHECKING:
    from factmem.outbound.deadline import Deadline
    from factmem.outbound.usage import CallLog

Verdict = Literal["True", "False", "Uncertain"]
VERDICTS: tuple[Verdict, ...] = ("True", "False", "Uncertain")


def opposite_verdict(verdict: Verdict) -> Verdict:
    """True <-> False; Uncertain has no opposite."""
    return {"True": "False", "False": "True"}.get(verdict, "Uncertain")  # type: ignore[return-value]


@dataclass(frozen=True)
class NormalizedClaim:
    """The claim as the user wrote it, and the cleaned forms the pipeline works on."""

    original_text: str
    #: Cleaned, readable text: what is embedded, stored and shown.
    normalized_text: str
    #: Lower-cased, punctuation-free form: identity of a claim (its point id derives from it).
    comparison_key: str
    entities: tuple[str, ...] = ()
    temporal_markers: tuple[str, ...] = ()
    source_type: str = "user_input"
    #: Who a pasted post is by ("Ilhan Omar IlhanMN"), kept out of the claim: searched by words only.
    attribution: str = ""


@dataclass(frozen=True)
class MemoryMatch:
    """A stored claim found by the retriever, scored against the incoming one."""

    id: str
    claim_text: str
    verdict: Verdict
    confidence: float
    explanation: str
    source: str
    source_url: str | None
    source_reliability: float
    similarity: float
    time_decayed_score: float
    age_days: float
    seen_count: int
    timestamp: str
    #: "same", "opposite" or "different" (see factmem.polarity), or "unrelated" below the similarity at which
    #: any agent would look at polarity (not computed).
    relation: str
    relation_reason: str
    #: Who produced the stored verdict: ``curated`` (a person's fact-check), ``llm:<model>`` or ``local``.
    verdict_by: str = "local"
    #: For a "different" claim that changes only one value after the same subject ("born in Hawaii" vs
    #: "born in Kenya"): that value, which the contradiction rule of the reasoner reads.
    conflict: ValueConflict | None = None


@dataclass(frozen=True)
class Retrieval:
    """What the memory knows about a claim: ranked matches and, maybe, a cache hit."""

    vector: np.ndarray
    matches: tuple[MemoryMatch, ...]
    cache_hit: MemoryMatch | None = None
    #: The claim's polarity signature, made once by the retriever for every later comparison (a claim
    #: over the signature cache's length limit would otherwise be read again at each one).
    signature: ClaimSignature | None = field(default=None, repr=False, compare=False)
    #: ``time.monotonic()`` when the memory was searched: what was inserted after it, the search may not
    #: have seen (unknown: every insert the memory update still remembers counts).
    searched_at: float = field(default=float("-inf"), compare=False)


@dataclass(frozen=True)
class EvidencePassage:
    """A passage from an evidence source (the local collection now, web search providers later)."""

    id: str
    text: str
    source: str
    source_url: str | None
    source_reliability: float
    similarity: float
    provider: str = "local"
    #: When the source published it (web results), as the source gives it.
    published: str | None = None
    #: The page's title (web results).
    title: str | None = None


@dataclass(frozen=True)
class VerificationResult:
    verdict: Verdict
    confidence: float
    reasoning: str
    explanation: str
    evidence_ids: tuple[str, ...] = ()
    evidence_summary: str = ""
    #: Who produced the verdict, as the memory records it: ``local`` (rules), ``llm:<model>``, ``curated``.
    verdict_by: str = "local"


@dataclass(frozen=True)
class MemoryWrite:
    """What the memory-update agent did with the result."""

    id: str
    inserted: bool
    seen_count: int
    timestamp: str
    #: False when the store refused the write (disk full or failing): the answer stands, nothing was counted
    stored: bool = True


@dataclass
class AgentTimings:
    """Milliseconds spent in each agent of one request."""

    values: dict[str, float] = field(default_factory=dict)

    def record(self, agent: str, ms: float) -> None:
        self.values[agent] = round(ms, 3)


class EvidenceProvider(Protocol):
    """A source of evidence passages. The local collection is one; web search providers plug in here."""

    name: str

    def search(self, claim: NormalizedClaim, vector: np.ndarray, limit: int) -> list[EvidencePassage]:
        """Passages relevant to the claim, best first. Raise a FactmemError subclass on failure."""
        ...


class RemoteEvidenceProvider(Protocol):
    """A source of evidence reached over the network (web search): awaited on the event loop, holding no
    CPU slot, within the request's time budget; it records its calls (tokens, cost, latency) in ``log``."""

    name: str

    async def search(
        self, claim: NormalizedClaim, *, deadline: Deadline, log: CallLog
    ) -> list[EvidencePassage]:
        """Passages about the claim, best first. Raise ``ProviderError`` when the source cannot be used."""
        ...


class Reasoner(Protocol):
    """Turns what memory and evidence say into a verdict. Local rules now; an LLM reasoner plugs in here."""

    name: str

    def reason(
        self,
        claim: NormalizedClaim,
        retrieval: Retrieval,
        evidence: list[EvidencePassage],
    ) -> VerificationResult:
        """A verdict with confidence in [0, 1], a short explanation and the ids it relied on."""
        ...

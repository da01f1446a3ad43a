"""The steps a verification took, in words for its user (``verification_result.reasoning_trace``).

Each stage of the pipeline, and the server's driver around the remote providers, adds one line: what it
looked at and what it found. It is a record of what the agents did, for a person reading the answer (the
front end of the system factmem replaces shows it as a list); it holds no model's hidden reasoning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from factmem.agents.base import EvidencePassage, MemoryMatch, MemoryWrite, Retrieval, VerificationResult

if TYPE_CHECKING:
    from factmem.pipeline import Verification


def read_claim(normalized_text: str) -> str:
    return f"Read the claim as “{normalized_text}”."


def split_text(claims: int, split_by: str, skipped: int) -> str:
    by = f"by the LLM {split_by[4:]}" if split_by.startswith("llm:") else "by sentence and conjunction rules"
    line = f"Split the text into {claims} claims ({by}); each was checked on its own."
    if skipped:
        line += f" {skipped} more claim(s) were left unchecked (at most {claims} per request)."
    return line


def split_failed(reason: str) -> str:
    return f"The LLM could not split the text ({reason}); the sentence and conjunction rules did."


def searched_memory(retrieval: Retrieval) -> str:
    hit = retrieval.cache_hit
    if hit is not None:
        return (
            f"Found it in memory: “{hit.claim_text}”, judged {hit.verdict} {_age(hit.age_days)} "
            f"({_by(hit.verdict_by)}, similarity {hit.similarity:.2f}); answered from memory."
        )
    related = [m for m in retrieval.matches if m.relation != "unrelated"]
    if not related:
        return "Searched the memory of verified claims: nothing related."
    closest = related[0]
    described = f"{closest.verdict}, {_relation(closest)}, similarity {closest.similarity:.2f}"
    return (
        f"Searched the memory of verified claims: {len(related)} related, none the same claim; "
        f"the closest is “{closest.claim_text}” ({described})."
    )


def searched_evidence(passages: Sequence[EvidencePassage]) -> str | None:
    if not passages:
        return None
    return f"Found {len(passages)} passage(s) in the evidence collection."


def searched_web(engine: str, passages: Sequence[EvidencePassage], cached: bool) -> str:
    if not passages:
        return f"Searched the web ({engine}): no usable result."
    sources = ", ".join(dict.fromkeys(p.source for p in passages))
    again = " (results of the same search a little earlier)" if cached else ""
    return f"Searched the web ({engine}): {len(passages)} result(s) from {sources}{again}."


def web_failed(reason: str) -> str:
    return f"Web search could not be used ({reason}); went on without it."


def asked_llm(model: str, result: VerificationResult, repaired: bool) -> str:
    fixed = " after one correction of an invalid answer" if repaired else ""
    return f"Asked the LLM ({model}){fixed}: {result.verdict} at confidence {result.confidence:.2f}."


def spend_capped(reason: str) -> str:
    return f"Did not ask the LLM or search the web: {reason}."


def llm_failed(reason: str) -> str:
    return f"The LLM could not give a usable verdict ({reason}); the local rules judged the claim instead."


def judged_locally(result: VerificationResult, web_passages: int) -> str:
    line = f"Judged by the local rules: {result.verdict} ({result.reasoning})."
    if web_passages:
        line += f" They do not weigh web pages: the {web_passages} web result(s) are listed, not judged."
    return line


def stored(write: MemoryWrite) -> str:
    if not write.stored:
        return "Not stored: the memory refuses writes for now (its disk is full or failing)."
    if write.inserted:
        return "Stored as a new claim in memory (seen 1×)."
    return f"Counted in memory: this claim has now been seen {write.seen_count}×."


def claim_outcome(number: int, verification: Verification) -> str:
    result = verification.result
    return (
        f"Claim {number}, “{verification.claim.normalized_text}”: {result.verdict} at confidence "
        f"{result.confidence:.2f} ({_by(result.verdict_by)})."
    )


def _age(days: float) -> str:
    if days < 1:
        return "today"
    return f"{days:.0f} day(s) ago"


def _by(verdict_by: str) -> str:
    if verdict_by == "curated":
        return "a curated fact-check"
    if verdict_by.startswith("llm:"):
        return f"by the LLM {verdict_by[4:]}"
    return "by the local rules"


def _relation(match: MemoryMatch) -> str:
    return {"same": "same claim", "opposite": "its negation", "different": "a different claim"}.get(
        match.relation, match.relation
    )

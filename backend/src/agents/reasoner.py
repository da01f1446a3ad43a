"""Local reasoner: a verdict from what the memory already holds, with no model beyond the embedder.

It is deliberately conservative. No PyPI package ships a licensed entailment model, so it cannot read an
unlabelled passage and decide whether it supports or refutes the claim; it reasons only from stored claims
whose verdicts are known, and only from those that say the same thing as the claim (``factmem.polarity``).
A related claim that says something else ("Civilization IV is a turn-based strategy game" for "... is a board
game") hands over nothing: the answer is Uncertain, and the related verified claims are listed, which is what
a user of a fact-check memory wants to read. An LLM reasoner (same ``Reasoner`` protocol) can read passages
and weigh related claims; it falls back to this one.

Order of rules:
1. the same claim (same polarity, every difference noise) matched closely: its verdict transfers;
2. the claim's negation matched closely: the opposite verdict, at lower confidence;
3. a verified True claim about the same subject that gives the same slot another value ("born in Hawaii" for
   "born in Kenya") contradicts the claim: False, citing it (issue 8's "contradiction of a verified claim");
4. otherwise Uncertain, listing the related verified claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from factmem.agents.base import (
    EvidencePassage,
    MemoryMatch,
    NormalizedClaim,
    Retrieval,
    VerificationResult,
    opposite_verdict,
)

if TYPE_CHECKING:
    from factmem.settings import Settings

#: The reasoning of a verdict given by rule 3 starts with this (the evaluation counts it).
CONTRADICTION_REASONING = "contradicts a verified claim"


#: How many related claims an Uncertain answer lists.
RELATED_LISTED = 3


@dataclass(frozen=True)
class ReasoningPolicy:
    """The reasoner's settings; :meth:`from_settings` is the only place they are read from ``Settings``."""

    #: Similarity at which a same-claim match transfers its verdict, or a negation inverts it.
    strong_match_similarity: float
    #: Related claims this close are listed when the answer is Uncertain (and passages this close are read).
    min_evidence_similarity: float
    uncertain_below_confidence: float
    #: Confidence factor of a derived verdict: a negation's inverted one, or a contradiction's False.
    opposite_polarity_factor: float
    #: Similarity at which a True claim with another value in the same slot contradicts the claim (1.0: off).
    contradiction_similarity: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReasoningPolicy:
        return cls(
            strong_match_similarity=settings.strong_match_similarity,
            min_evidence_similarity=settings.min_evidence_similarity,
            uncertain_below_confidence=settings.uncertain_below_confidence,
            opposite_polarity_factor=settings.opposite_polarity_confidence_factor,
            contradiction_similarity=settings.contradiction_similarity,
        )


def _decay_factor(match: MemoryMatch) -> float:
    return match.time_decayed_score / match.similarity if match.similarity > 0 else 0.0


def _strength(match: MemoryMatch) -> float:
    """Stored confidence × freshness: how much a stored verdict says about a claim that says the same.

    Not × similarity: the words decide that it is the same claim (a misspelt key word can leave the cosine
    at 0.4 for a claim that is plainly the same one), and an older verdict counts for less.
    """
    return match.confidence * (0.5 + 0.5 * _decay_factor(match))


class LocalReasoner:
    name = "local"

    def __init__(self, policy: ReasoningPolicy) -> None:
        self.policy = policy

    def reason(
        self, claim: NormalizedClaim, retrieval: Retrieval, evidence: list[EvidencePassage]
    ) -> VerificationResult:
        decided = [m for m in retrieval.matches if m.verdict != "Uncertain"]
        result = self._transfer(decided) or self._contradiction(decided)
        if result is None or result.confidence < self.policy.uncertain_below_confidence:
            result = self._uncertain(decided, evidence, weak=result)
        return _with_evidence_summary(result, evidence)

    def _closest(self, matches: list[MemoryMatch], relation: str, floor: float) -> MemoryMatch | None:
        return max(
            (m for m in matches if m.relation == relation and m.similarity >= floor),
            key=lambda m: (m.similarity, m.source_reliability),
            default=None,
        )

    def _transfer(self, matches: list[MemoryMatch]) -> VerificationResult | None:
        floor = self.policy.strong_match_similarity
        same = self._closest(matches, "same", floor)
        if same is not None:
            return VerificationResult(
                verdict=same.verdict,
                confidence=round(min(1.0, _strength(same)), 4),
                reasoning=f"same-claim match (similarity {same.similarity:.2f}) verdict transferred",
                explanation=f"This matches a verified claim: “{same.claim_text}” ({same.verdict}). "
                + same.explanation,
                evidence_ids=(same.id,),
            )
        opposite = self._closest(matches, "opposite", floor)
        if opposite is not None:
            inverted = opposite_verdict(opposite.verdict)
            return VerificationResult(
                verdict=inverted,
                confidence=round(min(1.0, _strength(opposite) * self.policy.opposite_polarity_factor), 4),
                reasoning=(
                    f"negation of a verified claim (similarity {opposite.similarity:.2f}); verdict inverted"
                ),
                explanation=f"This is the negation of a verified claim: “{opposite.claim_text}” "
                f"({opposite.verdict}), so it is judged {inverted}. " + opposite.explanation,
                evidence_ids=(opposite.id,),
            )
        return None

    def _contradiction(self, matches: list[MemoryMatch]) -> VerificationResult | None:
        """A verified True claim that gives this claim's subject and slot another value refutes it."""
        candidates = [
            m
            for m in matches
            if m.verdict == "True"
            and m.conflict is not None
            and m.conflict.single_valued
            and m.similarity >= self.policy.contradiction_similarity
        ]
        if not candidates:
            return None
        best = max(candidates, key=lambda m: (m.similarity, m.source_reliability))
        conflict = best.conflict
        assert conflict is not None
        slot = f" ({conflict.frame})" if conflict.frame else ""
        return VerificationResult(
            verdict="False",
            confidence=round(min(1.0, _strength(best) * self.policy.opposite_polarity_factor), 4),
            reasoning=f"{CONTRADICTION_REASONING} (similarity {best.similarity:.2f}): "
            f"{conflict.stored} vs {conflict.incoming}{slot}",
            explanation=f"A verified claim says “{best.claim_text}” (True), which gives "
            f"{conflict.stored}, not {conflict.incoming}{slot}; so this claim is judged False. "
            + best.explanation,
            evidence_ids=(best.id,),
        )

    def _uncertain(
        self,
        matches: list[MemoryMatch],
        evidence: list[EvidencePassage],
        weak: VerificationResult | None,
    ) -> VerificationResult:
        related = sorted(
            (m for m in matches if m.similarity >= self.policy.min_evidence_similarity),
            key=lambda m: m.similarity,
            reverse=True,
        )[:RELATED_LISTED]
        if weak is not None:
            reasoning = f"evidence too weak: {weak.reasoning}, confidence {weak.confidence:.2f}"
        elif related:
            reasoning = "related verified claims found, none says the same as this claim"
        else:
            reasoning = "no verified claim in memory is close enough to judge this claim"
        explanation = "There is not enough verified evidence in memory to judge this claim."
        if related:
            listed = "; ".join(f"“{m.claim_text}” ({m.verdict})" for m in related)
            explanation += f" Related verified claims, which say something else: {listed}."
        if evidence:
            explanation += (
                f" {len(evidence)} related passage(s) were found, but the local reasoner does not judge "
                "unlabelled text; configure an LLM reasoner to weigh them."
            )
        return VerificationResult(
            verdict="Uncertain",
            confidence=round(weak.confidence if weak else 0.0, 4),
            reasoning=reasoning,
            explanation=explanation,
            evidence_ids=weak.evidence_ids if weak else tuple(m.id for m in related),
        )


def _with_evidence_summary(result: VerificationResult, evidence: list[EvidencePassage]) -> VerificationResult:
    if not evidence:
        return result
    summary = "; ".join(f"{p.source or p.provider}: {p.text[:160]}" for p in evidence[:3])
    return VerificationResult(
        verdict=result.verdict,
        confidence=result.confidence,
        reasoning=result.reasoning,
        explanation=result.explanation,
        evidence_ids=result.evidence_ids + tuple(p.id for p in evidence),
        evidence_summary=summary,
    )

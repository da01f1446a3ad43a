"""Local reasoner: a verdict from what the memory already holds, with no model beyond the embedder.

It is deliberately conservative. No PyPI package ships a licensed entailment model, so it cannot read an
unlabelled passage and decide whether it supports or refutes the claim; it reasons only from stored claims
whose verdicts are known, and answers Uncertain when those are weak. An LLM reasoner (same ``Reasoner``
protocol) can read the passages too.

Order of rules:
1. the same claim (same polarity) matched strongly: its verdict transfers;
2. the claim's negation matched strongly: the opposite verdict, at lower confidence;
3. otherwise a consensus of close same- or opposite-polarity matches, each weighted by
   similarity × source reliability × time decay;
4. Uncertain when that is weak.
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


@dataclass(frozen=True)
class ReasoningPolicy:
    """The reasoner's settings; :meth:`from_settings` is the only place they are read from ``Settings``."""

    strong_match_similarity: float
    min_evidence_similarity: float
    uncertain_below_confidence: float
    opposite_polarity_factor: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReasoningPolicy:
        return cls(
            strong_match_similarity=settings.strong_match_similarity,
            min_evidence_similarity=settings.min_evidence_similarity,
            uncertain_below_confidence=settings.uncertain_below_confidence,
            opposite_polarity_factor=settings.opposite_polarity_confidence_factor,
        )


def _decay_factor(match: MemoryMatch) -> float:
    return match.time_decayed_score / match.similarity if match.similarity > 0 else 0.0


class LocalReasoner:
    name = "local"

    def __init__(self, policy: ReasoningPolicy) -> None:
        self.policy = policy

    def reason(
        self, claim: NormalizedClaim, retrieval: Retrieval, evidence: list[EvidencePassage]
    ) -> VerificationResult:
        decided = [m for m in retrieval.matches if m.verdict != "Uncertain"]
        result = self._transfer(decided) or self._consensus(decided)
        if result is None or result.confidence < self.policy.uncertain_below_confidence:
            result = self._uncertain(retrieval.matches, evidence, weak=result)
        return _with_evidence_summary(result, evidence)

    def _transfer(self, matches: list[MemoryMatch]) -> VerificationResult | None:
        strong = [m for m in matches if m.similarity >= self.policy.strong_match_similarity]
        same = max((m for m in strong if m.relation == "same"), key=lambda m: m.similarity, default=None)
        if same is not None:
            confidence = same.confidence * same.similarity * (0.5 + 0.5 * _decay_factor(same))
            return VerificationResult(
                verdict=same.verdict,
                confidence=round(min(1.0, confidence), 4),
                reasoning=f"same-claim match (similarity {same.similarity:.2f}) verdict transferred",
                explanation=f"This matches a verified claim: “{same.claim_text}” ({same.verdict}). "
                + same.explanation,
                evidence_ids=(same.id,),
            )
        opposite = max(
            (m for m in strong if m.relation == "opposite"), key=lambda m: m.similarity, default=None
        )
        if opposite is not None:
            confidence = (
                opposite.confidence
                * opposite.similarity
                * (0.5 + 0.5 * _decay_factor(opposite))
                * self.policy.opposite_polarity_factor
            )
            return VerificationResult(
                verdict=opposite_verdict(opposite.verdict),
                confidence=round(min(1.0, confidence), 4),
                reasoning=(
                    f"negation of a verified claim (similarity {opposite.similarity:.2f}); verdict inverted"
                ),
                explanation=f"This is the negation of a verified claim: “{opposite.claim_text}” "
                f"({opposite.verdict}), so it is judged {opposite_verdict(opposite.verdict)}. "
                + opposite.explanation,
                evidence_ids=(opposite.id,),
            )
        return None

    def _consensus(self, matches: list[MemoryMatch]) -> VerificationResult | None:
        votes: dict[str, float] = {"True": 0.0, "False": 0.0}
        voters: list[MemoryMatch] = []
        for match in matches:
            # Only a claim that is this one, or its negation, says something about this one's truth.
            if match.similarity < self.policy.min_evidence_similarity or match.relation not in {
                "same",
                "opposite",
            }:
                continue
            verdict = match.verdict if match.relation == "same" else opposite_verdict(match.verdict)
            weight = match.similarity * match.source_reliability * _decay_factor(match) * match.confidence
            votes[verdict] += weight
            voters.append(match)
        total = votes["True"] + votes["False"]
        if not voters or total <= 0:
            return None
        verdict = "True" if votes["True"] >= votes["False"] else "False"
        agreement = votes[verdict] / total
        closeness = max(m.similarity for m in voters)
        return VerificationResult(
            verdict=verdict,  # type: ignore[arg-type]
            confidence=round(agreement * closeness, 4),
            reasoning=f"weighted consensus of {len(voters)} related verified claims "
            f"(agreement {agreement:.2f}, best similarity {closeness:.2f})",
            explanation=(
                f"Related verified claims mostly say {verdict}; the closest is “{voters[0].claim_text}”."
            ),
            evidence_ids=tuple(m.id for m in voters),
        )

    def _uncertain(
        self,
        matches: tuple[MemoryMatch, ...],
        evidence: list[EvidencePassage],
        weak: VerificationResult | None,
    ) -> VerificationResult:
        reasoning = "no verified claim in memory is close enough to judge this claim"
        if weak is not None:
            reasoning = f"evidence too weak: {weak.reasoning}, confidence {weak.confidence:.2f}"
        explanation = "There is not enough verified evidence in memory to judge this claim."
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
            evidence_ids=weak.evidence_ids if weak else tuple(m.id for m in matches[:3]),
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

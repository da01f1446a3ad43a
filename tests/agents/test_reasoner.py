"""The local reasoner's rules, on retrievals built by hand (the rules are pure: no model, no store)."""

from __future__ import annotations

import numpy as np
import pytest

from factmem.agents.base import (
    EvidencePassage,
    MemoryMatch,
    NormalizedClaim,
    Retrieval,
    Verdict,
    VerificationResult,
)
from factmem.agents.reasoner import CONTRADICTION_REASONING, LocalReasoner, ReasoningPolicy
from factmem.polarity import ValueConflict
from factmem.settings import Settings

CLAIM = NormalizedClaim(original_text="x", normalized_text="X.", comparison_key="x")


def match(
    verdict: Verdict,
    similarity: float,
    relation: str = "same",
    *,
    confidence: float = 0.9,
    reliability: float = 0.9,
    age_days: float = 0.0,
    match_id: str = "m",
    conflict: ValueConflict | None = None,
) -> MemoryMatch:
    decay = float(np.exp(-(age_days**2) / (2 * 90.0**2)))
    return MemoryMatch(
        id=match_id,
        claim_text=f"claim {match_id}",
        verdict=verdict,
        confidence=confidence,
        explanation="because.",
        source="test",
        source_url=None,
        source_reliability=reliability,
        similarity=similarity,
        time_decayed_score=similarity * (0.5 + 0.5 * decay),
        age_days=age_days,
        seen_count=1,
        timestamp="2026-01-01T00:00:00Z",
        relation=relation,
        relation_reason="",
        conflict=conflict,
    )


def reason(*matches: MemoryMatch, evidence: list[EvidencePassage] | None = None) -> VerificationResult:
    retrieval = Retrieval(vector=np.zeros(384, dtype=np.float32), matches=tuple(matches))
    policy = ReasoningPolicy.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    return LocalReasoner(policy).reason(CLAIM, retrieval, evidence or [])


def test_strong_same_match_transfers_verdict() -> None:
    result = reason(match("False", 0.95, match_id="a"))
    assert result.verdict == "False"
    assert 0.5 < result.confidence <= 0.9
    assert result.evidence_ids == ("a",)


def test_strong_opposite_match_inverts_verdict_with_lower_confidence() -> None:
    same = reason(match("False", 0.95))
    opposite = reason(match("False", 0.95, "opposite"))
    assert opposite.verdict == "True"
    assert opposite.confidence < same.confidence


def test_uncertain_match_never_transfers() -> None:
    assert reason(match("Uncertain", 0.99)).verdict == "Uncertain"


@pytest.mark.parametrize("relation", ["different", "unrelated"])
def test_claims_that_are_not_this_one_or_its_negation_do_not_vote(relation: str) -> None:
    result = reason(match("False", 0.80, relation), match("False", 0.78, relation, match_id="b"))
    assert result.verdict == "Uncertain"


def test_different_claims_do_not_vote() -> None:
    """A changed number or entity makes a claim different: its verdict says nothing about this one."""
    result = reason(match("True", 0.97, "different"), match("True", 0.9, "different", match_id="b"))
    assert result.verdict == "Uncertain"


def test_weak_evidence_is_uncertain() -> None:
    result = reason(match("True", 0.25))
    assert result.verdict == "Uncertain"
    assert result.confidence == 0.0


def test_a_related_claim_hands_over_no_verdict_but_is_listed() -> None:
    """A related claim that says something else decides nothing; the answer lists it."""
    result = reason(
        match("True", 0.80, "different", match_id="a"), match("False", 0.75, "different", match_id="b")
    )
    assert result.verdict == "Uncertain"
    assert result.evidence_ids == ("a", "b")
    assert "claim a" in result.explanation and "claim b" in result.explanation


def test_the_closest_same_claim_decides() -> None:
    result = reason(match("True", 0.88, match_id="a"), match("False", 0.97, match_id="b"))
    assert result.verdict == "False"
    assert result.evidence_ids == ("b",)


HAWAII = ValueConflict("name", "Hawaii", "Kenya", "born in", single_valued=True)


def test_a_true_claim_with_another_value_in_the_slot_contradicts() -> None:
    result = reason(match("True", 0.93, "different", conflict=HAWAII, match_id="obama"))
    assert result.verdict == "False"
    assert result.reasoning.startswith(CONTRADICTION_REASONING)
    assert result.evidence_ids == ("obama",)
    assert "Hawaii" in result.explanation and "Kenya" in result.explanation


@pytest.mark.parametrize(
    ("verdict", "similarity", "conflict"),
    [
        ("False", 0.93, HAWAII),  # a false claim's value says nothing about another value
        ("True", 0.70, HAWAII),  # too far from the claim to be about the same thing
        ("True", 0.93, None),  # different in some other way than one value
        ("True", 0.93, ValueConflict("name", "Hugh Jackman", "Meryl Streep", "stars")),  # one of many values
    ],
)
def test_contradiction_needs_a_true_claim_a_close_match_and_one_changed_value(
    verdict: Verdict, similarity: float, conflict: ValueConflict | None
) -> None:
    result = reason(match(verdict, similarity, "different", conflict=conflict))
    assert result.verdict == "Uncertain"


def test_the_same_claim_wins_over_a_contradiction() -> None:
    result = reason(
        match("True", 0.95, "different", conflict=HAWAII, match_id="a"), match("True", 0.90, match_id="b")
    )
    assert result.verdict == "True"
    assert result.evidence_ids == ("b",)


@pytest.mark.parametrize("age", [0.0, 90.0, 365.0])
def test_older_matches_give_less_confidence(age: float) -> None:
    fresh = reason(match("True", 0.95)).confidence
    aged = reason(match("True", 0.95, age_days=age)).confidence
    assert aged <= fresh
    if age > 0:
        assert aged < fresh


def test_passages_are_cited_but_not_judged() -> None:
    passage = EvidencePassage(
        id="p1", text="Some passage.", source="lib", source_url=None, source_reliability=0.8, similarity=0.7
    )
    result = reason(evidence=[passage])
    assert result.verdict == "Uncertain"
    assert "p1" in result.evidence_ids
    assert "lib" in result.evidence_summary

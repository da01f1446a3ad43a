"""``POST /verify``: the pipeline behind admission control (memory and concurrency)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from fastapi import APIRouter, BackgroundTasks, Request, Response

from factmem import reasoning_trace as trace
from factmem.agents.base import EvidencePassage, NormalizedClaim, VerificationResult
from factmem.api.deps import ClientDep, PipelineDep, ServiceDep
from factmem.api.errors import request_id_of
from factmem.api.schemas import (
    ClaimVerificationOut,
    NormalizedClaimOut,
    ProviderCallOut,
    RetrievedEvidenceOut,
    VerificationResultOut,
    VerificationSummaryOut,
    VerifyRequest,
    VerifyResponse,
    WebSearchResultOut,
    error_responses,
)
from factmem.pipeline import TextVerification, Verification

router = APIRouter(tags=["verification"])


def claim_out(verification: Verification) -> ClaimVerificationOut:
    """One claim's part of the answer."""
    claim, result, write = verification.claim, verification.result, verification.write
    return ClaimVerificationOut(
        normalized_claim=normalized_out(claim),
        cache_hit=verification.cache_hit,
        verification_result=result_out(
            result, verification.fallback_reason, verification.trace, verification.web_search_used
        ),
        retrieved_evidence=[
            RetrievedEvidenceOut(
                id=m.id,
                claim_text=m.claim_text,
                verdict=m.verdict,
                confidence=m.confidence,
                source=m.source,
                source_url=m.source_url,
                source_reliability=m.source_reliability,
                similarity_score=round(m.similarity, 4),
                time_decayed_score=round(m.time_decayed_score, 4),
                # The record this verification just counted shows its count after this request, as the
                # top-level seen_count does (the match was read before the count went up).
                seen_count=write.seen_count if m.id == write.id else m.seen_count,
                timestamp=m.timestamp,
                relation=m.relation,
                verdict_by=m.verdict_by,
            )
            for m in verification.retrieval.matches
        ],
        web_search_results=[web_result_out(p) for p in verification.web_evidence]
        if verification.web_search_ran
        else None,
        web_search_used=verification.web_search_used,
        seen_count=write.seen_count,
        stored=write.stored,
        claim_id=write.id,
        timestamp=write.timestamp,
        timings_ms=verification.timings_ms,
        provider_calls=[ProviderCallOut(**asdict(call)) for call in verification.provider_calls],
    )


def result_out(
    result: VerificationResult, fallback_reason: str | None, steps: Sequence[str], web_search_used: bool
) -> VerificationResultOut:
    return VerificationResultOut(
        verdict=result.verdict,
        confidence=result.confidence,
        reasoning=result.reasoning,
        explanation=result.explanation,
        evidence_ids=list(result.evidence_ids),
        evidence_summary=result.evidence_summary,
        verdict_by=result.verdict_by,
        fallback_reason=fallback_reason,
        reasoning_trace=list(steps),
        web_search_used=web_search_used,
    )


def normalized_out(claim: NormalizedClaim) -> NormalizedClaimOut:
    return NormalizedClaimOut(
        original_text=claim.original_text,
        normalized_text=claim.normalized_text,
        entities=list(claim.entities),
        temporal_markers=list(claim.temporal_markers),
        source_type=claim.source_type,
    )


def web_result_out(passage: EvidencePassage) -> WebSearchResultOut:
    return WebSearchResultOut(
        id=passage.id,
        title=passage.title,
        url=passage.source_url or "",
        content=passage.text,
        source=passage.source,
        source_reliability=passage.source_reliability,
        score=passage.similarity,
        published_date=passage.published,
        provider=passage.provider,
    )


def to_response(text: TextVerification, request_id: str) -> VerifyResponse:
    """The answer: one claim's verification as it always was, or a text's overall one with ``claims``."""
    request_calls = [ProviderCallOut(**asdict(call)) for call in text.provider_calls]
    if text.single:
        single = claim_out(text.claims[0])
        single.provider_calls = request_calls + single.provider_calls
        single.verification_result.reasoning_trace[:0] = list(text.trace)
        return VerifyResponse(request_id=request_id, **dict(single))
    claims = [claim_out(v) for v in text.claims]
    first = claims[0]
    overall = text.overall()
    verdicts = [c.verification_result.verdict for c in claims]
    web_ran = [c.web_search_results for c in claims if c.web_search_results is not None]
    timings: dict[str, float] = {}
    for claim in claims:
        for agent, ms in claim.timings_ms.items():
            timings[agent] = round(timings.get(agent, 0.0) + ms, 3)
    return VerifyResponse(
        request_id=request_id,
        normalized_claim=normalized_out(text.split.text),
        cache_hit=all(c.cache_hit for c in claims),
        verification_result=result_out(
            overall,
            "; ".join(
                f"claim {n}: {c.verification_result.fallback_reason}"
                for n, c in enumerate(claims, start=1)
                if c.verification_result.fallback_reason
            )
            or None,
            [*text.trace, *(trace.claim_outcome(n, v) for n, v in enumerate(text.claims, 1))],
            any(c.web_search_used for c in claims),
        ),
        retrieved_evidence=list({m.id: m for c in claims for m in c.retrieved_evidence}.values()),
        web_search_results=list({r.id: r for results in web_ran for r in results}.values())
        if web_ran
        else None,
        web_search_used=any(c.web_search_used for c in claims),
        seen_count=first.seen_count,
        claim_id=first.claim_id,
        timestamp=first.timestamp,
        stored=all(c.stored for c in claims),
        timings_ms=timings,
        provider_calls=request_calls + [call for c in claims for call in c.provider_calls],
        claims=claims,
        summary=VerificationSummaryOut(
            claims=len(claims),
            verdicts={v: verdicts.count(v) for v in ("True", "False", "Uncertain")},  # type: ignore[misc]
            overall_verdict=overall.verdict,
            skipped_claims=text.split.skipped,
            split_by=text.split.split_by,
        ),
    )


@router.post(
    "/verify",
    response_model=VerifyResponse,
    responses=error_responses(400, 401, 413, 415, 422, 429, 503),
    dependencies=[ClientDep],
)
async def verify(
    body: VerifyRequest,
    request: Request,
    service: ServiceDep,
    pipeline: PipelineDep,
    background: BackgroundTasks,
) -> Response:
    """Verify a claim: a cached verdict for a claim seen recently, else retrieval, evidence and reasoning.

    The route itself only awaits: the work runs in worker threads holding one of the CPU slots, once
    admission let it in (503 + Retry-After when no slot is free or memory has no room), and the JSON is
    written there too (pydantic's Rust serializer), so the event loop that answers ``/health`` never
    serializes a response. ``response_model`` documents the body.
    """
    assert service.verifier is not None  # the pipeline dependency answered 503 before the service opened
    request_id = request_id_of(request)
    outcome: dict[str, bool] = {}

    def render(verification: TextVerification) -> str:
        outcome["cache_hit"] = all(claim.cache_hit for claim in verification.claims)
        return to_response(verification, request_id).model_dump_json()

    body_json = await service.verifier.verify(body.raw_text, render=render)
    request.state.outcome = "cache_hit" if outcome["cache_hit"] else "cache_miss"  # for the metrics
    if service.guard.after_request():
        background.add_task(service.guard.cleanup, "periodic")
    return Response(content=body_json, media_type="application/json")

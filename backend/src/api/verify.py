"""``POST /verify``: the pipeline behind admission control (memory and concurrency)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, BackgroundTasks, Request, Response

from factmem.api.deps import ClientDep, PipelineDep, ServiceDep
from factmem.api.errors import request_id_of
from factmem.api.schemas import (
    NormalizedClaimOut,
    ProviderCallOut,
    RetrievedEvidenceOut,
    VerificationResultOut,
    VerifyRequest,
    VerifyResponse,
    WebSearchResultOut,
    error_responses,
)
from factmem.pipeline import Verification

router = APIRouter(tags=["verification"])


def to_response(verification: Verification, request_id: str) -> VerifyResponse:
    claim, result, write = verification.claim, verification.result, verification.write
    return VerifyResponse(
        request_id=request_id,
        normalized_claim=NormalizedClaimOut(
            original_text=claim.original_text,
            normalized_text=claim.normalized_text,
            entities=list(claim.entities),
            temporal_markers=list(claim.temporal_markers),
            source_type=claim.source_type,
        ),
        cache_hit=verification.cache_hit,
        verification_result=VerificationResultOut(
            verdict=result.verdict,
            confidence=result.confidence,
            reasoning=result.reasoning,
            explanation=result.explanation,
            evidence_ids=list(result.evidence_ids),
            evidence_summary=result.evidence_summary,
            verdict_by=result.verdict_by,
            fallback_reason=verification.fallback_reason,
            reasoning_trace=list(verification.trace),
            web_search_used=verification.web_search_used,
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
        web_search_results=[
            WebSearchResultOut(
                id=p.id,
                title=p.title,
                url=p.source_url or "",
                content=p.text,
                source=p.source,
                source_reliability=p.source_reliability,
                score=p.similarity,
                published_date=p.published,
                provider=p.provider,
            )
            for p in verification.web_evidence
        ]
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

    def render(verification: Verification) -> str:
        outcome["cache_hit"] = verification.cache_hit
        return to_response(verification, request_id).model_dump_json()

    body_json = await service.verifier.verify(body.raw_text, render=render)
    request.state.outcome = "cache_hit" if outcome["cache_hit"] else "cache_miss"  # for the metrics
    if service.guard.after_request():
        background.add_task(service.guard.cleanup, "periodic")
    return Response(content=body_json, media_type="application/json")

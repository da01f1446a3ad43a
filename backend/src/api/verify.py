"""``POST /verify``: the pipeline behind admission control (memory and concurrency)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, BackgroundTasks, Request, Response

from factmem.api.deps import PipelineDep, ServiceDep
from factmem.api.errors import request_id_of
from factmem.api.schemas import (
    NormalizedClaimOut,
    RetrievedEvidenceOut,
    VerificationResultOut,
    VerifyRequest,
    VerifyResponse,
)
from factmem.api.service import Service
from factmem.errors import OverloadedError
from factmem.pipeline import Verification

router = APIRouter(tags=["verification"])


@contextmanager
def _verify_slot(service: Service) -> Iterator[None]:
    """At most ``MAX_CONCURRENT_REQUESTS`` verifications at once; beyond that, 503 instead of a queue."""
    if not service.verify_slots.acquire(blocking=False):
        service.record_shed("concurrency")
        raise OverloadedError(
            "too many concurrent verifications; retry shortly", service.settings.retry_after_s
        )
    try:
        yield
    finally:
        service.verify_slots.release()


def to_response(verification: Verification, request_id: str) -> VerifyResponse:
    claim, result = verification.claim, verification.result
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
        ),
        retrieved_evidence=[
            RetrievedEvidenceOut(
                id=m.id,
                claim_text=m.claim_text,
                verdict=m.verdict,
                confidence=m.confidence,
                source=m.source,
                source_reliability=m.source_reliability,
                similarity_score=round(m.similarity, 4),
                time_decayed_score=round(m.time_decayed_score, 4),
                seen_count=m.seen_count,
                timestamp=m.timestamp,
                relation=m.relation,
            )
            for m in verification.retrieval.matches
        ],
        web_search_results=None,
        web_search_used=False,
        seen_count=verification.write.seen_count,
        claim_id=verification.write.id,
        timestamp=verification.write.timestamp,
        timings_ms=verification.timings_ms,
    )


@router.post("/verify", response_model=VerifyResponse)
def verify(
    body: VerifyRequest,
    request: Request,
    service: ServiceDep,
    pipeline: PipelineDep,
    background: BackgroundTasks,
) -> Response:
    """Verify a claim: a cached verdict for a claim seen recently, else retrieval, evidence and reasoning.

    The JSON is written here, in the worker thread (pydantic's Rust serializer), and returned as a
    ``Response``: FastAPI then neither re-validates the model in one more thread hop nor serializes it on
    the event loop, which is what ``/health`` waits behind under load. ``response_model`` still documents it.
    Measured at concurrency 1 (1,500 requests, two runs each): repeat p50 3.5 -> 3.3 ms, 109 -> 112 req/s.
    """
    service.guard.admit()
    with _verify_slot(service):
        verification = pipeline.verify(body.raw_text)
    request.state.outcome = "cache_hit" if verification.cache_hit else "cache_miss"  # for the metrics
    if service.guard.after_request():
        background.add_task(service.guard.cleanup, "periodic")
    body_json = to_response(verification, request_id_of(request)).model_dump_json()
    return Response(content=body_json, media_type="application/json")

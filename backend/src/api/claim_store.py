"""The claim store over HTTP: read a claim, statistics, and the admin writes (curated claims, evidence)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from factmem.api.deps import AdminDep, PipelineDep, ServiceDep
from factmem.api.schemas import (
    ClaimOut,
    ClaimsIn,
    EvidenceIn,
    IngestOut,
    StatsOut,
    TopClaimOut,
    error_responses,
)
from factmem.errors import InputError, NotFoundError, StoreError, StoreUnavailableError
from factmem.ingest import IngestReport, ingest_claims, ingest_evidence
from factmem.store.base import ClaimStore
from factmem.store.ids import is_point_id

router = APIRouter(tags=["claim store"])


def durable(store: ClaimStore) -> None:
    """Flush an admin write before answering; a disk that fails now (after the write probe passed) gets a
    503, and the write stays pending for the periodic flush to retry."""
    try:
        store.flush()
    except StoreUnavailableError:
        raise
    except StoreError as exc:
        raise StoreUnavailableError(
            "the write reached the memory but the disk refused to make it durable; it is retried every "
            f"flush interval, and writes are refused until it succeeds ({exc})",
            disk_full=False,
        ) from exc


def _claim_out(point_id: str, payload: dict) -> ClaimOut:
    return ClaimOut(id=point_id, **{k: v for k, v in payload.items() if k in ClaimOut.model_fields})


@router.get("/claims/{claim_id}", response_model=ClaimOut, responses=error_responses(404, 422, 503))
def read_claim(claim_id: str, service: ServiceDep) -> ClaimOut:
    """A stored claim by id."""
    if not is_point_id(claim_id) or service.claim_store is None:
        raise NotFoundError(f"no claim with id {claim_id!r}")
    found = service.claim_store.retrieve([claim_id])
    if not found:
        raise NotFoundError(f"no claim with id {claim_id!r}")
    return _claim_out(found[0].id, found[0].payload)


@router.get("/stats", response_model=StatsOut, responses=error_responses(404, 503))
def stats(service: ServiceDep) -> StatsOut:
    """Size of the memory, the most repeated claims, and claims first seen in the last 24 hours."""
    claims, evidence = service.claim_store, service.evidence_store
    if claims is None or evidence is None:
        raise NotFoundError("stores are not open yet")
    top = claims.top_by_seen_count(10)
    return StatsOut(
        claims_count=claims.count(),
        claims_last_24h=claims.count(first_seen_since=time.time() - 86_400),
        evidence_count=evidence.count(),
        top_claims=[
            TopClaimOut(
                id=p.id,
                claim_text=str(p.payload.get("claim_text", "")),
                verdict=p.payload.get("verdict", "Uncertain"),
                seen_count=int(p.payload.get("seen_count", 0)),
            )
            for p in top
        ],
        store_backend=claims.backend,
        requests_admitted=service.admission.admitted,
        requests_shed=service.admission.refused_total,
    )


_ADMIN_ERRORS = error_responses(400, 401, 403, 413, 415, 422, 503, 507)


@router.post("/claims", response_model=IngestOut, dependencies=[AdminDep], responses=_ADMIN_ERRORS)
def add_claims(body: ClaimsIn, service: ServiceDep, pipeline: PipelineDep) -> IngestOut:
    """Store curated fact-checks (admin). The whole batch is checked before anything is written."""
    if len(body.claims) > service.settings.max_ingest_batch:
        raise InputError(
            f"at most {service.settings.max_ingest_batch} claims per request; got {len(body.claims)}"
        )
    problems = []
    for index, item in enumerate(body.claims):
        try:
            pipeline.normalizer.normalize(item.claim)
        except InputError as exc:
            problems.append(f"claims[{index}]: {exc}")
    if problems:
        raise InputError("; ".join(problems))
    pipeline.claim_store.require_writable(probe=True)  # a full or read-only disk: 507/503, nothing written
    report = ingest_claims(pipeline, body.claims, report=IngestReport())
    durable(pipeline.claim_store)  # curated data is durable before the 200, not within the flush interval
    return IngestOut(**report.as_dict())


@router.post("/evidence", response_model=IngestOut, dependencies=[AdminDep], responses=_ADMIN_ERRORS)
def add_evidence(body: EvidenceIn, service: ServiceDep, pipeline: PipelineDep) -> IngestOut:
    """Store evidence passages (admin) for the evidence agent to search."""
    if len(body.passages) > service.settings.max_ingest_batch:
        raise InputError(
            f"at most {service.settings.max_ingest_batch} passages per request; got {len(body.passages)}"
        )
    pipeline.evidence_store.require_writable(probe=True)
    report = ingest_evidence(pipeline, body.passages)
    durable(pipeline.evidence_store)
    return IngestOut(**report.as_dict())

"""Request and response bodies. Field names of ``/verify`` follow the system factmem replaces, so existing
front ends keep working; ``request_id`` and ``timings_ms`` are additions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from factmem.ingest import CuratedClaim, EvidencePassageIn

VerdictLiteral = Literal["True", "False", "Uncertain"]


# --- /verify ---


class VerifyRequest(BaseModel):
    """A claim to verify, as the user wrote it."""

    model_config = ConfigDict(extra="forbid")

    raw_text: StrictStr = Field(description="The claim, 1–2,000 characters, at least one letter.")


class NormalizedClaimOut(BaseModel):
    original_text: str
    normalized_text: str
    entities: list[str]
    temporal_markers: list[str]
    source_type: str


class VerificationResultOut(BaseModel):
    verdict: VerdictLiteral
    confidence: float
    reasoning: str
    explanation: str
    evidence_ids: list[str]
    evidence_summary: str


class RetrievedEvidenceOut(BaseModel):
    id: str
    claim_text: str
    verdict: VerdictLiteral
    confidence: float
    source: str
    source_reliability: float
    similarity_score: float
    time_decayed_score: float
    seen_count: int
    timestamp: str
    relation: str


class VerifyResponse(BaseModel):
    request_id: str
    normalized_claim: NormalizedClaimOut
    cache_hit: bool
    verification_result: VerificationResultOut
    retrieved_evidence: list[RetrievedEvidenceOut]
    web_search_results: list[dict[str, Any]] | None = None
    web_search_used: bool = False
    seen_count: int
    claim_id: str
    timestamp: str
    timings_ms: dict[str, float]


# --- memory ---


class ClaimOut(BaseModel):
    id: str
    claim_text: str
    verdict: VerdictLiteral
    confidence: float
    explanation: str
    source: str | None = None
    source_url: str | None = None
    source_reliability: float | None = None
    source_date: str | None = None
    origin: str | None = None
    seen_count: int
    first_seen: str | None = None
    last_seen: str | None = None
    timestamp: str | None = None


class ClaimsIn(BaseModel):
    """A batch of curated fact-checks to store."""

    claims: list[CuratedClaim] = Field(min_length=1)


class EvidenceIn(BaseModel):
    """A batch of evidence passages to store."""

    passages: list[EvidencePassageIn] = Field(min_length=1)


class IngestOut(BaseModel):
    inserted: int
    updated: int
    rejected: list[str]


class TopClaimOut(BaseModel):
    id: str
    claim_text: str
    verdict: VerdictLiteral
    seen_count: int


class StatsOut(BaseModel):
    claims_count: int
    claims_last_24h: int
    evidence_count: int
    top_claims: list[TopClaimOut]
    store_backend: str
    requests_admitted: int
    requests_shed: int


# --- operations ---


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["healthy", "degraded"]
    memory_mb: float
    memory_percent: float | None
    memory_limit_mb: float | None


class ErrorOut(BaseModel):
    detail: Any
    request_id: str

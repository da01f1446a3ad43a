"""Request and response bodies. Field names of ``/verify`` follow the system factmem replaces, so existing
front ends keep working; ``request_id`` and ``timings_ms`` are additions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from factmem.ingest import CuratedClaim, EvidencePassageIn
from factmem.text_checks import LETTER_PATTERN

VerdictLiteral = Literal["True", "False", "Uncertain"]


# --- /verify ---


class VerifyRequest(BaseModel):
    """A claim to verify, as the user wrote it."""

    model_config = ConfigDict(extra="forbid")

    raw_text: StrictStr = Field(
        description="The claim, 1–2,000 characters, at least one letter.",
        # documented, not enforced here: the normalizer refuses these with a 400 that says what to fix
        json_schema_extra={"minLength": 1, "maxLength": 2_000, "pattern": LETTER_PATTERN},
    )


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
    verdict_by: str = Field(
        description="Who produced the verdict: `local` (rules over the memory), `llm:<model>`, or `curated` "
        "(a person's fact-check served from memory)."
    )
    fallback_reason: str | None = Field(
        None,
        description="Set when a configured LLM did not give the verdict (failure, invalid answer, time "
        "budget): why, and the local reasoner answered instead.",
    )
    reasoning_trace: list[str] = Field(
        default_factory=list, description="The steps the agents took, in words for the user."
    )
    web_search_used: bool = Field(False, description="Whether web search results were before the reasoner.")


class RetrievedEvidenceOut(BaseModel):
    id: str
    claim_text: str
    verdict: VerdictLiteral
    confidence: float
    source: str
    source_url: str | None = Field(None, description="Where the stored verdict's source can be read.")
    source_reliability: float
    similarity_score: float
    time_decayed_score: float
    seen_count: int
    timestamp: str
    relation: str
    verdict_by: str


class WebSearchResultOut(BaseModel):
    """A web page found for the claim (cut to ``WEB_SEARCH_MAX_CHARS``); ``id`` is what verdicts cite."""

    id: str
    title: str | None
    url: str
    content: str
    source: str
    source_reliability: float
    score: float
    published_date: str | None
    provider: str


class ProviderCallOut(BaseModel):
    """One call to a remote provider made for this request (retries of it included)."""

    provider: Literal["llm", "web_search"]
    purpose: str
    outcome: Literal["ok", "invalid", "error", "cached"]
    model: str | None
    latency_ms: float
    attempts: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    detail: str | None


class ClaimVerificationOut(BaseModel):
    """One claim's verification: the whole answer for a single claim, one entry of ``claims`` for several."""

    normalized_claim: NormalizedClaimOut
    cache_hit: bool
    verification_result: VerificationResultOut
    retrieved_evidence: list[RetrievedEvidenceOut]
    web_search_results: list[WebSearchResultOut] | None = Field(
        None, description="Web results of this claim; null when web search did not run."
    )
    web_search_used: bool = False
    seen_count: int
    claim_id: str
    timestamp: str
    timings_ms: dict[str, float]
    stored: bool = Field(
        True,
        description="False when the memory refused the write (disk full or failing): the verdict stands, "
        "but this verification was not recorded and seen_count did not move.",
    )
    provider_calls: list[ProviderCallOut] = Field(
        default_factory=list, description="Calls to the LLM and web search, with tokens, cost and latency."
    )


class VerificationSummaryOut(BaseModel):
    """How the claims of a text came out, and the verdict of the text as a whole."""

    claims: int
    verdicts: dict[VerdictLiteral, int]
    overall_verdict: VerdictLiteral
    skipped_claims: int = Field(description="Claims found beyond MAX_CLAIMS_PER_REQUEST, not checked.")
    split_by: str = Field(description="`rules` (sentences and conjunctions) or `llm:<model>`.")


class VerifyResponse(ClaimVerificationOut):
    """For one claim, its verification (``claims`` and ``summary`` null). For a text making several claims,
    the top-level fields describe the text as a whole — the overall verdict, every claim's matches and web
    results — except ``seen_count``, ``claim_id`` and ``timestamp``, which are the first claim's; each claim
    is in ``claims``."""

    request_id: str
    claims: list[ClaimVerificationOut] | None = Field(
        None, description="Each claim of a text that makes several, verified and stored on its own."
    )
    summary: VerificationSummaryOut | None = None


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
    verdict_by: str | None = None
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


class StorageOut(BaseModel):
    """Whether the stores take writes, and if not why; sizes in MB."""

    model_config = ConfigDict(extra="forbid")

    writable: bool
    reason: str | None
    disk_free_mb: float | None
    disk_headroom_mb: float | None = Field(
        description="Free space minus what the store's files may still fill."
    )
    disk_reserve_mb: float | None
    flush_failures: int


class HealthOut(BaseModel):
    """``GET /health``: liveness, and the memory figures an operator needs (MB; ``null`` = unknown)."""

    model_config = ConfigDict(extra="forbid")  # a field /health adds must be documented here first

    status: Literal["healthy", "degraded"] = Field(
        description="degraded: over the soft memory threshold, shedding, startup failed or storage refusing"
    )
    memory_mb: float = Field(description="Resident set size (VmRSS).")
    memory_percent: float | None = Field(description="memory_mb as a percentage of memory_limit_mb.")
    memory_limit_mb: float | None = Field(
        description="The limit shed against: the setting or the container's."
    )
    rss_anon_mb: float | None = Field(description="Anonymous RSS: what a container's OOM killer counts.")
    rss_file_mb: float | None = Field(description="File-backed RSS (store mmap, libraries): droppable.")
    peak_rss_mb: float | None = Field(description="Peak RSS of the process (VmHWM).")
    vms_mb: float | None
    limit_source: Literal["setting", "cgroup_v2", "cgroup_v1", "none"]
    available_mb: float | None = Field(
        description="Room left under the limit (in a limited container: the limit less its working set)."
    )
    container_usage_mb: float | None = Field(
        description="The container's usage as the kernel counts it, page cache included."
    )
    container_working_set_mb: float | None = Field(
        description="Usage less inactive page cache (what docker stats shows); only under a container limit."
    )
    container_limit_mb: float | None
    oom_events: int | None
    oom_kill_events: int | None
    gc_counts: list[int]
    last_cleanup_released_mb: float | None
    started: bool = Field(description="Warm-up done: model loaded, memory seeded, index built.")
    ready: bool = Field(description="What /ready answers.")
    shedding: bool = Field(description="Anonymous memory over the hard threshold: /verify answers 503.")
    model_loaded: bool
    store_backend: str | None
    storage: StorageOut
    uptime_s: float
    requests_admitted: int
    requests_shed: int = Field(description="Requests refused with 503, for any reason.")
    cleanups: int
    version: str


class ErrorOut(BaseModel):
    """Every error answer: what went wrong (a sentence) and the request id to quote."""

    detail: Any
    request_id: str


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the field in the body ('body' for the body itself).")
    message: str


class ValidationErrorOut(BaseModel):
    """A 422: which fields are wrong and why (the input is never echoed back)."""

    detail: list[FieldProblem]
    request_id: str


class NotReadyOut(BaseModel):
    ready: Literal[False]
    reason: str


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}
_ERRORS: dict[int, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Unusable input (an empty or letterless claim, invalid JSON)."},
    401: {"model": ErrorOut, "description": "Missing or wrong admin or client key."},
    403: {"model": ErrorOut, "description": "Admin writes are disabled (no ADMIN_API_KEY on the server)."},
    404: {"model": ErrorOut, "description": "No such record."},
    413: {"model": ErrorOut, "description": "Request body over MAX_BODY_BYTES."},
    415: {"model": ErrorOut, "description": "Body not sent as application/json."},
    422: {"model": ValidationErrorOut, "description": "Wrong fields or types."},
    429: {
        "model": ErrorOut,
        "description": "Over the client's rate limit: retry after Retry-After seconds.",
        "headers": _RETRY_AFTER,
    },
    500: {"model": ErrorOut, "description": "Internal error: only the request id (details are in the log)."},
    507: {
        "model": ErrorOut,
        "description": "The data directory is below its free-space reserve (DISK_RESERVE_MB): nothing was "
        "written; writes resume by themselves once space is freed.",
        "headers": _RETRY_AFTER,
    },
    503: {
        "model": ErrorOut,
        "description": "Warming up, shedding load or not storing: retry after Retry-After seconds.",
        "headers": _RETRY_AFTER,
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's documented errors (500 is always possible)."""
    return {status: _ERRORS[status] for status in sorted({*statuses, 500})}

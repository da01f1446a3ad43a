"""Every setting of the service, read once from the environment (and an optional ``.env`` file).

One object so an operator finds every knob in one place (the README's table is generated from the same
names), and so tests can build a ``Settings(...)`` with overrides instead of patching globals.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from factmem.cpus import usable_cpus

_PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "password", "admin", "xxx", "todo"}


class Settings(BaseSettings):
    """Service configuration; each field is an environment variable of the same name in upper case."""

    # hide_input_in_errors: a validation error must not print the values it was given (API keys among them).
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", hide_input_in_errors=True
    )

    # --- server ---
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: verifications computing at once; unset: one per usable CPU (``cpu_slots``)
    max_concurrent_requests: int | None = Field(None, ge=1, le=256)
    max_queued_requests: int = Field(64, ge=0, le=4_096)
    max_queue_wait_s: float = Field(2.0, ge=0.0, le=60.0)
    max_body_bytes: int = Field(16_384, ge=1_024)
    max_header_bytes: int = Field(16_384, ge=1_024, le=65_536)
    request_read_timeout_s: float = Field(5.0, gt=0.0, le=300.0)
    max_in_flight_requests: int = Field(64, ge=1, le=10_000)
    max_connections: int = Field(1_024, ge=8, le=100_000)
    log_format: Literal["text", "json"] = "text"
    #: Origins (comma-separated) whose pages may call the API from a browser; ``*`` for any.
    cors_origins: str | None = "http://localhost:3000"
    #: Peers (IPs or CIDRs, comma-separated; ``*`` = whatever connects) whose X-Forwarded-For is believed.
    trusted_proxies: str | None = None

    # --- storage ---
    data_dir: Path = Path("data")
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_timeout_s: float = Field(10.0, gt=0)
    claims_collection: str = "factmem_claims"
    evidence_collection: str = "factmem_evidence"
    seed_on_empty: bool = True
    edge_wal: bool = False
    edge_flush_interval_s: float = Field(1.0, gt=0.0, le=300.0)
    disk_reserve_mb: int = Field(64, ge=0, le=1_000_000)
    seed_file: Path | None = None

    # --- embedding model ---
    model_dir: Path | None = None
    embedding_threads: int = Field(1, ge=1, le=16)
    embedding_cpu_arena: bool = False
    embedding_batch_size: int = Field(16, ge=1, le=256)
    embedding_concurrency: int = Field(1, ge=1, le=16)
    ingest_concurrency: int | None = Field(None, ge=1, le=16)
    ingest_malloc_mmap_threshold_kb: int = Field(0, ge=0, le=32_768)
    embedding_runtime_int8: bool = True
    embedding_int8_matmul: bool = True

    # --- retrieval, cache and memory update ---
    top_k: int = Field(10, ge=1, le=50)
    cache_similarity_threshold: float = Field(0.30, ge=0.0, le=1.0)
    cache_max_age_days: float = Field(30.0, ge=0.0)
    decay_sigma_days: float = Field(90.0, gt=0.0)
    dedup_similarity_threshold: float = Field(0.30, ge=0.0, le=1.0)
    hybrid_retrieval: bool = True
    rerank: bool = True
    vector_cache_size: int = Field(256, ge=0, le=100_000)

    # --- reasoning ---
    strong_match_similarity: float = Field(0.30, ge=0.0, le=1.0)
    min_evidence_similarity: float = Field(0.70, ge=0.0, le=1.0)
    uncertain_below_confidence: float = Field(0.5, ge=0.0, le=1.0)
    opposite_polarity_confidence_factor: float = Field(0.8, ge=0.0, le=1.0)
    contradiction_similarity: float = Field(0.75, ge=0.0, le=1.0)

    # --- input limits ---
    max_claim_chars: int = Field(2_000, ge=10, le=10_000)
    max_claims_per_request: int = Field(5, ge=1, le=20)
    max_ingest_batch: int = Field(500, ge=1, le=5_000)

    # --- memory protection ---
    memory_limit_mb: float | None = Field(512.0, gt=0)
    memory_cleanup_every: int = Field(10, ge=1)
    memory_soft_fraction: float = Field(0.80, gt=0.0, le=1.0)
    memory_hard_fraction: float = Field(0.95, gt=0.0, le=1.5)
    retry_after_s: int = Field(5, ge=1, le=600)
    malloc_arenas: int = Field(2, ge=0, le=64)
    malloc_mmap_threshold_kb: int = Field(128, ge=0, le=32_768)
    memory_release_file_pages: bool = True

    # --- LLM: any OpenAI-compatible chat-completions server (unset: the local reasoner alone) ---
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(15.0, gt=0.0, le=300.0)
    llm_max_tokens: int = Field(400, ge=64, le=8_192)
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_response_format: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    llm_verdict_reliability: float = Field(0.6, ge=0.0, le=1.0)
    llm_price_per_1k_input_tokens: float = Field(0.0, ge=0.0)
    llm_price_per_1k_output_tokens: float = Field(0.0, ge=0.0)
    llm_split_claims: bool = True
    #: Money (USD) the LLM and web search may cost per UTC day; past it: memory and local rules only.
    daily_spend_cap_usd: float | None = Field(None, ge=0.0)

    # --- web search: evidence for claims the memory cannot answer (none: no search) ---
    web_search_provider: Literal["none", "tavily", "searxng"] = "none"
    web_search_url: str | None = None
    web_search_api_key: SecretStr | None = None
    web_search_max_results: int = Field(5, ge=1, le=10)
    web_search_max_chars: int = Field(800, ge=100, le=4_000)
    web_search_timeout_s: float = Field(8.0, gt=0.0, le=120.0)
    web_search_cache_ttl_s: float = Field(3_600.0, ge=0.0)
    web_search_cache_size: int = Field(256, ge=0, le=10_000)
    web_search_price_per_request: float = Field(0.0, ge=0.0)

    # --- remote calls (LLM and web search) ---
    verify_time_budget_s: float = Field(20.0, gt=0.0, le=300.0)
    provider_max_retries: int = Field(2, ge=0, le=10)
    provider_breaker_failures: int = Field(5, ge=1, le=1_000)
    provider_breaker_cooldown_s: float = Field(30.0, gt=0.0, le=3_600.0)
    max_outbound_waiting: int = Field(64, ge=1, le=4_096)
    http_max_connections: int = Field(64, ge=1, le=1_024)

    # --- admin ---
    admin_api_key: SecretStr | None = None

    # --- public access: client keys and rate limits ---
    #: Keys for ``/verify`` (comma-separated); an entry ``sha256:<hex>`` is the hash of a key.
    client_api_keys: SecretStr | None = None
    #: A file of client keys, one ``sha256:<hex>`` hash (or ``name:sha256:<hex>``) per line.
    client_api_keys_file: Path | None = None
    rate_limit_per_key: str | None = None
    rate_limit_per_address: str | None = None

    @field_validator("llm_base_url", "web_search_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        parts = urlsplit(value) if value is not None else None
        if parts is not None and (parts.scheme not in {"http", "https"} or not parts.netloc):
            raise ValueError("must be an http(s) URL, e.g. https://api.groq.com/openai/v1")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("LLM_BASE_URL is set but LLM_MODEL is not: name the model to call")
        if self.web_search_provider == "tavily" and self.web_search_api_key is None:
            raise ValueError("WEB_SEARCH_PROVIDER=tavily needs WEB_SEARCH_API_KEY (tvly-...)")
        if self.web_search_provider == "searxng" and not self.web_search_url:
            raise ValueError(
                "WEB_SEARCH_PROVIDER=searxng needs WEB_SEARCH_URL (the instance, e.g. http://searxng:8080)"
            )
        return self

    @field_validator(
        "admin_api_key", "qdrant_api_key", "client_api_keys", "llm_api_key", "web_search_api_key"
    )
    @classmethod
    def _reject_placeholder_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        secret = value.get_secret_value()
        if not secret.strip():
            # an empty variable counts as unset; whitespace alone is a typo that would enable a guessable key
            raise ValueError("is only whitespace; set a real random secret (e.g. `openssl rand -hex 32`)")
        if secret.strip().lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a real random secret (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("rate_limit_per_key", "rate_limit_per_address")
    @classmethod
    def _parse_rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            from limits import parse_many  # small; only where a limit is configured

            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate like '30/minute' or '5/second;100/hour'") from exc
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        """``none`` switches CORS off (an empty variable is ignored, so it cannot)."""
        origins = _split_list(self.cors_origins)
        return [] if [o.lower() for o in origins] == ["none"] else origins

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split_list(self.trusted_proxies)

    @property
    def model_path(self) -> Path:
        """The model directory (and its converted variants): ``MODEL_DIR``, else ``DATA_DIR/model``."""
        return self.model_dir or self.data_dir / "model"

    @property
    def llm_configured(self) -> bool:
        """True when verdicts may come from an LLM (``LLM_BASE_URL`` and ``LLM_MODEL`` set)."""
        return bool(self.llm_base_url and self.llm_model)

    @property
    def cpu_slots(self) -> int:
        """``MAX_CONCURRENT_REQUESTS``, else one slot per CPU this process may use (:mod:`factmem.cpus`)."""
        return self.max_concurrent_requests or usable_cpus()

    @property
    def bulk_embedding_calls(self) -> int:
        """Model calls at once for the operator commands that embed in bulk (ingest, ingest-evidence, import):
        ``INGEST_CONCURRENCY``, else one per CPU this process may use. The server keeps
        ``EMBEDDING_CONCURRENCY``: there a core stays free for the event loop."""
        return self.ingest_concurrency or usable_cpus()

    def for_bulk_embedding(self) -> Settings:
        """These settings as the commands that embed in bulk run them (ingest, ingest-evidence, import, the
        benchmark's memory builds): ``bulk_embedding_calls`` model calls at once, and glibc's mmap
        threshold from ``INGEST_MALLOC_MMAP_THRESHOLD_KB``. The server's fixed threshold hands each call's
        activations back to the OS and faults fresh pages in for the next call; a bulk load, which makes
        tens of thousands of calls and then exits, reuses them instead (the README's ingest rate)."""
        return self.model_copy(
            update={
                "embedding_concurrency": self.bulk_embedding_calls,
                "malloc_mmap_threshold_kb": self.ingest_malloc_mmap_threshold_kb,
            }
        )

    @property
    def in_flight_limit(self) -> int:
        """Requests served at once: ``MAX_IN_FLIGHT_REQUESTS``, plus the ``MAX_OUTBOUND_WAITING`` that may be
        parked on a remote provider when one is configured (they hold no CPU slot; cache hits must still
        get in while they wait)."""
        waiting = self.max_outbound_waiting if self.providers_configured else 0
        return self.max_in_flight_requests + waiting

    @property
    def web_search_configured(self) -> bool:
        """True when claims the memory cannot answer are searched on the web."""
        return self.web_search_provider != "none"

    @property
    def providers_configured(self) -> bool:
        """True when any remote provider is configured (then the process opens one shared HTTP client)."""
        return self.llm_configured or self.web_search_configured

    @property
    def uses_remote_qdrant(self) -> bool:
        """True when claims live in a Qdrant server shared by several instances."""
        return bool(self.qdrant_url)


def _split_list(value: str | None) -> list[str]:
    """A comma-separated setting as a list (environment variables are flat strings)."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()

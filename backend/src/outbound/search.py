"""Web search as an evidence source: the Tavily search API or a SearXNG instance, chosen by settings.

A search runs only for a claim the memory could not answer from a cache hit. Its results are bounded
(``WEB_SEARCH_MAX_RESULTS``, ``WEB_SEARCH_MAX_CHARS`` per result, markup removed), kept in a small TTL cache
(a claim asked again within ``WEB_SEARCH_CACHE_TTL_S`` is not searched again), given a source reliability
from the domain table (:mod:`factmem.outbound.reliability`) and handed to the reasoner as passages with a
stable id (``web:`` + a hash of the URL). What a page says is data: it reaches the LLM inside the JSON
document, never as an instruction.

A third engine is a class with a ``name`` and ``async request(query, limit, deadline) -> Delivered`` whose
answer is JSON with a ``results`` list of objects with ``url``, ``title``, ``content`` (and optionally
``score`` and a publication date).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from factmem.agents.base import EvidencePassage, NormalizedClaim
from factmem.errors import ProviderError
from factmem.outbound import Outbound
from factmem.outbound.deadline import Deadline
from factmem.outbound.reliability import source_domain, source_reliability
from factmem.outbound.resilience import Delivered, ResilientEndpoint, endpoint_from_settings
from factmem.outbound.usage import CallLog, Pricing, ProviderCall
from factmem.settings import Settings
from factmem.text_checks import unicode_problem

#: The longest query sent: a claim is at most MAX_CLAIM_CHARS, search engines cut far shorter.
MAX_QUERY_CHARS = 400
TAVILY_URL = "https://api.tavily.com"

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class WebResult:
    """One search result as an engine returned it (already cleaned and cut)."""

    title: str
    url: str
    content: str
    score: float | None
    published: str | None


class SearchEngine(Protocol):
    """A web search API."""

    name: str

    async def request(self, query: str, limit: int, deadline: Deadline) -> Delivered:
        """Send the search; the answer is parsed by ``WebEvidence`` (same shape for every engine)."""
        ...


class TavilySearch:
    """``POST {base}/search`` with ``Authorization: Bearer <key>`` (https://docs.tavily.com)."""

    name = "tavily"

    def __init__(self, endpoint: ResilientEndpoint, base_url: str, api_key: SecretStr) -> None:
        self._endpoint = endpoint
        self._url = base_url.rstrip("/") + "/search"
        self._api_key = api_key

    async def request(self, query: str, limit: int, deadline: Deadline) -> Delivered:
        body = {
            "query": query,
            "max_results": limit,
            "search_depth": "basic",
            "topic": "general",
            "include_answer": False,
            "include_raw_content": False,
            "include_images": False,
        }
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        return await self._endpoint.request("POST", self._url, deadline=deadline, json=body, headers=headers)


class SearxngSearch:
    """``GET {base}/search?q=...&format=json`` of a SearXNG instance (its settings must enable ``json``)."""

    name = "searxng"

    def __init__(self, endpoint: ResilientEndpoint, base_url: str) -> None:
        self._endpoint = endpoint
        self._url = base_url.rstrip("/") + "/search"

    async def request(self, query: str, limit: int, deadline: Deadline) -> Delivered:
        # SearXNG returns its own number of results (no limit parameter); they are cut afterwards.
        params = {"q": query, "format": "json", "safesearch": "1", "categories": "general"}
        return await self._endpoint.request("GET", self._url, deadline=deadline, params=params)


def raw_results(delivered: Delivered, engine: str) -> list[dict[str, Any]]:
    """The ``results`` of an engine's answer; ``ProviderError`` when it failed or is not a result list."""
    status = delivered.response.status_code
    try:
        body = delivered.response.json()
    except ValueError:
        body = None
    if status == 403 and engine == "searxng":
        raise ProviderError("searxng answered HTTP 403 (is the json format enabled in its settings.yml?)")
    if status != 200:
        raise ProviderError(f"{engine} answered HTTP {status}")
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ProviderError(f"{engine} answered something that is not a list of results")
    return [item for item in body["results"] if isinstance(item, dict)]


def clean_text(value: Any, limit: int) -> str:
    """Plain text, at most ``limit`` characters: tags removed, entities decoded, whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()
    # Also drops lone surrogates (category Cs is not printable): JSON allows their escapes, UTF-8 does not.
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def to_web_result(raw: dict[str, Any], max_chars: int) -> WebResult | None:
    """A clean, bounded result, or None when it has no http(s) URL or no text."""
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2_000:
        return None
    if unicode_problem(url) is not None:  # a lone surrogate (JSON allows the escape) names no page
        return None
    content = clean_text(raw.get("content"), max_chars)
    if not content:
        return None
    score = raw.get("score")
    published = raw.get("published_date") or raw.get("publishedDate")
    return WebResult(
        title=clean_text(raw.get("title"), 300),
        url=url,
        content=content,
        score=float(score) if isinstance(score, int | float) and math.isfinite(score) else None,
        published=clean_text(published, 40) or None,
    )


def web_passage_id(url: str) -> str:
    """Stable across requests, so a stored verdict's ``evidence_ids`` still name the page."""
    return "web:" + hashlib.blake2b(url.encode(), digest_size=8).hexdigest()


def to_passage(result: WebResult, rank: int, engine: str) -> EvidencePassage:
    # Engines score on different scales (SearXNG's is unbounded); the rank is comparable, kept in (0, 1].
    similarity = min(1.0, max(0.0, result.score)) if result.score is not None else 1.0 / (1 + rank)
    return EvidencePassage(
        id=web_passage_id(result.url),
        text=result.content,
        source=source_domain(result.url) or engine,
        source_url=result.url,
        source_reliability=source_reliability(result.url),
        similarity=round(similarity, 4),
        provider=engine,
        published=result.published,
        title=result.title or None,
    )


class TtlCache:
    """Results of recent queries: at most ``size`` entries, each for ``ttl_s`` seconds (0 turns it off)."""

    def __init__(self, size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, tuple[EvidencePassage, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[EvidencePassage, ...] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: tuple[EvidencePassage, ...]) -> None:
        if self.size <= 0 or self.ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class WebEvidence:
    """The web as an evidence provider (``RemoteEvidenceProvider``); built once per process."""

    provider = "web_search"

    def __init__(
        self,
        engine: SearchEngine,
        *,
        max_results: int,
        max_chars: int,
        cache: TtlCache,
        pricing: Pricing,
    ) -> None:
        self.engine = engine
        self.max_results = max_results
        self.max_chars = max_chars
        self.cache = cache
        self.pricing = pricing

    @property
    def name(self) -> str:
        return self.engine.name

    async def search(
        self, claim: NormalizedClaim, *, deadline: Deadline, log: CallLog
    ) -> list[EvidencePassage]:
        """Passages about the claim, best first; raises ``ProviderError`` when the engine cannot be used."""
        query = claim.normalized_text[:MAX_QUERY_CHARS]
        key = f"{self.engine.name}\x00{query.lower()}"
        cached = self.cache.get(key)
        if cached is not None:
            log.record(self._call("cached", time.perf_counter(), 0))
            return list(cached)
        started = time.perf_counter()
        attempts = 0
        try:
            delivered = await self.engine.request(query, self.max_results, deadline)
            attempts = delivered.attempts
            raw = raw_results(delivered, self.engine.name)
        except ProviderError as exc:
            log.record(self._call("error", started, attempts + exc.attempts, detail=str(exc)))
            raise
        except asyncio.CancelledError:  # the request's time budget ran out mid-call
            log.record(self._call("error", started, attempts + 1, detail="cut at the time budget"))
            raise
        results = [r for r in (to_web_result(item, self.max_chars) for item in raw) if r is not None]
        passages = tuple(
            to_passage(result, rank, self.engine.name)
            for rank, result in enumerate(_unique(results)[: self.max_results])
        )
        self.cache.put(key, passages)
        log.record(self._call("ok", started, attempts))
        return list(passages)

    def _call(self, outcome: str, started: float, attempts: int, detail: str | None = None) -> ProviderCall:
        return ProviderCall(
            provider=self.provider,
            purpose="search",
            outcome=outcome,
            latency_ms=round((time.perf_counter() - started) * 1000.0, 1),
            attempts=attempts,
            cost_usd=self.pricing.cost_usd(0, 0, requests=1 if outcome == "ok" else 0),
            model=self.engine.name,
            detail=detail,
        )


def _unique(results: Sequence[WebResult]) -> list[WebResult]:
    seen: set[str] = set()
    unique = []
    for result in results:
        if result.url not in seen:
            seen.add(result.url)
            unique.append(result)
    return unique


def web_evidence_from_settings(settings: Settings, outbound: Outbound) -> WebEvidence:
    """The configured engine (``WEB_SEARCH_PROVIDER``) with its bounds, cache and price."""
    endpoint = endpoint_from_settings(
        "web_search", outbound.http, settings, timeout_s=settings.web_search_timeout_s
    )
    engine: SearchEngine
    if settings.web_search_provider == "tavily":
        assert settings.web_search_api_key is not None, "validated by Settings"
        engine = TavilySearch(endpoint, settings.web_search_url or TAVILY_URL, settings.web_search_api_key)
    else:
        assert settings.web_search_url, "validated by Settings"
        engine = SearxngSearch(endpoint, settings.web_search_url)
    return WebEvidence(
        engine,
        max_results=settings.web_search_max_results,
        max_chars=settings.web_search_max_chars,
        cache=TtlCache(settings.web_search_cache_size, settings.web_search_cache_ttl_s),
        pricing=Pricing(per_request=settings.web_search_price_per_request),
    )

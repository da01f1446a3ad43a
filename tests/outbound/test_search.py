"""Web search against real HTTP servers on loopback speaking the Tavily and SearXNG protocols.

What is sent, how results are bounded and cleaned, their ids and reliability, the TTL cache, failures.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from factmem.agents.base import EvidencePassage, NormalizedClaim
from factmem.errors import ProviderError
from factmem.outbound.deadline import Deadline
from factmem.outbound.reliability import DEFAULT_RELIABILITY, source_reliability
from factmem.outbound.resilience import CircuitBreaker, ResilientEndpoint, RetryPolicy
from factmem.outbound.search import (
    SearchEngine,
    SearxngSearch,
    TavilySearch,
    TtlCache,
    WebEvidence,
    web_passage_id,
)
from factmem.outbound.usage import CallLog, Pricing
from factmem_bench.provider_servers import ProviderServer, Reply, searxng_results, tavily_results

TAVILY_KEY = "tvly-test-5e4d3c2b1a09f8e7"
CLAIM = NormalizedClaim(
    "did u know the moon landing was faked", "The moon landing was faked.", "moon landing"
)


@pytest.fixture(autouse=True)
def fresh(provider: ProviderServer) -> None:
    provider.clear()


def endpoint(http: httpx.AsyncClient, retries: int = 1) -> ResilientEndpoint:
    return ResilientEndpoint(
        "web_search",
        http,
        timeout_s=5.0,
        retry=RetryPolicy(max_retries=retries, base_delay_s=0.01),
        breaker=CircuitBreaker(failures=50, cooldown_s=30),
    )


def search(
    make_engine: Any,
    *,
    cache: TtlCache | None = None,
    max_results: int = 5,
    max_chars: int = 800,
    times: int = 1,
) -> tuple[list[list[EvidencePassage]], CallLog]:
    log = CallLog(None)

    async def scenario() -> list[list[EvidencePassage]]:
        async with httpx.AsyncClient() as http:
            engine: SearchEngine = make_engine(endpoint(http))
            web = WebEvidence(
                engine,
                max_results=max_results,
                max_chars=max_chars,
                cache=cache or TtlCache(16, 3600),
                pricing=Pricing(per_request=0.008),
            )
            return [await web.search(CLAIM, deadline=Deadline(10), log=log) for _ in range(times)]

    return asyncio.run(scenario()), log


def test_tavily_is_asked_with_a_bearer_key_and_bounded_results(provider: ProviderServer) -> None:
    [passages], log = search(lambda e: TavilySearch(e, provider.url, SecretStr(TAVILY_KEY)), max_results=3)
    [sent] = provider.received("tavily")
    assert sent.method == "POST" and sent.path == "/search"
    assert sent.headers["authorization"] == f"Bearer {TAVILY_KEY}"
    assert sent.json["query"] == "The moon landing was faked."
    assert sent.json["max_results"] == 3 and sent.json["include_answer"] is False
    assert [p.source for p in passages] == ["snopes.com", "en.wikipedia.org"]
    assert passages[0].id == web_passage_id("https://www.snopes.com/fact-check/scripted/")
    assert passages[0].source_reliability == 0.9 and passages[1].source_reliability == 0.75
    assert passages[0].provider == "tavily" and passages[0].similarity == 0.9
    [call] = log.calls
    assert (call.provider, call.purpose, call.outcome, call.cost_usd) == ("web_search", "search", "ok", 0.008)


def test_searxng_is_asked_for_json_and_its_results_are_cleaned_and_cut(provider: ProviderServer) -> None:
    noisy = [
        {
            "url": "https://example.org/a",
            "title": "<b>A</b>",
            "content": "<p>Tom &amp; Jerry</p>  " + "x" * 900,
        },
        {"url": "javascript:alert(1)", "title": "bad", "content": "no http url"},
        {"url": "https://example.org/b", "title": "empty", "content": "   "},
        {"url": "https://example.org/a", "title": "duplicate", "content": "the same page again"},
        {"url": "https://cdc.gov/c", "title": "C", "content": "Official.", "publishedDate": "2024-03-01"},
        {"url": "https://example.org/\ud800", "title": "lone surrogate in the url", "content": "dropped"},
        {"url": "https://example.org/d", "title": "T\udfff", "content": "Lone \ud800surrogate"},
    ]
    provider.searxng.push(searxng_results(noisy))
    [passages], _ = search(lambda e: SearxngSearch(e, provider.searxng_url), max_chars=120)
    [sent] = provider.received("searxng")
    assert (
        sent.method == "GET" and sent.query["format"] == "json" and sent.query["q"] == CLAIM.normalized_text
    )
    assert [p.source_url for p in passages] == [
        "https://example.org/a",
        "https://cdc.gov/c",
        "https://example.org/d",
    ]
    first = passages[0]
    assert first.text.startswith("Tom & Jerry x") and len(first.text) == 120 and first.text.endswith("…")
    assert first.title == "A" and first.source_reliability == DEFAULT_RELIABILITY
    assert passages[1].published == "2024-03-01" and passages[1].source_reliability == 0.9
    assert (passages[2].title, passages[2].text) == ("T", "Lone surrogate")  # valid Unicode, storable


def test_the_same_query_within_the_ttl_is_not_sent_again(provider: ProviderServer) -> None:
    results, log = search(lambda e: SearxngSearch(e, provider.searxng_url), times=2)
    assert len(provider.received("searxng")) == 1
    assert results[0] == results[1]
    assert [c.outcome for c in log.calls] == ["ok", "cached"]
    assert log.calls[1].cost_usd == 0.0


def test_the_cache_forgets_after_the_ttl_and_stays_bounded() -> None:
    now = [0.0]
    cache = TtlCache(size=2, ttl_s=60, clock=lambda: now[0])
    cache.put("a", ())
    cache.put("b", ())
    cache.put("c", ())
    assert len(cache) == 2 and cache.get("a") is None
    now[0] = 61
    assert cache.get("b") is None and cache.get("c") is None
    assert TtlCache(size=0, ttl_s=60).get("a") is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(status=403, text="Forbidden"), "json format enabled"),
        (Reply(body={"unexpected": True}), "not a list of results"),
        (Reply(text="<html>maintenance</html>"), "not a list of results"),
        (Reply(status=502, text="bad gateway"), r"HTTP 502 \(2 attempts\)"),
    ],
)
def test_failures_are_provider_errors(provider: ProviderServer, reply: Reply, message: str) -> None:
    provider.searxng.reset(reply)
    try:
        with pytest.raises(ProviderError, match=message):
            search(lambda e: SearxngSearch(e, provider.searxng_url))
    finally:
        provider.searxng.reset(searxng_results([]))


def test_tavily_answer_is_bounded_in_count(provider: ProviderServer) -> None:
    many = [{"url": f"https://site{i}.example/", "content": f"result {i}", "score": 0.5} for i in range(12)]
    provider.tavily.push(tavily_results(many))
    [passages], _ = search(lambda e: TavilySearch(e, provider.url, SecretStr(TAVILY_KEY)), max_results=4)
    assert len(passages) == 4


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.snopes.com/fact-check/x", 0.9),
        ("https://de.wikipedia.org/wiki/X", 0.75),
        ("https://www.cdc.gov/x", 0.9),
        ("https://data.ca.gov/x", 0.85),
        ("https://www.ox.ac.uk.example.com/", DEFAULT_RELIABILITY),
        ("https://www.reddit.com/r/x", 0.3),
        ("https://notsnopes.com/", DEFAULT_RELIABILITY),
        (None, DEFAULT_RELIABILITY),
    ],
)
def test_source_reliability_table(url: str | None, expected: float) -> None:
    assert source_reliability(url) == expected

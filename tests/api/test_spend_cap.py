"""A daily spend cap on paid providers: once today's spending reaches it, claims are judged from memory and
by the local rules, the response says why, and the LLM server receives nothing more.

In-process app, real model and stores; the LLM is the scripted chat-completions server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_harness import running_app

from factmem.spend_cap import DailySpendCap
from factmem_bench.provider_servers import ProviderServer, judge

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def test_past_the_cap_the_llm_is_not_called_and_the_answer_says_why(
    tmp_path: Path, provider: ProviderServer
) -> None:
    provider.llm.reset(judge("False", 0.9))
    provider.clear()
    overrides = {
        "llm_base_url": provider.llm_base_url,
        "llm_model": "scripted-llama-8b",
        "llm_price_per_1k_input_tokens": 1.0,  # one judged claim costs well over the cap
        "daily_spend_cap_usd": 0.01,
    }
    with running_app(tmp_path, **overrides) as (client, _):
        first = client.post("/verify", json={"raw_text": "The Ossington canal froze solid in 1903."}).json()
        second = client.post("/verify", json={"raw_text": "The Ossington canal had twelve locks."}).json()
        spent = client.get("/metrics").text
    assert first["verification_result"]["verdict_by"].startswith("llm:")
    assert sum(call["cost_usd"] for call in first["provider_calls"]) > 0.01
    assert second["provider_calls"] == []
    result = second["verification_result"]
    assert result["verdict_by"] == "local"
    assert "daily spend cap" in result["fallback_reason"] and "$0.01" in result["fallback_reason"]
    assert any("Did not ask the LLM" in step for step in result["reasoning_trace"])
    assert len(provider.received("llm")) == 1
    assert "factmem_provider_spent_today_usd" in spent


def test_a_cap_of_zero_keeps_the_service_local(tmp_path: Path, provider: ProviderServer) -> None:
    provider.llm.reset(judge("True", 0.9))
    provider.clear()
    overrides = {"llm_base_url": provider.llm_base_url, "llm_model": "m", "daily_spend_cap_usd": 0.0}
    with running_app(tmp_path, **overrides) as (client, _):
        body = client.post("/verify", json={"raw_text": "The Ossington canal froze solid in 1903."}).json()
    assert body["verification_result"]["verdict_by"] == "local"
    assert provider.received("llm") == []


def test_the_cap_reads_todays_spending_each_time() -> None:
    spent = [0.0]
    cap = DailySpendCap(1.0, lambda: spent[0])
    assert cap.allows_llm()
    spent[0] = 1.0
    assert not cap.allows_llm()
    spent[0] = 0.0  # a new UTC day: the accounting was reset
    assert cap.allows_llm()
    assert DailySpendCap(None, lambda: 1e9).allows_llm()

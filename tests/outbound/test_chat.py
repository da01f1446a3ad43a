"""The chat-completions client against a real HTTP server on loopback that speaks the protocol.

Format negotiation, retries with Retry-After, the circuit breaker, timeouts, refused connections, what is
sent (model, messages, response_format, auth header) and that the key never reaches a log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from factmem.errors import InvalidAnswer, ProviderError
from factmem.outbound.chat import ChatCompletionsClient, ChatSettings, strip_wrapping
from factmem.outbound.deadline import Deadline
from factmem.outbound.resilience import CircuitBreaker, ResilientEndpoint, RetryPolicy
from factmem.outbound.usage import CallLog, Pricing, ProviderUsage
from factmem_bench.provider_servers import ProviderServer, Reply, chat_reply, free_port

API_KEY = "sk-test-4f1c2b9e77aa0d6e"
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
MESSAGES = [{"role": "system", "content": "answer JSON"}, {"role": "user", "content": '{"claim": "x"}'}]


@pytest.fixture(autouse=True)
def fresh_script(provider: ProviderServer) -> None:
    provider.llm.reset(chat_reply('{"ok": true}'))
    provider.clear()


def make_client(
    http: httpx.AsyncClient,
    base_url: str,
    *,
    response_format: str = "auto",
    retries: int = 2,
    breaker: CircuitBreaker | None = None,
    timeout_s: float = 5.0,
) -> ChatCompletionsClient:
    endpoint = ResilientEndpoint(
        "llm",
        http,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_retries=retries, base_delay_s=0.01),
        breaker=breaker or CircuitBreaker(failures=50, cooldown_s=30),
    )
    settings = ChatSettings(
        base_url=base_url,
        model="scripted-model-8b",
        api_key=SecretStr(API_KEY),
        max_tokens=300,
        temperature=0.0,
        response_format=response_format,  # type: ignore[arg-type]
        pricing=Pricing(per_1k_input_tokens=0.5, per_1k_output_tokens=1.5),
    )
    return ChatCompletionsClient(endpoint, settings)


def parse_ok(content: str) -> bool:
    try:
        return bool(json.loads(content)["ok"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidAnswer("not the object asked for") from exc


async def ask(client: ChatCompletionsClient, log: CallLog, budget_s: float = 10.0) -> bool:
    return await client.complete(
        list(MESSAGES),
        schema=SCHEMA,
        schema_name="answer",
        purpose="judge",
        deadline=Deadline(budget_s),
        log=log,
        parse=parse_ok,
    )


def run(coroutine_factory: Any) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient() as http:
            return await coroutine_factory(http)

    return asyncio.run(main())


def test_sends_model_messages_schema_and_bearer_key(provider: ProviderServer) -> None:
    log = CallLog(ProviderUsage())

    async def scenario(http: httpx.AsyncClient) -> bool:
        return await ask(make_client(http, provider.llm_base_url), log)

    assert run(scenario) is True
    [sent] = provider.received("llm")
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.json["model"] == "scripted-model-8b"
    assert sent.json["messages"] == MESSAGES
    assert sent.json["temperature"] == 0.0 and sent.json["max_tokens"] == 300
    assert sent.json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": SCHEMA},
    }
    [call] = log.calls
    assert (call.outcome, call.attempts, call.input_tokens, call.output_tokens) == ("ok", 1, 120, 40)
    assert call.cost_usd == pytest.approx(120 / 1000 * 0.5 + 40 / 1000 * 1.5)
    assert call.model == "scripted-model-8b"


def test_a_refused_format_steps_down_once_and_is_remembered(provider: ProviderServer) -> None:
    refused = Reply(status=400, body={"error": {"message": "response_format json_schema is not supported"}})
    provider.llm.push(refused, refused)

    async def scenario(http: httpx.AsyncClient) -> str:
        client = make_client(http, provider.llm_base_url)
        await ask(client, CallLog(None))
        await ask(client, CallLog(None))
        return client.mode

    assert run(scenario) == "text"
    formats = [r.json.get("response_format", {}).get("type") for r in provider.received("llm")]
    # json_schema refused, json_object refused, plain instruction accepted; the next request starts there.
    assert formats == ["json_schema", "json_object", None, None]


def test_a_forced_format_is_never_stepped_down(provider: ProviderServer) -> None:
    provider.llm.push(Reply(status=400, body={"error": {"message": "bad request"}}))

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url, response_format="json_object"), CallLog(None))

    with pytest.raises(ProviderError, match="HTTP 400"):
        run(scenario)
    assert [r.json["response_format"] for r in provider.received("llm")] == [{"type": "json_object"}]


@pytest.mark.e2e  # waits the 1 s the server asks for
def test_429_waits_the_retry_after_then_succeeds(provider: ProviderServer) -> None:
    provider.llm.push(Reply(status=429, body={"error": "slow down"}, headers={"Retry-After": "1"}))
    log = CallLog(None)
    started = time.monotonic()

    async def scenario(http: httpx.AsyncClient) -> bool:
        return await ask(make_client(http, provider.llm_base_url), log)

    assert run(scenario) is True
    assert time.monotonic() - started >= 1.0, "Retry-After honoured"
    assert log.calls[0].attempts == 2 and log.calls[0].outcome == "ok"


def test_a_retry_after_past_the_budget_is_not_waited(provider: ProviderServer) -> None:
    provider.llm.push(Reply(status=429, body={}, headers={"Retry-After": "30"}))
    started = time.monotonic()

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url), CallLog(None), budget_s=3.0)

    with pytest.raises(ProviderError, match="would pass the time budget"):
        run(scenario)
    assert time.monotonic() - started < 1.0


def test_500s_are_retried_then_reported(provider: ProviderServer) -> None:
    provider.llm.reset(Reply(status=500, text="Internal Server Error"))
    log = CallLog(ProviderUsage())

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url, retries=2), log)

    with pytest.raises(ProviderError, match=r"HTTP 500 \(3 attempts\)"):
        run(scenario)
    assert len(provider.received("llm")) == 3
    assert log.calls[0].outcome == "error" and log.calls[0].attempts == 3


def test_connection_refused_is_a_provider_error() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, closed, retries=1), CallLog(None))

    with pytest.raises(ProviderError, match="could not be reached"):
        run(scenario)


@pytest.mark.e2e  # waits out a 1 s deadline
def test_a_slow_answer_times_out_within_the_deadline(provider: ProviderServer) -> None:
    provider.llm.reset(chat_reply('{"ok": true}', delay_s=3.0))
    started = time.monotonic()

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url, retries=3), CallLog(None), budget_s=1.0)

    with pytest.raises(ProviderError):
        run(scenario)
    assert time.monotonic() - started < 1.6, "no attempt may run past the deadline"


def test_the_breaker_opens_after_failures_and_lets_one_trial_through_after_the_cooldown(
    provider: ProviderServer,
) -> None:
    provider.llm.reset(Reply(status=503, text="down"))
    now = [1000.0]
    breaker = CircuitBreaker(failures=3, cooldown_s=30, clock=lambda: now[0])

    async def scenario(http: httpx.AsyncClient) -> list[str]:
        client = make_client(http, provider.llm_base_url, retries=0, breaker=breaker)
        errors = []
        for _ in range(5):
            try:
                await ask(client, CallLog(None))
            except ProviderError as exc:
                errors.append(str(exc))
        provider.llm.reset(chat_reply('{"ok": true}'))
        now[0] += 31  # cool-down over: one trial call, which succeeds and closes the breaker
        await ask(client, CallLog(None))
        errors.append(breaker.state)
        return errors

    errors = run(scenario)
    assert len(provider.received("llm")) == 4, "3 failures, then nothing until the cool-down, then 1 trial"
    assert "not called for 30 s" in errors[3] and "not called" in errors[4]
    assert errors[-1] == "closed"


def test_invalid_content_is_recorded_as_invalid_with_its_content(provider: ProviderServer) -> None:
    provider.llm.push(chat_reply("I think the claim is true."))
    log = CallLog(None)

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url), log)

    with pytest.raises(InvalidAnswer) as raised:
        run(scenario)
    assert raised.value.content == "I think the claim is true."
    assert log.calls[0].outcome == "invalid" and log.calls[0].input_tokens == 120


def test_the_key_never_reaches_the_log_even_when_the_server_echoes_it(
    provider: ProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}"}}
    provider.llm.reset(Reply(status=401, body=echo))
    caplog.set_level(logging.DEBUG)

    async def scenario(http: httpx.AsyncClient) -> None:
        await ask(make_client(http, provider.llm_base_url), CallLog(None))

    with pytest.raises(ProviderError) as raised:
        run(scenario)
    assert API_KEY not in str(raised.value)
    assert "Incorrect API key provided: ***" in caplog.text
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"a": 1}', '{"a": 1}'),
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('<think>hmm {"b": 2}</think>\n{"a": 1}', '{"a": 1}'),
        ('Here you go: {"a": 1} Hope this helps', '{"a": 1}'),
    ],
)
def test_wrapping_around_the_json_is_removed(content: str, expected: str) -> None:
    assert strip_wrapping(content) == expected

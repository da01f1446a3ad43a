"""A client of the OpenAI chat-completions protocol: Groq, OpenAI, OpenRouter, Together, Mistral, Ollama,
vLLM, llama.cpp server, LM Studio — anything that serves ``POST {base}/chat/completions``. Plain httpx.

Structured output differs between servers, so the client asks for the strongest form and steps down when a
server refuses it with a 400/422: ``response_format`` ``json_schema`` (the server enforces the schema),
then ``json_object`` (valid JSON, any shape), then no ``response_format`` at all (the instruction in the
prompt is all there is). What a server accepted is remembered for the life of the process, so a refusal is
paid once, not on every request. The answer is always validated by the caller, whatever the server promised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
from pydantic import SecretStr

from factmem.errors import InvalidAnswer, ProviderError
from factmem.outbound import Outbound
from factmem.outbound.deadline import Deadline
from factmem.outbound.resilience import ResilientEndpoint, endpoint_from_settings
from factmem.outbound.usage import CallLog, Pricing, ProviderCall
from factmem.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

FormatMode = Literal["json_schema", "json_object", "text"]
#: Strongest first; a refusal steps one down.
FORMAT_MODES: tuple[FormatMode, ...] = ("json_schema", "json_object", "text")

# Some models wrap JSON in a Markdown fence or put a "thinking" block before it; neither is the answer.
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True)
class ChatAnswer:
    """The assistant's text and what producing it cost."""

    content: str
    input_tokens: int
    output_tokens: int
    mode: FormatMode
    #: ``length`` when the answer was cut at ``max_tokens`` (then it is rarely valid JSON).
    finish_reason: str | None


@dataclass(frozen=True)
class ChatSettings:
    """What the operator configured (``LLM_*`` settings)."""

    base_url: str
    model: str
    api_key: SecretStr | None
    max_tokens: int
    temperature: float
    response_format: Literal["auto", "json_schema", "json_object", "text"]
    pricing: Pricing


class ChatCompletionsClient:
    """Sends chat completions for one configured model; one per process (the pipeline's agent cache)."""

    provider = "llm"

    def __init__(self, endpoint: ResilientEndpoint, settings: ChatSettings) -> None:
        self._endpoint = endpoint
        self.settings = settings
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        forced = settings.response_format
        #: The strongest format this server is known (or assumed) to accept; steps down on a refusal.
        self.mode: FormatMode = "json_schema" if forced == "auto" else forced
        self._may_step_down = forced == "auto"

    @property
    def model(self) -> str:
        return self.settings.model

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any],
        schema_name: str,
        purpose: str,
        deadline: Deadline,
        log: CallLog,
        parse: Callable[[str], T],
    ) -> T:
        """One completion whose content should be a JSON object following ``schema``, parsed by ``parse``.

        The call is recorded in ``log`` as ``ok``, ``invalid`` (``parse`` raised ``InvalidAnswer``) or
        ``error``, with its tokens, cost and latency.

        Raises:
            ProviderError: the server could not be used (after retries, or the deadline passed), or it
                refused every response format.
            InvalidAnswer: the content did not parse (``content`` holds it, for a repair request).
        """
        started = time.perf_counter()
        attempts = 0
        try:
            while True:
                mode = self.mode
                delivered = await self._endpoint.request(
                    "POST",
                    self._url,
                    deadline=deadline,
                    json=self._body(messages, mode, schema, schema_name),
                    headers=self._headers(),
                )
                attempts += delivered.attempts
                response = delivered.response
                if response.status_code in (400, 422) and mode != "text" and self._may_step_down:
                    self._step_down(mode, response)
                    continue
                answer = self._parse(response, mode)
                break
        except ProviderError as exc:
            log.record(self._call(purpose, "error", started, attempts + exc.attempts, detail=str(exc)))
            raise
        except asyncio.CancelledError:  # the request's time budget ran out mid-call
            log.record(self._call(purpose, "error", started, attempts + 1, detail="cut at the time budget"))
            raise
        tokens = (answer.input_tokens, answer.output_tokens)
        try:
            parsed = parse(answer.content)
        except InvalidAnswer as exc:
            log.record(self._call(purpose, "invalid", started, attempts, *tokens, detail=str(exc)))
            exc.content = answer.content
            raise
        log.record(self._call(purpose, "ok", started, attempts, *tokens))
        return parsed

    def _call(
        self,
        purpose: str,
        outcome: str,
        started: float,
        attempts: int,
        input_tokens: int = 0,
        output_tokens: int = 0,
        detail: str | None = None,
    ) -> ProviderCall:
        return ProviderCall(
            provider=self.provider,
            purpose=purpose,
            outcome=outcome,
            latency_ms=round((time.perf_counter() - started) * 1000.0, 1),
            attempts=attempts,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self.settings.pricing.cost_usd(input_tokens, output_tokens, requests=0),
            model=self.model,
            detail=detail,
        )

    def _headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}

    def _body(
        self, messages: list[dict[str, str]], mode: FormatMode, schema: dict[str, Any], schema_name: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "stream": False,
        }
        if mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "strict": True, "schema": schema},
            }
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def _step_down(self, refused: FormatMode, response: httpx.Response) -> None:
        lower = FORMAT_MODES[FORMAT_MODES.index(refused) + 1]
        if self.mode == refused:  # another request may have stepped down meanwhile
            self.mode = lower
        logger.warning(
            "llm refused response_format %s with HTTP %d; using %s from now on (%s)",
            refused,
            response.status_code,
            lower,
            self._redact(_error_message(response))[:200],
        )

    def _redact(self, text: str) -> str:
        key = self.settings.api_key
        secret = key.get_secret_value() if key is not None else ""
        return text.replace(secret, "***") if len(secret) >= 4 else text

    def _parse(self, response: httpx.Response, mode: FormatMode) -> ChatAnswer:
        if response.status_code != 200:
            # The server's message goes to the log only: some echo (part of) the key they refused.
            logger.warning(
                "llm answered HTTP %d: %s", response.status_code, self._redact(_error_message(response))[:300]
            )
            raise ProviderError(f"llm answered HTTP {response.status_code}")
        try:
            body = response.json()
            choice = body["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError("llm answered something that is not a chat completion") from exc
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("llm answered with an empty message")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return ChatAnswer(
            content=strip_wrapping(content),
            input_tokens=_count(usage.get("prompt_tokens")),
            output_tokens=_count(usage.get("completion_tokens")),
            mode=mode,
            finish_reason=choice.get("finish_reason") if isinstance(choice, dict) else None,
        )


def chat_client_from_settings(settings: Settings, outbound: Outbound) -> ChatCompletionsClient:
    """The client of the configured model (``LLM_*`` settings); the LLM must be configured."""
    assert settings.llm_base_url and settings.llm_model, "LLM_BASE_URL and LLM_MODEL are required"
    endpoint = endpoint_from_settings("llm", outbound.http, settings, timeout_s=settings.llm_timeout_s)
    return ChatCompletionsClient(
        endpoint,
        ChatSettings(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            response_format=settings.llm_response_format,
            pricing=Pricing(
                per_1k_input_tokens=settings.llm_price_per_1k_input_tokens,
                per_1k_output_tokens=settings.llm_price_per_1k_output_tokens,
            ),
        ),
    )


def strip_wrapping(content: str) -> str:
    """The JSON inside an answer: without a thinking block, a Markdown fence or prose around the object."""
    text = _THINKING.sub("", content).strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            text = text[start : end + 1]
    return text


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _error_message(response: httpx.Response) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": ...}}``), else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(body.get("detail"), str):
            return body["detail"]
    return json.dumps(body)[:200]

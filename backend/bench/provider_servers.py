"""Scripted stand-ins for the remote providers, speaking their real protocols over real HTTP on loopback.

One Starlette app serves all three protocols factmem calls:

- OpenAI chat completions: ``POST /v1/chat/completions``;
- the Tavily search API: ``POST /search``;
- a SearXNG instance: ``GET /searxng/search?q=...&format=json``.

Each protocol answers from a queue of scripted ``Reply`` values (status, JSON or raw body, headers, delay),
falling back to a default reply or a function of the request; every request is recorded (path, headers,
JSON body) so tests can check what the service sent. The server runs under uvicorn in a thread of the
calling process (``ProviderServer``) or on its own (``python -m factmem_bench.provider_servers --port N
--delay 2``, what the benchmark's providers phase starts), answering ``GET /health`` for launchers.

Used by the tests and the benchmark; the service never imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from factmem_bench.server import free_port


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    #: A raw body instead of JSON (for answers that are not JSON at all).
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def response(self) -> Response:
        if self.text is not None:
            return Response(self.text, self.status, headers=self.headers, media_type="text/plain")
        # ASCII escapes, as many real servers write them: they can carry a lone surrogate ("\\ud800"), which
        # JSON allows and UTF-8 cannot, so the tests can send one.
        body = json.dumps(self.body, ensure_ascii=True)
        return Response(body, self.status, headers=self.headers, media_type="application/json")


ReplyFactory = Callable[[dict[str, Any]], Reply]


def chat_reply(content: str, *, input_tokens: int = 120, output_tokens: int = 40, **reply: Any) -> Reply:
    """A chat completion whose assistant message is ``content``."""
    body = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "scripted",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    }
    return Reply(body=body, **reply)


def prompt_document(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON data document factmem puts in the (first) user message of a judging request."""
    for message in request.get("messages", []):
        if message.get("role") == "user":
            try:
                document = json.loads(message["content"])
            except (TypeError, ValueError):
                continue
            if isinstance(document, dict):
                return document
    return {}


def given_ids(request: dict[str, Any]) -> list[str]:
    """The source ids a judging request offered for citation (memory first, then evidence)."""
    document = prompt_document(request)
    return [item["id"] for key in ("memory", "evidence") for item in document.get(key, [])]


def verdict_json(verdict: str = "False", confidence: float = 0.9, cite: list[str] | None = None) -> str:
    explanation = "Scripted judgement" + (f" citing [{', '.join(cite)}]." if cite else ".")
    return json.dumps(
        {"verdict": verdict, "confidence": confidence, "explanation": explanation, "cited_ids": cite or []}
    )


def judge(verdict: str = "False", confidence: float = 0.9, **reply: Any) -> ReplyFactory:
    """A valid judgement that cites the first id the request offered (none when none was)."""

    def answer(request: dict[str, Any]) -> Reply:
        ids = given_ids(request)
        return chat_reply(verdict_json(verdict, confidence, ids[:1]), **reply)

    return answer


def is_split_request(request: dict[str, Any]) -> bool:
    """Whether a chat request asks to split a text into claims (its data is ``{"text": ...}``)."""
    return "text" in prompt_document(request) and "claim" not in prompt_document(request)


def claims_reply(*claims: str, **reply: Any) -> Reply:
    """An answer to a split request: these claims, without entities or dates."""
    found = [{"claim": claim, "entities": [], "dates": []} for claim in claims]
    return chat_reply(json.dumps({"claims": found}), **reply)


def by_request(split: Reply | ReplyFactory, judgement: Reply | ReplyFactory) -> ReplyFactory:
    """Answers split requests with ``split`` and judging requests with ``judgement``."""

    def answer(request: dict[str, Any]) -> Reply:
        chosen = split if is_split_request(request) else judgement
        return chosen(request) if callable(chosen) else chosen

    return answer


def keep_text_whole(**reply: Any) -> ReplyFactory:
    """A split that finds one claim: the text itself."""
    return lambda request: claims_reply(prompt_document(request)["text"], **reply)


def tavily_results(results: list[dict[str, Any]], **reply: Any) -> Reply:
    return Reply(body={"query": "scripted", "results": results, "response_time": 0.1}, **reply)


def searxng_results(results: list[dict[str, Any]], **reply: Any) -> Reply:
    return Reply(body={"query": "scripted", "number_of_results": len(results), "results": results}, **reply)


@dataclass(frozen=True)
class Recorded:
    """A request the server received."""

    protocol: str
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any


class Script:
    """Replies of one protocol: queued ones first, then the default (a ``Reply`` or a function)."""

    def __init__(self, default: Reply | ReplyFactory) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply | ReplyFactory] = deque()
        self.default = default

    def push(self, *replies: Reply | ReplyFactory) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self, default: Reply | ReplyFactory) -> None:
        with self._lock:
            self._queue.clear()
            self.default = default

    def next(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            chosen = self._queue.popleft() if self._queue else self.default
        return chosen(request) if callable(chosen) else chosen


def default_search_results() -> list[dict[str, Any]]:
    return [
        {
            "title": "A fact-check",
            "url": "https://www.snopes.com/fact-check/scripted/",
            "content": "Fact-checkers rated this claim false after reviewing the record.",
            "score": 0.9,
        },
        {
            "title": "An encyclopedia article",
            "url": "https://en.wikipedia.org/wiki/Scripted",
            "content": "The encyclopedia's account of the subject, with sources.",
            "score": 0.7,
        },
    ]


class ProviderApp:
    """The Starlette app and its scripts; ``requests`` holds everything received, oldest first."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.llm = Script(by_request(keep_text_whole(delay_s=delay_s), judge(delay_s=delay_s)))
        self.tavily = Script(tavily_results(default_search_results(), delay_s=delay_s))
        self.searxng = Script(searxng_results(default_search_results(), delay_s=delay_s))
        #: Bounded: the benchmark sends thousands of requests to one server.
        self.requests: deque[Recorded] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/search", self._tavily, methods=["POST"]),
                Route("/searxng/search", self._searxng, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    def received(self, protocol: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.protocol == protocol]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    async def _answer(self, protocol: str, script: Script, request: Request) -> Response:
        body: Any = None
        if request.method == "POST":
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        recorded = Recorded(
            protocol,
            request.method,
            request.url.path,
            dict(request.headers),
            dict(request.query_params),
            body,
        )
        with self._lock:
            self.requests.append(recorded)
        reply = script.next(body if isinstance(body, dict) else {"query": dict(request.query_params)})
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return reply.response()

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _chat(self, request: Request) -> Response:
        return await self._answer("llm", self.llm, request)

    async def _tavily(self, request: Request) -> Response:
        return await self._answer("tavily", self.tavily, request)

    async def _searxng(self, request: Request) -> Response:
        return await self._answer("searxng", self.searxng, request)


class ProviderServer(ProviderApp):
    """The provider app under uvicorn on loopback, in a thread of this process."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__(delay_s)
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            # Never reconfigure the logging of the process it runs in (tests, the benchmark): no config, and
            # no level set on uvicorn's loggers.
            log_config=None,
            log_level=None,
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="provider-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def llm_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def searxng_url(self) -> str:
        return f"{self.url}/searxng"

    def start(self) -> ProviderServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted provider server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Scripted LLM + search providers on loopback.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")) or None, required=False)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    args = parser.parse_args()
    if not args.port:
        parser.error("--port (or PORT in the environment) is required")
    provider = ProviderApp(delay_s=args.delay)
    uvicorn.run(provider.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

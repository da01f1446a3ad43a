"""What remote providers cost: calls, tokens, money and latency, per request and per process.

Every call to a provider becomes one ``ProviderCall`` (retries of one call included). A request keeps its own
calls in a ``CallLog`` (the ``/verify`` response shows them); the process adds them up in ``ProviderUsage``,
which ``/metrics`` exports and a daily spend cap can read (``spent_today_usd``). Prices are the operator's
(settings per 1,000 tokens or per search): providers price differently and change their prices.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

#: Latency buckets of provider calls, in seconds: a search takes ~1 s, a small LLM 0.3-3 s, a large one more.
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)


@dataclass(frozen=True)
class Pricing:
    """The operator's prices, in US dollars (0 for a self-hosted model or a free search)."""

    per_1k_input_tokens: float = 0.0
    per_1k_output_tokens: float = 0.0
    per_request: float = 0.0

    def cost_usd(self, input_tokens: int, output_tokens: int, requests: int = 1) -> float:
        return (
            input_tokens / 1000 * self.per_1k_input_tokens
            + output_tokens / 1000 * self.per_1k_output_tokens
            + requests * self.per_request
        )


@dataclass(frozen=True)
class ProviderCall:
    """One call to a provider as a request saw it (all its attempts)."""

    #: ``llm`` or ``web_search``.
    provider: str
    #: Why it was called: ``judge``, ``repair``, ``split`` (LLM) or ``search``.
    purpose: str
    #: ``ok``, ``invalid`` (answered, but unusably), ``error`` (failed) or ``cached`` (not sent).
    outcome: str
    latency_ms: float
    attempts: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: The model (LLM) or search engine that answered.
    model: str | None = None
    #: Why it failed or was invalid, in words fit for a user (never a key or a raw answer).
    detail: str | None = None


@dataclass
class ProviderTotals:
    """A provider's totals since the process started."""

    calls: dict[str, int] = field(default_factory=dict)  # by outcome
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    latency_sum_s: float = 0.0

    def copy(self) -> ProviderTotals:
        return ProviderTotals(
            dict(self.calls),
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            list(self.latency_bucket_counts),
            self.latency_sum_s,
        )


def _utc_today() -> date:
    return datetime.now(UTC).date()


class ProviderUsage:
    """Process-wide totals per provider; thread-safe (the event loop writes, a scrape may read)."""

    def __init__(self, today: Callable[[], date] = _utc_today) -> None:
        self._today = today
        self._lock = threading.Lock()
        self._totals: dict[str, ProviderTotals] = {}
        self._day = today()
        self._spent_today: dict[str, float] = {}

    def record(self, call: ProviderCall) -> None:
        if call.outcome == "cached":
            with self._lock:
                totals = self._totals.setdefault(call.provider, ProviderTotals())
                totals.calls["cached"] = totals.calls.get("cached", 0) + 1
            return
        seconds = call.latency_ms / 1000.0
        bucket = next((i for i, bound in enumerate(LATENCY_BUCKETS_S) if seconds <= bound), -1)
        with self._lock:
            totals = self._totals.setdefault(call.provider, ProviderTotals())
            totals.calls[call.outcome] = totals.calls.get(call.outcome, 0) + 1
            totals.input_tokens += call.input_tokens
            totals.output_tokens += call.output_tokens
            totals.cost_usd += call.cost_usd
            totals.latency_bucket_counts[bucket] += 1
            totals.latency_sum_s += seconds
            self._roll_day()
            self._spent_today[call.provider] = self._spent_today.get(call.provider, 0.0) + call.cost_usd

    def snapshot(self) -> dict[str, ProviderTotals]:
        """A copy of every provider's totals."""
        with self._lock:
            return {name: totals.copy() for name, totals in self._totals.items()}

    def spent_today_usd(self, provider: str | None = None) -> float:
        """Money spent since 00:00 UTC, on one provider or on all (what a daily spend cap compares)."""
        with self._lock:
            self._roll_day()
            if provider is not None:
                return self._spent_today.get(provider, 0.0)
            return sum(self._spent_today.values())

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._spent_today.clear()


class CallLog:
    """The provider calls of one request, also added to the process's totals."""

    def __init__(self, usage: ProviderUsage | None) -> None:
        self.usage = usage
        self.calls: list[ProviderCall] = []

    def record(self, call: ProviderCall) -> ProviderCall:
        self.calls.append(call)
        if self.usage is not None:
            self.usage.record(call)
        return call

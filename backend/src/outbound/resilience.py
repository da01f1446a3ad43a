"""Calling a remote provider without letting it take the service down: a deadline, retries, a breaker.

- ``Deadline``: the time one ``/verify`` may spend on remote calls (``VERIFY_TIME_BUDGET_S``); every attempt's
  timeout and every back-off sleep is cut to what is left of it.
- Retries on 429, 5xx and transport errors, with exponential back-off and full jitter, honouring the
  provider's ``Retry-After`` (seconds or an HTTP date); a wait longer than the budget left is not waited.
- ``CircuitBreaker``: after ``failures`` failed calls in a row a provider is not called for ``cooldown_s``;
  then one trial call decides whether it is back. Requests meanwhile fail at once (and the local reasoner
  answers) instead of each waiting for a timeout.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from factmem.errors import ProviderError
from factmem.outbound.deadline import Deadline
from factmem.settings import Settings

logger = logging.getLogger(__name__)

#: Statuses worth another attempt: rate limited, or the server (or a proxy before it) failed.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Statuses that say the provider is not usable as configured (wrong key, URL or model): they count
#: against the breaker like an outage. A 400 or 422 is an answer about this request, not an outage.
CONFIGURATION_STATUS = frozenset({401, 403, 404})
#: An attempt with less time than this left cannot get an answer; fail at once instead.
_MIN_ATTEMPT_S = 0.05


class CircuitBreaker:
    """Closed (calls go through) → open after consecutive failures → half-open after the cool-down.

    Half-open lets one trial call through at a time: its success closes the breaker, its failure opens it
    for another cool-down. Used from the event loop only.
    """

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def retry_in_s(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.failures_to_open:
            if self._opened_at is None or self._trial_running:
                logger.warning(
                    "circuit opened after %d failure(s); no calls for %.0f s", self._failures, self.cooldown_s
                )
            self._opened_at = self._clock()
        self._trial_running = False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one call is retried (within the request's deadline)."""

    max_retries: int
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0

    def backoff_s(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(max, base·2^retry)] (spreads retries of many requests apart)."""
        return random.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**retry))


def retry_after_s(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Delivered:
    """A response that is not worth retrying (2xx or a client error), and how many attempts it took."""

    response: httpx.Response
    attempts: int


class ResilientEndpoint:
    """One remote provider's HTTP calls, with retries, a per-attempt timeout and a circuit breaker.

    Args:
        name: The provider as users and logs see it (``llm``, ``web_search``); never a URL or key.
        http: The process's shared client (connection pool, keep-alive).
        timeout_s: The longest a single attempt may take (cut to the deadline's remainder).
        retry: Retries on 429/5xx/transport errors.
        breaker: Stops calling after repeated failures.
    """

    def __init__(
        self,
        name: str,
        http: httpx.AsyncClient,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
    ) -> None:
        self.name = name
        self.http = http
        self.timeout_s = timeout_s
        self.retry = retry
        self.breaker = breaker

    async def request(self, method: str, url: str, *, deadline: Deadline, **kwargs: Any) -> Delivered:
        """Send until a non-retryable answer, the retries are spent, or the deadline is near.

        Raises:
            ProviderError: circuit open, deadline spent, transport failure or a retryable status that
                persisted; the message is fit for a user (no URL, no key).
        """
        attempt = 0
        failure = ""
        while True:
            timeout = min(self.timeout_s, deadline.remaining())
            if timeout <= _MIN_ATTEMPT_S:
                raise ProviderError(f"{self.name}: no time left in this request's budget", attempt)
            if not self.breaker.allow():
                paused = (
                    f"{self.name} is not called for {self.breaker.retry_in_s():.0f} s after repeated failures"
                )
                # Opened by this request's own failures: say what failed first.
                raise ProviderError(
                    f"{failure} ({attempt} attempts); {paused}" if failure else paused, attempt
                )
            attempt += 1
            try:
                response = await self.http.request(method, url, timeout=timeout, **kwargs)
            except httpx.TimeoutException as exc:
                failure, wait = f"{self.name} timed out after {timeout:.1f} s", None
                logger.warning("%s: %s on attempt %d", self.name, type(exc).__name__, attempt)
            except httpx.TransportError as exc:
                failure, wait = f"{self.name} could not be reached ({_transport_reason(exc)})", None
                logger.warning("%s: %s on attempt %d", self.name, type(exc).__name__, attempt)
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    if response.status_code in CONFIGURATION_STATUS:
                        self.breaker.failed()
                    else:
                        self.breaker.succeeded()
                    return Delivered(response, attempt)
                failure, wait = f"{self.name} answered HTTP {response.status_code}", retry_after_s(response)
                logger.warning("%s: HTTP %d on attempt %d", self.name, response.status_code, attempt)
            self.breaker.failed()
            retry = attempt - 1
            if retry >= self.retry.max_retries:
                raise ProviderError(f"{failure} ({attempt} attempt{'s' if attempt > 1 else ''})", attempt)
            pause = wait if wait is not None else self.retry.backoff_s(retry)
            if pause >= deadline.remaining():
                asked = " as asked by the provider" if wait is not None else ""
                raise ProviderError(
                    f"{failure}; waiting {pause:.1f} s{asked} would pass the time budget", attempt
                )
            await asyncio.sleep(pause)


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed mid-answer"
    return type(exc).__name__


def endpoint_from_settings(
    name: str, http: httpx.AsyncClient, settings: Settings, *, timeout_s: float
) -> ResilientEndpoint:
    """A provider's endpoint with the retry and breaker settings every provider shares."""
    return ResilientEndpoint(
        name,
        http,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_retries=settings.provider_max_retries),
        breaker=CircuitBreaker(settings.provider_breaker_failures, settings.provider_breaker_cooldown_s),
    )

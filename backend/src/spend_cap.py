"""A daily cap on what paid providers may cost: past it, the service answers from memory and the local
reasoner until 00:00 UTC.

A public ``/verify`` that calls a paid LLM (and a paid web search) is a bill anyone can run up; rate limits
bound requests per client, the cap bounds the total. It reads the process's own accounting of provider
calls (``ProviderUsage.spent_today_usd``: every provider, reset at 00:00 UTC, priced by the operator's
``*_PRICE_*`` settings), so it keeps no state of its own. A call already under way when the cap is crossed
finishes; the next claim is not sent. One process counts its own spending: with several instances each has
the cap (see the README, "From one instance to a cluster").
"""

from __future__ import annotations

from collections.abc import Callable


class DailySpendCap:
    """Whether the LLM may be called now, given today's spending."""

    def __init__(self, cap_usd: float | None, spent_today_usd: Callable[[], float]) -> None:
        self.cap_usd = cap_usd
        self._spent_today_usd = spent_today_usd

    def allows_llm(self) -> bool:
        return self.cap_usd is None or self._spent_today_usd() < self.cap_usd

    def reason(self) -> str:
        """What the response says when the cap has been reached."""
        return (
            f"the daily spend cap on paid providers (${self.cap_usd:.2f}) is reached; answered from memory "
            "and the local rules until 00:00 UTC"
        )

"""A daily cap on what the LLM may cost: past it, the service answers from memory and the local reasoner.

A public ``/verify`` that calls a paid model is a bill anyone can run up; rate limits bound requests per
client, the cap bounds the total. It reads the process's own accounting of provider calls
(``factmem.outbound.usage.ProviderUsage.spent_today_usd``, reset at 00:00 UTC), so it needs no state of its
own and costs nothing when no cap is set. One process counts its own spending: with several instances each
has the cap (see the README, "From one instance to a cluster").
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
            f"the daily LLM spend cap (${self.cap_usd:.2f}) is reached; answered from memory and the local "
            "reasoner until 00:00 UTC"
        )

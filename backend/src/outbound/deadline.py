"""The time budget of one verification's remote calls (``VERIFY_TIME_BUDGET_S``)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """A point in time (monotonic clock) by which one verification's remote calls must be done."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

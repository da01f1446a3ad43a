"""Time: one clock for the service, and the Gaussian decay that makes old verdicts count for less."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the format every stored timestamp uses."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_iso(text: str) -> datetime:
    """Parse a stored timestamp (or a plain date); naive values are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def age_days(then_ts: float, now: datetime) -> float:
    """Days between a Unix time and now (never negative: clocks of several instances may disagree)."""
    return max(0.0, (now.timestamp() - then_ts) / 86_400.0)


def gaussian_decay(age: float, sigma_days: float) -> float:
    """1.0 for a fresh verdict, ~0.61 at one sigma, ~0.14 at two."""
    return math.exp(-(age * age) / (2.0 * sigma_days * sigma_days))


def time_decayed_score(similarity: float, age: float, sigma_days: float) -> float:
    """Similarity discounted by age, never below half of it: an old verdict is weaker, not worthless."""
    return similarity * (0.5 + 0.5 * gaussian_decay(age, sigma_days))

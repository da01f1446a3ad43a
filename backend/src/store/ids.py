"""Point ids derived from a claim's comparison key, so the same claim always lands on the same point."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://factmem.dev/claims")


def claim_point_id(comparison_key: str) -> str:
    """A stable UUID for a claim: a retried or concurrent insert of one claim targets one point."""
    return str(uuid.uuid5(_NAMESPACE, comparison_key))


def evidence_point_id(text: str, source_url: str | None) -> str:
    """A stable UUID for an evidence passage (same passage from the same source: same point)."""
    return str(uuid.uuid5(_NAMESPACE, f"evidence\x00{source_url or ''}\x00{text}"))


def is_point_id(value: str) -> bool:
    """Whether a path parameter can be a point id at all (rejects garbage before touching the store)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

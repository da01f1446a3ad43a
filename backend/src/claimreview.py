"""schema.org ClaimReview (what fact-checkers publish) -> factmem's curated-claim records.

A ClaimReview says which claim was checked (``claimReviewed``), how it was rated (``reviewRating``: a textual
``alternateName`` such as "False" or "Pants on Fire", and often a numeric ``ratingValue`` between
``worstRating`` and ``bestRating``), by whom (``author``), where (``url``), when (``datePublished``) and the
article's headline (``headline`` / ``name``). factmem keeps three verdicts, so ratings map as below;
anything the table does not know ("Half True", "Missing context", "Satire") is Uncertain rather than a
guess. A file may hold one review, a list of them, a ``@graph``, or a data feed (``dataFeedElement`` with an
``item`` list); JSONL files may hold one review per line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Textual ratings, casefolded, as fact-checkers write them (PolitiFact, Snopes, AFP, Full Fact, the
# Washington Post's Pinocchios...). Ratings that hedge ("mostly false", "misleading") are not "False".
_RATINGS: dict[str, str] = {
    **dict.fromkeys(
        ("true", "correct", "accurate", "verified", "correct attribution", "geppetto checkmark", "confirmed"),
        "True",
    ),
    **dict.fromkeys(
        (
            "false",
            "pants on fire",
            "pants on fire!",
            "fake",
            "incorrect",
            "inaccurate",
            "wrong",
            "fabricated",
            "hoax",
            "scam",
            "four pinocchios",
            "false.",
            "not true",
            "baseless",
            "debunked",
        ),
        "False",
    ),
}


def verdict_of(rating: dict[str, Any] | None) -> str:
    """True / False / Uncertain from a ``reviewRating``: its words first, else its place on its scale."""
    if not rating:
        return "Uncertain"
    name = str(rating.get("alternateName") or rating.get("name") or "").strip().casefold()
    if name:
        return _RATINGS.get(name, "Uncertain")
    try:
        value = float(rating["ratingValue"])
        best, worst = float(rating.get("bestRating", 5)), float(rating.get("worstRating", 1))
    except (KeyError, TypeError, ValueError):
        return "Uncertain"
    if best == worst:
        return "Uncertain"
    position = (value - worst) / (best - worst)
    return "True" if position >= 0.95 else "False" if position <= 0.05 else "Uncertain"


def _name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    return str(value).strip() if value else None


def is_claim_review(record: Any) -> bool:
    return isinstance(record, dict) and ("claimReviewed" in record or record.get("@type") == "ClaimReview")


def claim_reviews(document: Any) -> Iterator[dict[str, Any]]:
    """Every ClaimReview in a parsed JSON document (a review, a list, a ``@graph``, a data feed)."""
    if isinstance(document, list):
        for item in document:
            yield from claim_reviews(item)
    elif isinstance(document, dict):
        if is_claim_review(document):
            yield document
            return
        for key in ("@graph", "dataFeedElement", "item", "itemListElement", "claims"):
            if key in document:
                yield from claim_reviews(document[key])


def curated_record(review: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``factmem.ingest.CuratedClaim`` for one ClaimReview (validated there)."""
    rating = review.get("reviewRating") if isinstance(review.get("reviewRating"), dict) else None
    words = str((rating or {}).get("alternateName") or "").strip()
    publisher = _name(review.get("author")) or _name(review.get("publisher"))
    claimant = (
        _name((review.get("itemReviewed") or {}).get("author"))
        if isinstance(review.get("itemReviewed"), dict)
        else None
    )
    explanation = f"Rated “{words}”" if words else "Reviewed"
    explanation += f" by {publisher}" if publisher else ""
    explanation += f"; the claim was made by {claimant}." if claimant else "."
    date = str(review.get("datePublished") or "")[:10] or None
    return {
        "claim": str(review.get("claimReviewed") or "").strip(),
        "verdict": verdict_of(rating),
        "explanation": explanation,
        "source_url": review.get("url") or None,
        "source": publisher,
        "date": date,
        "title": _name(review.get("headline")) or _name(review.get("name")),
    }

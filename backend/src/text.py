"""Text helpers shared by the normalizer and the polarity component: one definition of each.

Quotes, case folding and "is this shouted" decide what two texts have in common, so the agent that cleans a
claim and the one that compares two claims must agree on them exactly; before this module each had its own
quote table and they disagreed on "‛" and "`".

The known-word list answers "is this a word people write, or a misspelling?": the whole-word entries of the
embedding model's WordPiece vocabulary (``factmem/model/vocab.txt``, ~21,700 words). WordPiece keeps a word
whole only when it is frequent in the model's training text, so membership is a frequency test: "government"
is in, "goverment" is not, while a rarer word ("daggering") is not in either and is treated with more care
(see ``factmem.polarity``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np


def words(text: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words of a lexicon written as one string."""
    return frozenset(text.split())


#: Typographic quotes and primes -> ASCII, for every agent ("don’t" is "don't", “x” is "x").
QUOTES = str.maketrans(
    {"‘": "'", "’": "'", "‛": "'", "′": "'", "`": "'", "“": '"', "”": '"', "„": '"', "″": '"'}
)
WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Casefolded with accents removed: "Penélope" -> "penelope"."""
    text = text.casefold()
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def is_shouted(tokens: list[str]) -> bool:
    """Mostly upper case (at least three words of two letters or more): capitals no longer mark names."""
    long_words = [t for t in tokens if len(t) > 1 and t.isalpha()]
    return len(long_words) >= 3 and sum(w.isupper() for w in long_words) / len(long_words) >= 0.6


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether one insert, delete, substitution or swap of neighbours turns a into b (a != b), in O(n)."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:
            return True  # substitution
        return a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1]  # swapped neighbours
    return a[i:] == b[i + 1 :]  # b has one letter more


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), capped at limit+1.

    The four edits typing errors are made of; a swap of two neighbouring letters counts once.
    """
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if _one_edit_apart(a, b):
        return 1
    if limit <= 1:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


_VOCABULARY_FILE = Path(__file__).parent / "model" / "vocab.txt"


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


class KnownWords:
    """Frequent English words (and names), held as a sorted array of 64-bit hashes.

    21,745 words take 0.17 MB this way (a Python set of them: 3.4 MB of anonymous memory); a lookup costs
    ~8 µs, and two words sharing a 64-bit hash are not a practical concern at this size.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        hashes = np.sort(np.fromiter((_word_hash(word) for word in entries), dtype=np.uint64))
        # Deduplicated by hand: np.unique imports numpy.ma, whose module code would stay resident.
        keep = np.ones(len(hashes), dtype=bool)
        keep[1:] = hashes[1:] != hashes[:-1]
        self._hashes = hashes[keep]

    @classmethod
    def from_vocabulary(cls, path: Path = _VOCABULARY_FILE) -> KnownWords:
        with path.open(encoding="utf-8") as handle:
            return cls(t for t in (line.strip() for line in handle) if t.isascii() and t.isalpha())

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word:
            return False
        value = np.uint64(_word_hash(word))
        index = int(np.searchsorted(self._hashes, value))
        return index < len(self._hashes) and self._hashes[index] == value

    def __len__(self) -> int:
        return len(self._hashes)


@lru_cache(maxsize=1)
def known_words() -> KnownWords:
    """The process's one known-word list, loaded on first use (~20 ms)."""
    return KnownWords.from_vocabulary()

"""Noise and contrast generators for ``scripts/eval_memory.py``: general rules, seeded, never dev cases.

What people do to a claim they resubmit (typos, chat noise, shouting) must not change what the memory says
about it; what a contrast edit does to a claim (a quantifier, an ordinal, a comparative, a swapped name, a
preposition) must. Each generator here is a rule about English text applied to whatever claim it is given,
with a ``random.Random`` passed in so every run draws the same cases.

Typos follow the four single-edit kinds spelling-error studies count (a letter deleted, doubled, swapped
with its neighbour, or replaced by a key next to it on a QWERTY keyboard), never on the first letter
(people rarely get it wrong) and only where the result is not itself a word: a "real-word error" ("county"
for "country") cannot be told from a different claim by any lexical rule, so it is not a typo test.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

# --- typos ---------------------------------------------------------------------------------------------

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    position = {ch: (row, col) for row, keys in enumerate(_KEYBOARD_ROWS) for col, ch in enumerate(keys)}
    neighbours: dict[str, str] = {}
    for ch, (row, col) in position.items():
        near = []
        for other, (r, c) in position.items():
            # rows are staggered by about half a key: the keys touching this one
            if other != ch and abs(r - row) <= 1 and abs((c + 0.5 * r) - (col + 0.5 * row)) <= 1.0:
                near.append(other)
        neighbours[ch] = "".join(near)
    return neighbours


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def load_vocabulary(path: Path) -> frozenset[str]:
    """Whole words of a WordPiece vocabulary: a list of words frequent enough to have their own token."""
    words = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            token = line.strip()
            if token.isalpha() and token.isascii():
                words.add(token)
    return frozenset(words)


def typo(word: str, rng: random.Random, vocabulary: frozenset[str] = frozenset()) -> str | None:
    """One misspelling of ``word`` (same case pattern), or None when every try was a real word."""
    if len(word) < 3 or not word.isalpha():
        return None
    lower = word.lower()
    for _ in range(12):
        kind = rng.choice(("delete", "double", "transpose", "neighbour"))
        at = rng.randrange(1, len(lower))
        if kind == "delete":
            candidate = lower[:at] + lower[at + 1 :]
        elif kind == "double":
            candidate = lower[:at] + lower[at] + lower[at:]
        elif kind == "transpose":
            if at == len(lower) - 1:
                at -= 1
            if at < 1 or lower[at] == lower[at + 1]:
                continue
            candidate = lower[:at] + lower[at + 1] + lower[at] + lower[at + 2 :]
        else:
            near = KEYBOARD_NEIGHBOURS.get(lower[at], "")
            if not near:
                continue
            candidate = lower[:at] + rng.choice(near) + lower[at + 1 :]
        if candidate == lower or candidate in vocabulary:
            continue
        return _same_case(word, candidate)
    return None


def _same_case(model: str, text: str) -> str:
    if model.isupper() and len(model) > 1:
        return text.upper()
    if model[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def with_typos(
    claim: str, rng: random.Random, count: int = 1, vocabulary: frozenset[str] = frozenset()
) -> str | None:
    """``claim`` with ``count`` words (of four letters or more) misspelt once each."""
    words = [m for m in _WORD.finditer(claim) if len(m.group()) >= 4 and m.group().isalpha()]
    rng.shuffle(words)
    replaced: dict[int, tuple[int, str]] = {}
    for match in words:
        if len(replaced) == count:
            break
        misspelt = typo(match.group(), rng, vocabulary)
        if misspelt:
            replaced[match.start()] = (match.end(), misspelt)
    if len(replaced) < count:
        return None
    out, last = [], 0
    for start in sorted(replaced):
        end, text = replaced[start]
        out.append(claim[last:start] + text)
        last = end
    return "".join(out) + claim[last:]


# --- realistic chat noise ------------------------------------------------------------------------------

_OPENERS = ("did u know ", "omg ", "They say that ", "I heard that ", "BREAKING: ", "fun fact: ", "", "", "")
_CLOSERS = ("!!!", "!!!1", "!!1!", " lol", "?!", " 😱😱", " 🙄", "...", "", "")


def chat_noise(claim: str, rng: random.Random) -> str:
    """A chat user's rendering of a claim: opener, case, lost apostrophes, doubled spaces, emoji, "!!!1"."""
    body = claim.rstrip(".!? ")
    roll = rng.random()
    if roll < 0.15:
        body = body.upper()
    elif roll < 0.45:
        body = body.lower()
    if rng.random() < 0.3:
        body = body.replace("n't", "nt").replace("'s", "s")
    if rng.random() < 0.2:
        body = body.replace(" ", "  ", 1)
    opener = rng.choice(_OPENERS)
    if opener and opener[0].islower():
        body = body[:1].lower() + body[1:] if not body.isupper() else body
    return f"{opener}{body}{rng.choice(_CLOSERS)}"


def realistic_resubmission(claim: str, rng: random.Random, vocabulary: frozenset[str]) -> str | None:
    """Chat noise plus one or two typos: what a claim looks like pasted back by a person in a hurry."""
    misspelt = with_typos(claim, rng, count=rng.choice((1, 1, 2)), vocabulary=vocabulary)
    return chat_noise(misspelt, rng) if misspelt else None


# --- negation ------------------------------------------------------------------------------------------

NEGATION_CUES = ("not", "never", "nothing", "nobody", "none", "cannot", "without", "neither")
_NEGATION_CUE = re.compile(r"\b(" + "|".join(NEGATION_CUES) + r"|(?:does|did|is|are|was|were|has|have)n't)\b")


def typo_in_negation(claim: str, rng: random.Random, vocabulary: frozenset[str]) -> str | None:
    """``claim`` with its (first) negation word misspelt: "never" -> "nevver", "doesn't" -> "dosen't"."""
    match = _NEGATION_CUE.search(claim)
    if not match:
        return None
    cue = match.group()
    stem, clitic = (cue[:-3], "n't") if cue.endswith("n't") else (cue, "")
    misspelt = typo(stem, rng, vocabulary) if len(stem) >= 3 else None
    if misspelt is None:
        return None
    return claim[: match.start()] + misspelt + clitic + claim[match.end() :]


_AUXILIARY = re.compile(r"\b(is|are|was|were|has|have|had|can|could|will|would|should|does|did)\b(?! not\b)")
_COPULA_NEGATIONS = ("not", "never", "not")


def negate(claim: str, rng: random.Random) -> str | None:
    """Insert "not"/"never" after the first auxiliary verb (the plainest negation); None without one."""
    match = _AUXILIARY.search(claim)
    if not match or match.start() == 0:
        return None
    return f"{claim[: match.end()]} {rng.choice(_COPULA_NEGATIONS)}{claim[match.end() :]}"


# --- contrast twins: one edit that changes what the claim says -----------------------------------------

# Scales whose members exclude each other; a twin replaces one by another of the same scale.
_QUANTIFIERS = (
    ("all", "some", "no", "most", "few"),
    ("many", "few", "several"),
    ("always", "rarely", "sometimes", "never"),
    ("often", "rarely", "seldom"),
    ("every", "no", "some"),
    ("most", "few", "some"),
    ("only", "also"),
)
_COMPARATIVES = (
    ("more than", "less than"),
    ("before", "after"),
    ("above", "below"),
    ("over", "under"),
    ("higher", "lower"),
    ("earlier", "later"),
    ("older", "younger"),
    ("larger", "smaller"),
    ("longer", "shorter"),
    ("increased", "decreased"),
    ("at least", "at most"),
)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_SUPERLATIVE = re.compile(r"\b(?:(" + "|".join(_ORDINALS) + r")-)?([a-z]{3,}est|best|worst|most|least)\b")
_PREPOSITION_SWAPS = (
    ("in", "outside"),
    ("with", "without"),
    ("for", "against"),
    ("inside", "outside"),
    ("from", "to"),
    ("by", "for"),
    ("on", "off"),
    ("into", "out of"),
)
FUNCTION_WORDS = ("only", "also", "about", "against", "without", "near", "under", "over", "after", "before")
_STOP = frozenset(
    re.findall(
        r"\S+",
        "a an the of in on at by for with to from and or but is are was were be been has "
        "have had do does did it its this that as into than then not no never also only",
    )
)


def _replace_word(claim: str, pattern: str, replacement: str) -> str | None:
    match = re.search(rf"\b{pattern}\b", claim)
    if not match:
        return None
    original = match.group()
    return claim[: match.start()] + _same_case(original, replacement) + claim[match.end() :]


def twin_quantifier(claim: str, rng: random.Random) -> str | None:
    scales = list(_QUANTIFIERS)
    rng.shuffle(scales)
    for scale in scales:
        for word in scale:
            if re.search(rf"\b{word}\b", claim, re.IGNORECASE):
                other = rng.choice([w for w in scale if w != word])
                return _replace_word(claim, f"(?i:{word})", other)
    return None


def twin_comparative(claim: str, rng: random.Random) -> str | None:
    pairs = [(a, b) for a, b in _COMPARATIVES] + [(b, a) for a, b in _COMPARATIVES]
    rng.shuffle(pairs)
    for word, other in pairs:
        if re.search(rf"\b{word}\b", claim):
            return _replace_word(claim, word, other)
    return None


def twin_ordinal(claim: str, rng: random.Random) -> str | None:
    """ "second-largest" -> "largest", "largest" -> "second-largest", "third" -> "fourth"."""
    match = _SUPERLATIVE.search(claim)
    if match:
        ordinal, word = match.group(1), match.group(2)
        replaced = word if ordinal else f"{rng.choice(_ORDINALS[1:4])}-{word}"
        return claim[: match.start()] + replaced + claim[match.end() :]
    for index, ordinal in enumerate(_ORDINALS):
        if re.search(rf"\b{ordinal}\b", claim):
            other = _ORDINALS[index + 1] if index + 1 < len(_ORDINALS) else _ORDINALS[index - 1]
            return _replace_word(claim, ordinal, other)
    return None


_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")


def twin_entity_swap(claim: str, rng: random.Random) -> str | None:
    """Two names of the claim trade places, so each new name already occurs elsewhere in the sentence."""
    names = [m for m in _NAME.finditer(claim) if m.start() > 0 and m.group() not in _CAPITALISED_STOP]
    first = _NAME.match(claim)
    if first and first.group().split()[0] not in _CAPITALISED_STOP:
        names.insert(0, first)
    distinct = []
    for match in names:
        if all(match.group() != d.group() for d in distinct):
            distinct.append(match)
    if len(distinct) < 2:
        return None
    a, b = rng.sample(distinct[:4], 2)
    a, b = sorted((a, b), key=lambda m: m.start())
    return claim[: a.start()] + b.group() + claim[a.end() : b.start()] + a.group() + claim[b.end() :]


_CAPITALISED_STOP = frozenset(
    re.findall(r"\S+", "The A An In On At It This That He She They There His Her Its")
)


def twin_preposition(claim: str, rng: random.Random) -> str | None:
    pairs = [(a, b) for a, b in _PREPOSITION_SWAPS] + [(b, a) for a, b in _PREPOSITION_SWAPS]
    rng.shuffle(pairs)
    for word, other in pairs:
        if re.search(rf"(?<=\w )\b{word}\b", claim):
            match = re.search(rf"(?<=\w ){word}\b", claim)
            assert match is not None
            return claim[: match.start()] + other + claim[match.end() :]
    return None


def twin_function_word(claim: str, rng: random.Random) -> str | None:
    """A content word (not the first word, not a name) replaced by a function word."""
    words = [
        m
        for m in _WORD.finditer(claim)
        if m.start() > 0 and m.group().islower() and m.group() not in _STOP and len(m.group()) >= 4
    ]
    if not words:
        return None
    match = rng.choice(words)
    return claim[: match.start()] + rng.choice(FUNCTION_WORDS) + claim[match.end() :]


_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")


def twin_number(claim: str, rng: random.Random) -> str | None:
    match = _NUMBER.search(claim)
    if not match:
        return None
    text = match.group().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    changed = value + rng.choice((-2, -1, 1, 2)) if value >= 1000 or value < 100 else value * 2
    shown = str(int(changed)) if changed == int(changed) else f"{changed:g}"
    return claim[: match.start()] + shown + claim[match.end() :]


TWIN_KINDS: dict[str, Callable[[str, random.Random], str | None]] = {
    "quantifier": twin_quantifier,
    "comparative": twin_comparative,
    "ordinal/superlative": twin_ordinal,
    "entity swapped within": twin_entity_swap,
    "preposition": twin_preposition,
    "word->function word": twin_function_word,
    "number": twin_number,
}


def twins(claims: Iterable[str], rng: random.Random, per_kind: int) -> list[tuple[str, str, str]]:
    """Up to ``per_kind`` (kind, original, twin) of each kind, each original used once per kind."""
    pool = list(claims)
    out: list[tuple[str, str, str]] = []
    for kind, make in TWIN_KINDS.items():
        order = pool[:]
        rng.shuffle(order)
        made = 0
        for claim in order:
            if made == per_kind:
                break
            twin = make(claim, rng)
            if twin and twin != claim:
                out.append((kind, claim, twin))
                made += 1
    return out

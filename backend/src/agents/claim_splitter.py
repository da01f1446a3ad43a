"""Splitting a text into the claims it makes, by rules: sentences, then clauses joined by a conjunction.

"Obama was born in Kenya and the moon landing was faked" is two claims, each with its own verdict in the
memory; verified as one, it would match neither. The rules are deliberately cautious, because a wrong split
breaks a claim in two halves that mean nothing ("Salt and pepper are spices"): a text is cut

- between sentences (``.``, ``!``, ``?`` before a capital; not after "Dr.", "U.S.", "No." and the like),
  at semicolons and at line breaks;
- at ", and", " and", " but", " while", " whereas" only when both sides are clauses of their own: each has
  a finite verb, and the right side starts with a subject of its own — a name, a number or a determiner
  and at most a few words before its verb. "… is round and orbits the Sun" stays one claim (no subject),
  so do "… and it is important" (a pronoun: alone, the half would not say what it is about), "… and the
  only man who has won" (a relative clause) and "… and lyrics by …" (no determiner, no name).

When an LLM is configured it may split instead (``factmem.agents.llm_normalizer``), catching what the rules
leave whole; these rules remain the fallback and the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ClaimPart:
    """One claim of a text: its words, and the entities and dates found for it (by an LLM; the rules leave
    them to the normalizer)."""

    text: str
    entities: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


def word_set(text: str) -> frozenset[str]:
    """The words of ``text`` (a table written as one string reads better than a list of quoted words)."""
    return frozenset(text.split())


#: Finite verbs that make a stretch of words a clause: auxiliaries, copulas, modals, and verbs that claims
#: often turn on. A regular past tense ("founded") is not enough: it is as often a participle ("… pledged
#: by"). Verbs of saying are left out on purpose: in "X said A and B" the "and" belongs to what was said.
FINITE_VERBS = word_set(
    """
    is are was were be been am isn't aren't wasn't weren't
    has have had hasn't haven't hadn't does do did doesn't don't didn't
    will would can could shall should may might must won't wouldn't can't cannot couldn't shouldn't
    causes cause caused contains contain makes make made kills kill spreads spread gives give gave
    grows grow grew built invented discovered won lost died became becomes become came comes went goes
    ran runs holds held leads led knew knows found finds
    """
)
#: Words a subject may start with besides a name or a number.
_DETERMINERS = word_set(
    "the a an this these those his her its their my our your some many most all every no each"
)
#: A verb after one of these belongs to a relative or subordinate clause (or a coordinated subject), not to
#: a subject of its own; a left side ending in such a clause without its verb is not complete.
_RELATIVES = word_set("who which that whose whom where when if unless because although though since")
_COORDINATORS = word_set("and or nor")
#: In "X said A and B", B is part of what X said: a left side with one of these is not cut.
_SAYING = word_set(
    """said says claimed claims stated states told tells wrote writes tweeted tweets reported reports
    announced announces believes believed thinks thought argued argues insisted alleged suggested"""
)
#: A half whose subject is one of these says nothing on its own ("… and it is important", "… and then
#: was taken"); a determiner right before a verb is one of these too ("… and this is why").
_NOT_SUBJECTS = word_set("he she it they we i you there this that these those one then also later now still")
#: A subject is a few words; a verb further in belongs to something else.
_MAX_SUBJECT_WORDS = 5
_CONJUNCTION = re.compile(r",?\s+(?:and|but|while|whereas)\s+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_HARD_BREAK = re.compile(r"\s*(?:;|\n+|\r+)\s*")
#: Words whose final dot does not end a sentence.
_ABBREVIATIONS = word_set(
    """mr mrs ms dr prof st jr sr vs etc e.g i.e u.s u.k u.n no inc ltd co corp gen col lt sgt mt ft approx
    sen sens rep reps gov govs pres sec dept rev fig vol jan feb mar apr jun jul aug sep sept oct nov dec"""
)
#: A part shorter than this is no claim of its own ("Blatty."): it stays with the part before it.
_MIN_CLAIM_WORDS = 3
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def split_claims(text: str) -> list[str]:
    """The claims of ``text`` as stretches of it, in order (the whole text when it is one claim)."""
    parts = []
    for chunk in _HARD_BREAK.split(text):
        for sentence in _sentences(chunk):
            parts.extend(_clauses(sentence))
    claims: list[str] = []
    for part in (part.strip(" ,") for part in parts):
        if claims and len(_WORD.findall(part)) < _MIN_CLAIM_WORDS:
            claims[-1] = f"{claims[-1]} {part}".strip()
        elif _WORD.search(part):
            claims.append(part)
    return claims or [text]


def _sentences(chunk: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(chunk):
        candidate = chunk[start : match.start()]
        if _ends_in_abbreviation(candidate) or _inside_quotes(candidate):
            continue  # "Dr. Smith", "the U.S. Army", a quoted sentence: not the end of a claim
        sentences.append(candidate)
        start = match.end()
    sentences.append(chunk[start:])
    return [s for s in sentences if s.strip()]


def _ends_in_abbreviation(text: str) -> bool:
    words = text.rstrip(".!?\"”’')] ").rsplit(maxsplit=1)
    last = words[-1].lstrip('"“‘([').rsplit("-", 1)[-1] if words else ""  # "Then-U.S." -> "U.S"
    return last.lower() in _ABBREVIATIONS or re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", last) is not None


def _inside_quotes(text: str) -> bool:
    """Whether ``text`` ends inside a quotation or parentheses (a cut there would split the quoted words)."""
    return text.count('"') % 2 == 1 or text.count("“") > text.count("”") or text.count("(") > text.count(")")


def _clauses(sentence: str) -> list[str]:
    """Cut at conjunctions where both sides are clauses; otherwise leave the sentence whole."""
    clauses: list[str] = []
    rest = sentence
    while True:
        cut = next(
            (m for m in _CONJUNCTION.finditer(rest) if _is_cut(rest[: m.start()], rest[m.end() :])), None
        )
        if cut is None:
            clauses.append(rest)
            return clauses
        clauses.append(rest[: cut.start()])
        rest = rest[cut.end() :]
        rest = rest[:1].upper() + rest[1:]


def _is_cut(left: str, right: str) -> bool:
    """Whether ``left`` and ``right`` (around a conjunction) are two claims, each with its own subject."""
    left_words = _WORD.findall(left)
    right_words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", right)
    if len(left_words) < _MIN_CLAIM_WORDS or len(right_words) < _MIN_CLAIM_WORDS or _inside_quotes(left):
        return False  # a conjunction inside a quotation belongs to the quoted words
    if left_words[0].lower() in _RELATIVES:
        return False  # "If X were impeached, A and B would ...": one conditional claim
    if any(word.lower() in _SAYING for word in left_words):
        return False  # "He said the plan was done and the money was gone": one report
    verbs = [i for i, word in enumerate(left_words) if _is_verb(word) or _is_past_tense(word)]
    subordinate = [i for i, word in enumerate(left_words) if word.lower() in _RELATIVES]
    if not verbs or (subordinate and subordinate[-1] > verbs[-1]):
        return False  # "… revealing that a Volkswagen Beetle" and its occupants: the clause goes on
    first = right_words[0]
    if first[0].isupper() and left_words[-1][0].isupper():
        return False  # "CNN and MSNBC", "Barack and Michelle Obama": names joined, not claims
    if first.lower() in _NOT_SUBJECTS or (first.lower() in _DETERMINERS and _is_verb(right_words[1])):
        return False  # "… and it is important", "… and then was taken", "… and this is why"
    # "… and vaccines cause autism": a one-word subject right before its verb
    bare_subject = first.islower() and not _is_verb(first) and _is_verb(right_words[1])
    if not (first[0].isupper() or first[0].isdigit() or first.lower() in _DETERMINERS or bare_subject):
        return False  # a pronoun, a verb, a bare noun phrase: the right side is not a claim of its own
    for position, word in enumerate(right_words[1 : _MAX_SUBJECT_WORDS + 2], start=1):
        if word.lower() in _RELATIVES or word.lower() in _COORDINATORS:
            return False
        if _is_verb(word):
            return position <= _MAX_SUBJECT_WORDS
    return False


def _is_past_tense(word: str) -> bool:
    """A regular past tense ("created"): enough for the left side, which has its subject already."""
    return word.islower() and len(word) >= 5 and word.endswith("ed") and not word.endswith("eed")


def _is_verb(word: str) -> bool:
    """A finite verb of the list, written in lower case ("Will Smith" is a name, "will" a verb)."""
    return word.islower() and word in FINITE_VERBS


#: Texts worth a split call: more than one sentence, a conjunction, or long.
_SEVERAL_CLAIMS = re.compile(r"[.!?;]\s+\S|\n|\b(?:and|but|while|whereas|also)\b", re.IGNORECASE)
_LONG_TEXT_WORDS = 25


def worth_extracting(text: str) -> bool:
    """Whether the text may hold more than one claim (one-sentence claims never pay for a split call)."""
    return bool(_SEVERAL_CLAIMS.search(text.strip())) or len(text.split()) > _LONG_TEXT_WORDS

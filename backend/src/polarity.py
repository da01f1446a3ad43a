"""Is a stored claim the same claim as the incoming one, its negation, or a different claim?

One component answers this for every agent that needs it: the retriever (may a stored verdict be served as
a cache hit?), the memory update (is this a repeat of a stored claim?) and the reasoner (may a verdict be
transferred, inverted, or used to contradict?). An embedding puts "Vaccines cause autism" and "Vaccines do
not cause autism" side by side, and just as close "Apollo 11 landed in 1969" and "... in 1972", so the
answer is lexical, and deliberately lopsided: a false "different" costs a cache miss, a false "same" serves
a wrong verdict.

How two claims are compared:

1. Each text becomes a signature (computed once, cached): its words in order, each with a class (a name, a
   number, a negation, a quantifier, a comparative, an ordinal, a preposition, a light word, a content
   word) and a key (folded, stemmed; numbers canonical, "seven" -> 7).
2. Words on one side only are matched to the other side's when they are a misspelling of it, a synonym or
   a derivation. A misspelling is a small edit (1 letter, 2 in words of eight or more) that turns a word
   people write into one they do not (``factmem.text.known_words``): "goverment" is "government", while
   "county" is not "country" (both are words). Misspelt negations count as negations ("nevver", "nto").
3. The two key sequences are aligned (difflib). Every edit that is left decides: light words (articles,
   auxiliaries, "located") and a lone preposition added or dropped are noise; a phrase moved as one block
   is a reordering; a name added next to a name already there ("Obama" -> "Barack Obama") is detail. Any
   other edit — a number, a name, two names trading places, an antonym, a quantifier, a comparative, an
   ordinal, a preposition, a content word swapped or added — makes the pair "different".
4. Otherwise the parity of negation decides between "same" and "opposite".

A "different" pair whose only edit replaces one value (a name or a number) after an unchanged subject also
carries that edit as a :class:`ValueConflict` ("born in Hawaii" vs "born in Kenya"): the reasoner's
contradiction rule reads it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

from factmem.text import MONTHS, QUOTES, edit_distance, fold, is_shouted, known_words, words

RelationKind = Literal["same", "opposite", "different", "unrelated"]

# --- word classes ---------------------------------------------------------------------------------------

NAME, NUMBER, UNCLEAR, QUANTIFIER, COMPARATIVE, ORDINAL, PREPOSITION, FUNCTION, LIGHT, CONTENT = (
    "name",
    "number",
    "unclear",  # a misspelling that may or may not be a negation
    "quantifier",
    "comparative",
    "ordinal",
    "preposition",
    "function",
    "light",
    "content",
)

# Words whose presence or absence says nothing about the claim: articles, auxiliaries, relative pronouns,
# fillers. ("located": "The Eiffel Tower is located in Paris" is "... is in Paris".)
_LIGHT_WORDS = words(
    """a an the is am are was were be been being has have had having do does did doing will would shall
    should can could may might must that which who whom whose there here then than it's really actually
    indeed truly literally very just currently located situated everybody everyone everything somebody
    someone something anybody anyone anything s t d ll m re ve y o"""
)
# Cues counted one each; their parity decides "negated". The second line: chat spelling without apostrophe.
_NEGATION_WORDS = words(
    """not no never none nobody nothing nowhere neither nor without cannot lack lacks lacked noone
    dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt aint"""
)
_NEGATION_PHRASES = re.compile(
    r"\b(?:no\s+longer|(?:refus|fail)(?:e|es|ed|ing|s)?\s+to|unable\s+to|incapable\s+of"
    r"|(?:has|have|had|is|are|was|were)\s+yet\s+to|(?:is|was|it's|it)\s+false\s+that"
    # Exclusions that deny the claim they wrap ("born outside of Trieste", "something other than a film").
    r"|other\s+than|outside\s+of|anything\s+but)\b",
    re.IGNORECASE,
)
# How many (or how often): a change of one changes the claim ("many" -> "few", "only" added).
_QUANTIFIERS = words(
    """all every each some any many much most few fewer several both either only solely exclusively also
    always usually often frequently sometimes occasionally rarely seldom mostly partly entirely fully
    completely largely mainly primarily"""
)
# Relations of order, size and place: "more than" vs "less than", "before" vs "after", "in" vs "outside".
_COMPARATIVES = words(
    """more less least before after above below over under earlier later higher lower greater larger
    smaller bigger older younger longer shorter since until till prior former latter inside outside
    within beyond near against beneath behind underneath past except besides instead"""
)
_ORDINAL_WORDS = words(
    """first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth last next
    penultimate final"""
)
# Added or dropped alone they are noise ("born 1961" / "born in 1961"); swapped, they change the claim.
_PREPOSITIONS = words(
    """in on at of by for with to from into onto about as via per among amid between through across
    around toward towards upon off out up down along throughout during despite like"""
)
_NAME_CONNECTORS = words("of de da del della di du van von der den la le bin al y")
_PRONOUNS = words("it its i me my we us our you your he him his she her they them their")
_FUNCTION_WORDS = words(
    """this these those it its itself i me my mine we us our you your he him his she her they them their
    theirs what where when why how and or but if because while although though so such whether else
    other own same"""
)

#: Every word that is not a content word (what ranking features leave out).
NON_CONTENT_WORDS = (
    _LIGHT_WORDS | _NEGATION_WORDS | _QUANTIFIERS | _COMPARATIVES | _PREPOSITIONS | _FUNCTION_WORDS
)

# Substitutions between these are rewordings, not new claims.
_SYNONYM_GROUPS = (
    "film movie picture|show series programme program sitcom|begin start commence launch|end finish conclude"
    "|big large huge enormous|small little tiny|kill murder slay|die perish|buy purchase|say claim tell"
    "|make create produce build|help assist aid|use utilize employ|cause lead trigger|child kid"
    "|doctor physician|car automobile vehicle|job occupation profession career work|country nation"
    "|famous renowned celebrated notable|award prize|speak talk|sick ill|rich wealthy|fast quick rapid"
    "|smart intelligent clever|people person individual|photo photograph picture image|song track single"
    "|singer vocalist|actor actress performer|author writer novelist|write pen"
    "|city town|place location|region area|appear feature star"
    "|receive get|reveal show|contain include|nearly almost|usa america|uk britain|math maths mathematics"
)
# Pairs whose substitution changes the claim: "different", never "opposite" (an antonym says nothing certain
# about the truth of the other claim: "The show began in 2001" false does not make "ended in 2001" true).
_ANTONYM_PAIRS = (
    "begin end|begin finish|start end|start finish|open close|increase decrease|increase reduce|rise fall"
    "|rise drop|raise lower|grow shrink|more less|more fewer|most least|higher lower|high low|above below"
    "|before after|early late|earlier later|earliest latest|alive dead|live die|born die|birth death"
    "|win lose|won lost|winner loser|victory defeat|legal illegal|safe dangerous|safe unsafe|true false"
    "|real fake|real fictional|fact fiction|allow ban|allow forbid|allow prohibit|permit ban|legalize ban"
    "|accept reject|approve reject|approve veto|support oppose|pass fail|success failure|succeed fail"
    "|first last|largest smallest|biggest smallest|best worst|greatest worst|highest lowest|strongest weakest"
    "|large small|big small|long short|tall short|heavy light|fast slow|cheap expensive|rich poor"
    "|hot cold|warm cold|old young|old new|older younger|oldest youngest|ancient modern|male female"
    "|man woman|men women|boy girl|husband wife|father mother|son daughter|king queen|north south|east west"
    "|left right|up down|inside outside|internal external|import export|buy sell|gain loss|profit loss"
    "|strong weak|positive negative|major minor|maximum minimum|guilty innocent|happy sad|love hate"
    "|friend enemy|include exclude|present absent|public private|domestic foreign|natural artificial"
    "|natural synthetic|healthy unhealthy|benefit harm|help hurt|always sometimes|all some"
    "|everyone nobody|majority minority|wet dry|light dark|day night|summer winter|spring autumn|top bottom"
    "|over under|many few|always never|often rarely|all none"
)
_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")
# Prefixed words that are not negations of their stem ("discover" is not "not cover").
_PREFIX_FALSE_FRIENDS = words(
    """discover inform import impress invent include involve index intend indent dispose display dispatch
    distance distinct distribute inspect instruct insist install interest invest issue impact imply improve
    intern into unit union unite universe until unless inside invaluable inflammable inhabit impart impose
    impound disease dismiss disgust discount"""
)

# --- stemming -------------------------------------------------------------------------------------------


def _in_order(text: str) -> list[str]:
    return text.split()


_IRREGULAR = dict(
    pair.split(":")
    for pair in _in_order(
        "began:begin begun:begin won:win lost:lose died:die ran:run went:go gone:go made:make "
        "wrote:write written:write took:take taken:take gave:give given:give found:find held:hold "
        "led:lead left:leave sold:sell bought:buy built:build grew:grow grown:grow fell:fall "
        "fallen:fall rose:rise risen:rise knew:know known:know said:say saw:see seen:see "
        "thought:think became:become came:come men:man women:woman children:child flew:fly "
        "flown:fly spoke:speak spoken:speak taught:teach caught:catch brought:bring fought:fight "
        "sang:sing sung:sing drew:draw drawn:draw shot:shoot met:meet paid:pay ate:eat eaten:eat "
        "drove:drive driven:drive chose:choose chosen:choose stood:stand understood:understand "
        "sat:sit hid:hide hidden:hide lay:lie froze:freeze frozen:freeze broke:break broken:break "
        "stole:steal stolen:steal wore:wear worn:wear threw:throw thrown:throw struck:strike "
        "sent:send spent:spend kept:keep felt:feel heard:hear told:tell"
    )
)
_SUFFIXES = (
    ("ies", "y", 2),
    ("ied", "y", 2),
    ("sses", "ss", 2),
    ("xes", "x", 2),
    ("ches", "ch", 2),
    ("shes", "sh", 2),
    ("ings", "", 3),
    ("ing", "", 3),
    ("ed", "", 3),
    ("es", "e", 3),
    ("s", "", 3),
)
_NO_S_STRIP = ("ss", "us", "is", "ous", "ics")
_BRITISH_TO_AMERICAN = {"our": "or", "ours": "ors", "oured": "ored", "ouring": "oring", "tre": "ter"}
_BRITISH_TO_AMERICAN |= {f"is{end}": f"iz{end}" for end in ("e", "es", "ed", "ing", "ation", "ations")}
_BRITISH = re.compile(
    r"(?<=[a-z]{3})(" + "|".join(sorted(_BRITISH_TO_AMERICAN, key=len, reverse=True)) + r")$"
)


@lru_cache(maxsize=2048)  # the common words; full early, so its memory does not creep
def stem(word: str) -> str:
    """Cheap suffix stripping: enough to match "starts/started/start", "modelled/model", "cities/city".

    British spellings fold to American ones ("colour", "organised", "centre") so they are not a change.
    """
    word = _IRREGULAR.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    word = _BRITISH.sub(lambda m: _BRITISH_TO_AMERICAN[m.group(1)], word)
    for suffix, replacement, min_stem in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            if suffix == "s" and word.endswith(_NO_S_STRIP):
                break
            word = word[: -len(suffix)] + replacement
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] in "bdgklmnprt":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _pair_table(spec: str) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for pair in spec.split("|"):
        left, right = (stem(w) for w in pair.split())
        table.setdefault(left, set()).add(right)
        table.setdefault(right, set()).add(left)
    return {k: frozenset(v) for k, v in table.items()}


def _synonym_table(spec: str) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in spec.split("|"):
        stems = {stem(w) for w in group.split()}
        for s in stems:
            table.setdefault(s, set()).update(stems - {s})
    return {k: frozenset(v) for k, v in table.items()}


_ANTONYMS = _pair_table(_ANTONYM_PAIRS)
_SYNONYMS = _synonym_table(_SYNONYM_GROUPS)

# --- numbers --------------------------------------------------------------------------------------------

_UNITS = {
    w: i
    for i, w in enumerate(
        _in_order(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    w: 10 * (i + 2) for i, w in enumerate(_in_order("twenty thirty forty fifty sixty seventy eighty ninety"))
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINALS = {
    w: i + 3
    for i, w in enumerate(
        _in_order(
            "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
            "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
        )
    )
}
_DECADE_WORDS = {
    w: f"{10 * (i + 2)}s"
    for i, w in enumerate(_in_order("twenties thirties forties fifties sixties seventies eighties nineties"))
}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES) | frozenset(_ORDINALS)

# --- tokens ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<number>\d+(?:[.,]\d+)*(?i:st|nd|rd|th|s)?(?![\w]))"
    r"|(?P<acronym>\b(?:[A-Za-z]\.)+[A-Za-z]\b\.?)"  # U.S., F.C., l.a., D.C
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*|\w+)"
)
_DECADE_APOSTROPHE = re.compile(r"(\d0)\s*'s\b|'(\d0)s\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;]['\")\]]*\s*['\"(\[]*$")
# Words that a headline capitalises but a sentence never would mid-way.
_TITLE_CUES = words(
    """Is Are Was Were Be Been Has Have Had Does Do Did Will Can Could Should Would This That These Those
    With From About Into Over After Before For To In On At By Not No Show Shows Say Says Said Really Get Gets
    Make Makes Its It Their His Her Your Our Who What Why How When Where Than"""
)
_QUESTION_WORDS = words("Is Are Was Were Does Do Did Can Could Will Would Should Has Have Had")
# "US" / "U.S." / "u.s." name one country; the pronoun "us" is never written in capitals mid-sentence.
_ALIASES = {"us": "usa"}
_CLITIC = re.compile(r"'(?:s|ve|re|ll|d|m)$", re.IGNORECASE)
_STOP_FOR_NAMES = _LIGHT_WORDS | _PREPOSITIONS | _FUNCTION_WORDS | _QUANTIFIERS | _COMPARATIVES


@dataclass(slots=True)
class _Token:
    text: str  # as written
    folded: str  # casefolded, accents removed
    kind: str  # "number", "acronym" or "word"
    sentence_start: bool
    start: int  # character offset in the (translated) text


def _tokenize(text: str) -> tuple[str, list[_Token]]:
    text = unicodedata.normalize("NFKC", text).translate(QUOTES)
    text = _DECADE_APOSTROPHE.sub(lambda m: f"{m.group(1) or m.group(2)}s", text)
    tokens: list[_Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        gap = text[previous_end : match.start()]
        previous_end = match.end()
        if not tokens:
            sentence_start = True
        elif gap == " ":  # most gaps: no sentence ends in a lone space
            sentence_start = False
        else:
            # "Edmund H. North": a lone capital and a period is an initial, not the end of a sentence
            initial = len(tokens[-1].text) == 1 and tokens[-1].text.isupper()
            sentence_start = _SENTENCE_END.search(gap) is not None and not initial
        surface = match.group()
        kind = match.lastgroup or "word"
        if kind == "word" and "'" in surface:
            surface = _CLITIC.sub("", surface)  # "who've" -> "who", "Obama's" -> "Obama"; "n't" stays
        folded = fold(surface)
        if kind == "acronym":
            folded = folded.replace(".", "")
        if kind == "acronym" or surface.isupper():
            folded = _ALIASES.get(folded, folded)
        tokens.append(_Token(surface, folded, kind, sentence_start, match.start()))
    return text, tokens


def _canonical_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _digit_number(token: str) -> str:
    if re.fullmatch(r"\d{3}0s", token) or re.fullmatch(r"\d0s", token):
        return token  # a decade: "1990s", "90s"
    digits = re.sub(r"(?:st|nd|rd|th|s)$", "", token)
    digits = re.sub(r",(?=\d{3}(?:\D|$))", "", digits)
    try:
        return _canonical_number(Decimal(digits.replace(",", "")))
    except InvalidOperation:
        return digits


def _numbers(tokens: list[_Token]) -> dict[int, tuple[str, int]]:
    """Numbers by the index of their first token: (canonical value, index after the last token)."""
    found: dict[int, tuple[str, int]] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.folded
        if token.kind == "number":
            value, end = _digit_number(word), i + 1
            # "1.5 million", "13 thousand", "92.7 milliion"
            scale = _scale(tokens[end].folded) if end < len(tokens) else ""
            if scale and not value.endswith("s"):
                value = _canonical_number(Decimal(value) * _SCALES[scale])
                end += 1
            found[i] = (value, end)
            i = end
            continue
        if word in _DECADE_WORDS:
            found[i] = (_DECADE_WORDS[word], i + 1)
        elif word in _ORDINALS:
            found[i] = (str(_ORDINALS[word]), i + 1)
        elif word in _NUMBER_WORDS or (word in ("a", "an") and _next_is_scale(tokens, i)):
            total, current, j = 0, 0, i
            while j < len(tokens):
                w = tokens[j].folded
                if w in _UNITS:
                    current += _UNITS[w]
                elif w in _TENS:
                    current += _TENS[w]
                elif w in ("a", "an") and j == i:
                    current = 1
                elif w == "hundred":
                    current = max(current, 1) * 100
                elif w in _SCALES:
                    total += max(current, 1) * _SCALES[w]
                    current = 0
                elif not (
                    w == "and" and j + 1 < len(tokens) and tokens[j + 1].folded in _NUMBER_WORDS and j > i
                ):
                    break
                j += 1
            found[i] = (str(total + current), j)
            i = j
            continue
        i += 1
    return found


def _scale(word: str) -> str:
    """The scale word ("million") ``word`` is, or misspells right after a number ("milliion"), or ""."""
    if word in _SCALES:
        return word
    if len(word) < 5 or word in known_words():
        return ""
    return next(
        (s for s in _SCALES if edit_distance(word, s, _allowed_edits(len(s))) <= _allowed_edits(len(s))), ""
    )


def _next_is_scale(tokens: list[_Token], index: int) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].folded in _SCALES


def _is_title_cased(tokens: list[_Token]) -> bool:
    """A headline ("Did Video Show a 10-Meter-Long Anaconda?"): capitals mark words, not names."""
    body = [t for t in tokens if t.kind == "word" and not t.sentence_start]
    if len(body) < 3:
        return False
    cue = any(t.text in _TITLE_CUES for t in body) or any(
        t.sentence_start and t.text in _QUESTION_WORDS for t in tokens
    )
    return cue and sum(t.text[:1].isupper() for t in body) / len(body) >= 0.7


def _name_indices(tokens: list[_Token], shouted: bool) -> set[int]:
    """Capitalised words and acronyms, except a lone capitalised word that merely starts a sentence."""
    if shouted:
        return set()
    headline = _is_title_cased(tokens)
    names: set[int] = set()
    for index, token in enumerate(tokens):
        text = token.text
        if token.kind == "number" or not text[:1].isupper():
            continue
        # "born in May" names a month and "WHO" an agency, where "may" and "who" are function words.
        if token.folded in _STOP_FOR_NAMES and text != "May" and not (text.isupper() and len(text) > 1):
            continue
        if token.folded in _NEGATION_WORDS or token.folded in _NUMBER_WORDS:
            continue
        acronym = token.kind == "acronym" or sum(c.isupper() for c in text) >= 2
        if headline and not acronym:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        starts_name = following is not None and following.text[:1].isupper() and following.kind != "number"
        if token.sentence_start and not (acronym or starts_name):
            continue
        names.add(index)
    return names


# --- misspelt negations --------------------------------------------------------------------------------

# Negation parity is a property of one text, so a misspelt negation ("nevver", "dosent", "icnapable of") is
# read as one when the text's signature is made. Every other misspelling is judged against the other claim
# (``_aligned_units``): "a misspelling of a stored word is that word". A misspelling is looked up among all
# the words that carry a claim's structure, so that "nto" ("not" or "to"?) and "bor" ("nor"? no: "for" is as
# close) are seen to be ambiguous instead of being read as negations.
_PHRASE_WORDS = words("refuse refused fail failed unable incapable longer other anything outside")
_NEGATION_TARGETS = frozenset(w for w in _NEGATION_WORDS | _PHRASE_WORDS if len(w) >= 3 and w != "nor")
_STRUCTURE_WORDS = tuple(
    sorted(
        w
        for w in (
            _LIGHT_WORDS
            | _NEGATION_TARGETS
            | _QUANTIFIERS
            | _COMPARATIVES
            | _ORDINAL_WORDS
            | _PREPOSITIONS
            | _FUNCTION_WORDS
            | _NUMBER_WORDS
            | _PHRASE_WORDS
        )
        if len(w) >= 2 and w.isalpha()
    )
)


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _allowed_edits(length: int) -> int:
    return 2 if length >= 8 else 1


def _structure_index() -> dict[str, tuple[str, ...]]:
    """Deletion neighbourhoods (SymSpell): a misspelling and its word share a string with letters deleted."""
    index: dict[str, list[str]] = {}
    for word in _STRUCTURE_WORDS:
        for variant in _deletions(word, _allowed_edits(len(word))):
            index.setdefault(variant, []).append(word)
    return {k: tuple(v) for k, v in index.items()}


_STRUCTURE_INDEX = _structure_index()
_STRUCTURE_SET = frozenset(_STRUCTURE_WORDS)
#: The reading of a token that is as close to a negation as to another word: neither reading is safe.
AMBIGUOUS = "\x00ambiguous"


_NEGATION_INDEX = frozenset(v for w in _NEGATION_TARGETS for v in _deletions(w, 1))
_LONG_NEGATIONS = tuple(w for w in _NEGATION_TARGETS if len(w) >= 7)


def _near_a_negation(word: str) -> bool:
    """A cheap first test: could ``word`` be within the allowed edits of a negation word at all?"""
    if any(v in _NEGATION_INDEX for v in _deletions(word, 1)):
        return True
    return len(word) >= 6 and any(abs(len(word) - len(w)) <= 2 and word[0] == w[0] for w in _LONG_NEGATIONS)


@lru_cache(maxsize=1024)
def misspelt_negation(word: str) -> str:
    """The negation (or negation-phrase word) ``word`` misspells, ``AMBIGUOUS``, or "".

    Only words people do not write are read as misspellings (``known_words``): "nut" is a nut, not "not".
    """
    if len(word) < 3 or not word.isalpha() or word in _STRUCTURE_SET or word in known_words():
        return ""
    if not _near_a_negation(word):
        return ""
    allowed = _allowed_edits(len(word) + 1)
    candidates = {c for v in _deletions(word, allowed) for c in _STRUCTURE_INDEX.get(v, ())}
    if not candidates & _NEGATION_TARGETS:
        return ""
    scored = [(edit_distance(word, c, allowed), c) for c in candidates if len(c) >= 3]
    scored = [(d, c) for d, c in scored if d <= min(allowed, _allowed_edits(len(c)))]
    if not scored:
        return ""
    best = min(d for d, _ in scored)
    closest = {c for d, c in scored if d == best}
    negating = {c for c in closest if c in _NEGATION_TARGETS}
    if not negating:
        return ""
    if len(negating) < len(closest):
        return AMBIGUOUS
    return min(negating)


# --- signatures -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One word (or one whole number) of a claim, as the comparison sees it."""

    key: str  # what must match: a stem, "#1969" for a number
    word: str  # folded surface form ("" for numbers): what misspellings are measured against
    cls: str  # NAME, NUMBER, QUANTIFIER, ...
    text: str  # as written, for reasons a person can read
    at: int = 0  # position among the claim's units (light words included): what is next to what


@dataclass(frozen=True, slots=True)
class ClaimSignature:
    """What of a claim matters for sameness, computed once per text."""

    #: An odd number of negation cues.
    negated: bool
    #: The words that count, in order (negation cues and negation phrases are left out: parity covers them).
    units: tuple[Unit, ...]
    #: Canonical numbers: "seven" -> "7", "1,000" -> "1000", "3.0" -> "3", "26th" -> "26", "1990s".
    numbers: frozenset[str] = frozenset()
    #: Casefolded, accent-free tokens of names and acronyms in the natural-case text.
    entities: frozenset[str] = frozenset()
    #: Every key of the text.
    keys: frozenset[str] = field(default=frozenset(), repr=False)
    #: Folded words written with a capital (sentence starts included): "is this a name here too?".
    capitalised: frozenset[str] = field(default=frozenset(), repr=False)


def _classify(word: str) -> str:
    if word in _LIGHT_WORDS:
        return LIGHT
    if word in _QUANTIFIERS:
        return QUANTIFIER
    if word in _COMPARATIVES:
        return COMPARATIVE
    if word in _ORDINAL_WORDS:
        return ORDINAL
    if word in _PREPOSITIONS:
        return PREPOSITION
    if word in _FUNCTION_WORDS:
        return FUNCTION
    return CONTENT


def _correct_misspellings(tokens: list[_Token], shouted: bool) -> None:
    """Read misspelt negations as negations (in place).

    A capitalised word mid-sentence is a name ("Nott", "Deos"), not a misspelling, unless the text shouts.
    """
    for token in tokens:
        if token.kind != "word" or (token.text[:1].isupper() and not token.sentence_start and not shouted):
            continue
        corrected = misspelt_negation(token.folded)
        if corrected:
            token.folded = corrected


def _negation_phrase_tokens(tokens: list[_Token]) -> set[int]:
    """Indices of the tokens inside negation phrases ("unable to", "other than"), on the folded words."""
    joined, starts = "", []
    for token in tokens:
        starts.append(len(joined))
        joined += token.folded + " "
    inside: set[int] = set()
    for match in _NEGATION_PHRASES.finditer(joined):
        inside.update(i for i, start in enumerate(starts) if match.start() <= start < match.end())
    return inside


def _signature(raw: str) -> ClaimSignature:
    _, tokens = _tokenize(raw)
    shouted = is_shouted([t.text for t in tokens if t.kind == "word"])
    _correct_misspellings(tokens, shouted)
    numbers = _numbers(tokens)
    names = _name_indices(tokens, shouted)
    in_phrase = _negation_phrase_tokens(tokens)
    negations = len(_NEGATION_PHRASES.findall(" ".join(t.folded for t in tokens)))
    nor_count = 0
    units: list[Unit] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.folded
        if i in in_phrase:
            i += 1
            continue
        if i in numbers:
            value, end = numbers[i]
            shown = " ".join(t.text for t in tokens[i:end])
            spelled = tokens[i].folded if end == i + 1 and tokens[i].kind == "word" else ""
            units.append(Unit(f"#{value}", spelled, NUMBER, shown, len(units)))
            i = end
            continue
        following = tokens[i + 1].folded if i + 1 < len(tokens) else ""
        previous = tokens[i - 1].folded if i else ""
        if word == "not" and following == "only":
            i += 2  # "not only ... but also" affirms
            continue
        if word == "not" and previous == "or":
            i += 1  # "whether or not"
            continue
        if word == "true" and following == "that" and previous in ("is", "not", "it", "was"):
            i += 2  # "it is (not) true that X" frames X; the "not" is counted on its own
            continue
        if word == "nor":
            nor_count += 1
            i += 1
            continue
        if word in _NEGATION_WORDS or word.endswith("n't"):
            negations += 1
            i += 1
            continue
        if word == AMBIGUOUS:
            units.append(Unit(f"?{token.text.casefold()}", "", UNCLEAR, token.text, len(units)))
        elif i in names:
            units.append(Unit(stem(word), word, NAME, token.text, len(units)))
        else:
            cls = _classify(word)
            key = stem(word) if cls == CONTENT else word
            units.append(Unit(key, word, cls, token.text, len(units)))
        i += 1
    # "nor" continues a negation ("neither A nor B", "cannot X, nor Y"); alone ("Nor is it ...") it is one.
    negations = negations if negations else min(nor_count, 1)
    return ClaimSignature(
        negated=negations % 2 == 1,
        units=tuple(units),
        numbers=frozenset(u.key[1:] for u in units if u.cls == NUMBER),
        entities=frozenset(tokens[i].folded for i in names),
        keys=frozenset(u.key for u in units),
        capitalised=frozenset(t.folded for t in tokens if t.text[:1].isupper() and not t.text.isupper())
        if not shouted
        else frozenset(),
    )


#: Only claim-length texts are cached: a 2,000-character text's signature is large and such texts rarely
#: repeat, while stored claims come back as matches again and again (512 short ones stay under 3 MB).
SIGNATURE_CACHE_MAX_CHARS = 300


def claim_signature(text: str) -> ClaimSignature:
    """The signature of a claim; ``text`` is a normalized_text (natural case matters for names)."""
    if len(text) > SIGNATURE_CACHE_MAX_CHARS:
        return _signature(text)
    return _cached_claim_signature(text)


@lru_cache(maxsize=512)
def _cached_claim_signature(text: str) -> ClaimSignature:
    return _signature(text)


# --- comparison -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueConflict:
    """The one value that differs between two claims that agree on everything else.

    "Barack Obama was born in Hawaii" vs "... in Kenya": ``stored`` "Hawaii", ``incoming`` "Kenya", ``kind``
    "name", ``frame`` "born in" (the words before the value: what the value is the value of).
    """

    kind: Literal["name", "number", "date"]
    stored: str
    incoming: str
    frame: str
    #: Whether the slot holds one value at a time, so the stored value excludes the other: numbers and
    #: dates; names where someone was born or died, a real name, a capital, a nationality. Not where a value
    #: is one of many (a film's stars) or places nest ("Balboa" lies in "California").
    single_valued: bool = False


@dataclass(frozen=True)
class ClaimRelation:
    """How claim b relates to claim a, and a short reason a person can read."""

    kind: RelationKind
    reason: str = ""
    conflict: ValueConflict | None = field(default=None, compare=False)


@lru_cache(maxsize=2048)
def _is_misspelling(x: str, y: str) -> bool:
    """Whether one of two different words is a typing error for the other.

    Frequency decides what a small edit means: between two known words it is a different word ("county",
    "country"); from a known word to an unknown one, a misspelling ("goverment"); between two unknown words
    (rare names, rare terms) only one edit in words of four letters or more counts.
    """
    if not (x.isalpha() and y.isalpha()) or min(len(x), len(y)) < 3:
        return False
    allowed = 2 if max(len(x), len(y)) >= 8 else 1
    distance = edit_distance(x, y, allowed)
    if distance > allowed or distance == 0:
        return False
    vocabulary = known_words()
    x_known, y_known = x in vocabulary, y in vocabulary
    if x_known and y_known:
        return False
    if not x_known and not y_known:
        return distance == 1 and min(len(x), len(y)) >= 4
    return True


def _is_derivation(x: str, y: str) -> bool:
    """ "assassinated" / "assassination", "guitar" / "guitarist": one stem extends the other."""
    shorter, longer = sorted((x, y), key=len)
    return len(shorter) >= 5 and longer.startswith(shorter)


def _equivalent(a: Unit, b: Unit) -> bool:
    """Whether b's word is a's word written differently: a misspelling, a synonym, a derivation."""
    if a.cls == NUMBER:  # "fivve" for "five"; never one number for another
        return bool(a.word) and b.cls != NUMBER and _is_misspelling(a.word, b.word)
    if b.cls in (NUMBER, UNCLEAR):
        return False
    same = (
        a.word == b.word
        or stem(a.word) == stem(b.word)  # the same word as a name on one side and a plain word on the other
        or b.key in _SYNONYMS.get(a.key, frozenset())
        or (a.cls == CONTENT and b.cls == CONTENT and _is_derivation(a.key, b.key))
        or _is_misspelling(a.word, b.word)
    )
    return same and not _antonym(a, b)  # "childless" extends "child" and is its antonym


#: Above this many words of the incoming claim missing from the stored one, the two are different claims
#: whatever their spelling: the search for misspellings and synonyms is skipped (it is what costs time).
_MAX_RENAMED = 4


def _aligned_units(a: ClaimSignature, b: ClaimSignature) -> tuple[list[Unit], list[Unit]]:
    """The units that count on each side, b's words that a writes differently renamed to a's.

    A b word that misspells one of a's light words ("deos" for "does") is light too.
    """
    names = a.entities | b.entities  # "May" is a month in "born on May 5", however the other claim wrote it
    units_a = [u for u in a.units if u.cls != LIGHT or u.word in names]
    missing = [u for u in b.units if u.key not in a.keys and (u.cls != LIGHT or u.word in names)]
    candidates: dict[str, Unit] = {}
    if len(missing) <= _MAX_RENAMED:
        # a's words missing from b first; then any (a word may occur twice: "Fist of Legend ... Fist of Fury")
        for unit in sorted(a.units, key=lambda u: (u.key in b.keys, u.cls == LIGHT)):
            candidates.setdefault(unit.key, unit)
    units_b = []
    for unit in b.units:
        if unit.cls == LIGHT and unit.word not in names:
            continue
        if unit.key not in a.keys:
            match = next((c for c in candidates.values() if _equivalent(c, unit)), None)
            if match is not None:
                if match.cls == LIGHT:
                    continue
                unit = Unit(match.key, unit.word, match.cls, unit.text, unit.at)
        units_b.append(unit)
    return units_a, units_b


def _significant(units: Sequence[Unit]) -> list[Unit]:
    """What of an edit counts on its own: a lone preposition or pronoun added or dropped does not."""
    return [u for u in units if u.cls not in (LIGHT, PREPOSITION, FUNCTION)]


@dataclass(frozen=True)
class _Edit:
    stored: tuple[Unit, ...]
    incoming: tuple[Unit, ...]
    at: int  # index in the stored claim's units where the edit starts


def _edits(units_a: list[Unit], units_b: list[Unit]) -> list[_Edit]:
    keys_a, keys_b = [u.key for u in units_a], [u.key for u in units_b]
    return [
        _Edit(tuple(units_a[i1:i2]), tuple(units_b[j1:j2]), i1)
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, keys_a, keys_b, autojunk=False).get_opcodes()
        if tag != "equal"
    ]


def _without_moves(edits: list[_Edit]) -> list[_Edit]:
    """Drop one phrase moved elsewhere whole ("In 2002, X was released" / "X was released in 2002").

    Only a phrase that starts with a preposition or conjunction on both sides: moved, it still modifies the
    same thing. A noun moved across the verb changes roles ("Meteora is by Linkin Park" / "Linkin Park is by
    Meteora").
    """
    for d in edits:
        moved = [u.key for u in _significant(d.stored)]
        if not moved or _significant(d.incoming) or d.stored[0].cls not in _PHRASE_OPENERS:
            continue
        for i in edits:
            if (
                i is not d
                and i.incoming
                and not _significant(i.stored)
                and i.incoming[0].cls in _PHRASE_OPENERS
                and [u.key for u in _significant(i.incoming)] == moved
            ):
                return [e for e in edits if e is not d and e is not i]
    return edits


_PHRASE_OPENERS = (PREPOSITION, FUNCTION, COMPARATIVE)


def _is_name_detail(edit: _Edit, a: ClaimSignature, b: ClaimSignature) -> bool:
    """A name written out longer next to a name both claims write: "Obama" / "Barack Obama", "Paris, France".

    Next to means next to in the text that has the longer name ("a German politician" adds a name, not
    detail to "Harold Macmillan"), and the neighbour must be a name in both ("World War I" is not "a war").
    """
    if edit.stored and edit.incoming:
        return False
    added = edit.stored or edit.incoming
    # names and the connectors inside names ("Mary of Teck"); "and" adds another name ("Maryland and Ohio")
    if not any(u.cls == NAME for u in added) or any(
        u.cls != NAME and u.word not in _NAME_CONNECTORS for u in added
    ):
        return False
    longer, other = (a, b) if edit.stored else (b, a)
    positions = (added[0].at - 1, added[-1].at + 1)
    neighbours = [longer.units[i] for i in positions if 0 <= i < len(longer.units)]
    return any(u.cls == NAME and u.word in other.capitalised for u in neighbours)


def _moved_words(edits: list[_Edit]) -> str:
    """Words that left one place and reappear in another, trading places ("A Kill to a View")."""
    removed = [u for e in edits for u in _significant(e.stored)]
    added_keys = {u.key for e in edits for u in _significant(e.incoming)}
    moved = [u for u in removed if u.key in added_keys]
    return _shown(moved) if moved else ""


def _antonym(x: Unit, y: Unit) -> bool:
    if not (x.word and y.word):
        return False
    if stem(y.word) in _ANTONYMS.get(stem(x.word), frozenset()):
        return True
    return _negated_base(x.word, y.word) or _negated_base(y.word, x.word)


def _negated_base(word: str, base: str) -> bool:
    """Whether ``word`` negates ``base`` by affix ("illegal" / "legal", "childless" / "children")."""
    if word in _PREFIX_FALSE_FRIENDS:
        return False
    if word.endswith("less") and len(word) >= 7 and stem(word[:-4]) == stem(base):
        return True
    return any(
        word.startswith(prefix)
        and len(word) - len(prefix) >= 4
        and stem(word[len(prefix) :].lstrip("-")) == stem(base)
        for prefix in _NEGATING_PREFIXES
    )


def _shown(units: Sequence[Unit]) -> str:
    return " ".join(u.text for u in units) or "nothing"


_SEVERITY = (
    (NUMBER, "number changed"),
    (NAME, "entity changed"),
    (QUANTIFIER, "quantifier changed"),
    (COMPARATIVE, "comparative changed"),
    (ORDINAL, "ordinal changed"),
)


def _describe(edit: _Edit, a: ClaimSignature, b: ClaimSignature) -> str:
    """Why an edit changes the claim, or "" when it does not."""
    stored, incoming = _significant(edit.stored), _significant(edit.incoming)
    unclear = [u for u in stored + incoming if u.cls == UNCLEAR]
    if unclear:
        return f"unclear negation: {_shown(unclear)}"
    if edit.stored and edit.incoming and len(edit.stored) * len(edit.incoming) <= 9:
        for x in edit.stored:
            for y in edit.incoming:
                if _antonym(x, y):
                    return f"antonym: {x.text} vs {y.text}"
    if not stored and not incoming:
        # Only prepositions, pronouns and conjunctions differ: added or dropped they change nothing; a
        # preposition or pronoun swapped for another changes the relation ("written by" / "written for").
        if not (edit.stored and edit.incoming):
            return ""
        swapped = {u.cls for u in edit.stored + edit.incoming}
        pronouns = {u.word for u in edit.stored + edit.incoming} & _PRONOUNS
        if PREPOSITION in swapped or len(pronouns) > 1:
            return f"preposition changed: {_shown(edit.stored)} vs {_shown(edit.incoming)}"
        return ""
    classes = {u.cls for u in stored + incoming}
    if NUMBER in classes:
        return f"number changed: {_numbers_of(stored)} vs {_numbers_of(incoming)}"
    # A name counts as one only when it is one on the side that has it, or the other side spells it so.
    if any(u.cls == NAME or u.word in a.entities or u.word in b.entities for u in stored + incoming):
        if stored and incoming:
            return f"entity changed: {_shown(edit.stored)} vs {_shown(edit.incoming)}"
        return f"entity {'added' if incoming else 'dropped'}: {_shown(incoming or stored)}"
    for cls, label in _SEVERITY[2:]:
        if cls in classes:
            return f"{label}: {_shown(edit.stored)} vs {_shown(edit.incoming)}"
    if stored and incoming:
        return f"word changed: {_shown(stored)} vs {_shown(incoming)}"
    return f"{'added' if incoming else 'dropped'} detail: {_shown(incoming or stored)}"


def _numbers_of(units: Sequence[Unit]) -> str:
    return ", ".join(u.key[1:] for u in units if u.cls == NUMBER) or "none"


_MONTH_NAMES = frozenset(fold(m) for m in MONTHS) | words("jan feb mar apr jun jul aug sep sept oct nov dec")
# Words of a frame whose value is one thing at a time (stems).
_SINGLE_VALUED_WORDS = "born birth birthplace died death real capital headquartered headquarters nationality"
_SINGLE_VALUED_FRAMES = frozenset(stem(w) for w in words(_SINGLE_VALUED_WORDS))
# Nationality adjectives and nouns end like these ("American", "Chinese", "English", "Pakistani", "Spaniard").
_DEMONYM = re.compile(r"(?:an|ese|ish|i|ch|ard|ic)$")


def _is_single_valued(kind: str, frame: list[Unit], stored: list[Unit], incoming: list[Unit]) -> bool:
    if kind in ("number", "date"):
        return True
    if {stem(u.word) for u in frame} & _SINGLE_VALUED_FRAMES:
        return True
    # "X is an American actor" / "X is a Spaniard": the value right after the subject is a nationality.
    return (
        not frame
        and len(stored) == 1
        and len(incoming) == 1
        and all(_DEMONYM.search(u.word) for u in stored + incoming)
    )


def _conflict(edits: list[_Edit], units_a: list[Unit]) -> ValueConflict | None:
    """One value replaced after an unchanged subject: the shape of "born in Hawaii" vs "born in Kenya"."""
    if len(edits) != 1:
        return None
    edit = edits[0]
    stored, incoming = _significant(edit.stored), _significant(edit.incoming)
    if not stored or not incoming or len(edit.stored) != len(stored) or len(edit.incoming) != len(incoming):
        return None
    both = stored + incoming
    if all(u.cls == NUMBER for u in both) and len(stored) == len(incoming) == 1:
        kind = "number"
    elif all(u.cls == NAME for u in both):
        kind = "date" if all(u.word in _MONTH_NAMES for u in both) else "name"
    else:
        return None
    subject = units_a[: edit.at]
    names_before = [i for i, u in enumerate(subject) if u.cls == NAME and u.word not in _MONTH_NAMES]
    if not names_before:
        return None  # the subject itself changed, or there is no named subject to hold fixed
    frame = [u for u in subject[names_before[-1] + 1 :] if u.cls not in (NAME, NUMBER)][-3:]
    return ValueConflict(
        kind,  # type: ignore[arg-type]
        _shown(stored),
        _shown(incoming),
        " ".join(u.text for u in frame),
        _is_single_valued(kind, frame, stored, incoming),
    )


def compare_claims(a: str | ClaimSignature, b: str | ClaimSignature) -> ClaimRelation:
    """Whether b (the incoming claim) is the same claim as a (the stored one), its negation, or different.

    Meant for pairs already close in embedding space:

    >>> compare_claims("Vaccines cause autism.", "Vaccines do not cause autism.").kind
    'opposite'
    >>> compare_claims("Apollo 11 landed on the Moon in 1969.", "Apollo 11 landed on the Moon in 1972.")
    ClaimRelation(kind='different', reason='number changed: 1969 vs 1972')
    >>> compare_claims("The goverment raised taxes.", "The government raised taxes.").kind
    'same'
    """
    sa = claim_signature(a) if isinstance(a, str) else a
    sb = claim_signature(b) if isinstance(b, str) else b
    units_a, units_b = _aligned_units(sa, sb)
    edits = _without_moves(_edits(units_a, units_b))
    moved = _moved_words(edits)
    detail = [e for e in edits if _is_name_detail(e, sa, sb)]
    if all(e.incoming for e in detail) or all(e.stored for e in detail):
        # a longer name on one side only; names lengthened on both sides were swapped ("Seth Rogan" /
        # "Deeksha Seth")
        edits = [e for e in edits if e not in detail]
    reasons = [reason for reason in (_describe(e, sa, sb) for e in edits) if reason]
    if moved:
        reasons.append(f"word order changed: {moved}")
    if reasons:
        conflict = _conflict(edits, units_a) if sa.negated == sb.negated else None
        return ClaimRelation("different", _first_by_severity(reasons), conflict)
    if sa.negated != sb.negated:
        return ClaimRelation("opposite", "negation differs")
    return ClaimRelation("same", "")


#: Pairs of claim-length texts whose relation is remembered: a claim people repeat meets the same few
#: stored neighbours every time, and their comparison is a pure function of the two texts.
RELATION_CACHE_SIZE = 512


def claim_relation(
    stored: str, incoming: str, incoming_signature: ClaimSignature | None = None
) -> ClaimRelation:
    """``compare_claims(stored, incoming)``, remembered for pairs of claim-length texts.

    ``incoming_signature`` (the signature of ``incoming``, when the caller has made it) spares making it
    again for a pair too long to remember.
    """
    if len(stored) <= SIGNATURE_CACHE_MAX_CHARS and len(incoming) <= SIGNATURE_CACHE_MAX_CHARS:
        return _remembered_relation(stored, incoming)
    return compare_claims(stored, incoming_signature or incoming)


@lru_cache(maxsize=RELATION_CACHE_SIZE)
def _remembered_relation(stored: str, incoming: str) -> ClaimRelation:
    return compare_claims(stored, incoming)


_REASON_ORDER = (
    "unclear",
    "number",
    "entity changed",
    "word order",
    "antonym",
    "quantifier",
    "comparative",
    "ordinal",
    "preposition",
    "word changed",
    "entity",
    "added",
    "dropped",
)


def _first_by_severity(reasons: list[str]) -> str:
    for prefix in _REASON_ORDER:
        for reason in reasons:
            if reason.startswith(prefix):
                return reason
    return reasons[0]

"""Is a stored claim the same claim as the incoming one, its negation, or a different claim?

An embedding puts "Vaccines cause autism" and "Vaccines do not cause autism" side by side, and just as close
"Apollo 11 landed in 1969" and "... in 1972". The memory must not answer either with the stored verdict, so
the retriever and the memory update ask this module about every pair that is already close in embedding
space. The answer is deliberately lopsided: a false "different" only costs a cache miss, a false "same"
serves a wrong verdict. So any concrete change (a number, a name, an antonym, a swapped content word) makes
a pair "different"; only a change of negation alone makes it "opposite", the one case where the stored
verdict can be flipped.

All rules are lexical and cheap: a signature is computed once per text (and cached), and comparing two
signatures is a handful of set operations.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

RelationKind = Literal["same", "opposite", "different", "unrelated"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _in_order(text: str) -> list[str]:
    return text.split()


@dataclass(frozen=True)
class ClaimSignature:
    """What of a claim matters for sameness: its negation parity, numbers, names and content words."""

    #: An odd number of negation cues.
    negated: bool
    #: Canonical numbers: "seven" -> "7", "1,000" -> "1000", "3.0" -> "3", "26th" -> "26", "1990s".
    #: "first" and "second" are left out: as often "earliest" and a unit of time as an ordinal.
    numbers: frozenset[str]
    #: Casefolded, accent-free tokens of names and acronyms in the natural-case text.
    entities: frozenset[str]
    #: Stems of the content words (stopwords, negation cues and numbers removed).
    content: frozenset[str]
    #: Every word of the text, folded and stemmed: "does the other text mention this at all?".
    tokens: frozenset[str] = frozenset()
    #: Folded or stemmed token -> the word as written, for readable reasons ("Paris vs Lyon").
    surface: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    def spelled(self, token: str) -> str:
        """The token as the text wrote it (falls back to the token itself)."""
        return dict(self.surface).get(token, token)


@dataclass(frozen=True)
class ClaimRelation:
    """How claim b relates to claim a, and a short reason a person can read."""

    kind: RelationKind
    reason: str = ""


#: At most this many unexplained content words on each side make a pair "different" (see _content_change).
_MAX_SWAPPED_WORDS = 2

# --- lexicons -------------------------------------------------------------------------------------------

_STOPWORDS = _words(
    """a an the this that these those it its it's itself i me my mine we us our you your he him his she her
    they them their theirs who whom whose which what where when why how there here then than so such as
    and or but if because while although though of at by for with about against between into through
    during to from in out on off over under again further once only also just very too quite rather even
    still already yet ever both each few many much most other some any all several own same is am are was
    were be been being have has had having do does did doing will would shall should can could may might
    must ought get gets got one ones s t d ll m re ve y o like up down well really actually indeed about
    around approximately nearly almost exactly roughly some after before since until upon within across
    behind beyond toward towards via per among amid near onto unto whether else anyone someone something"""
)
# Cues counted one each; their parity decides "negated".
_NEGATION_WORDS = _words(
    """not no never none nobody nothing nowhere neither nor without cannot lack lacks lacked
    dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt aint"""
)  # the second line: chat spelling without the apostrophe
_NEGATION_PHRASES = re.compile(
    r"\b(?:no\s+longer|(?:refus|fail)(?:e|es|ed|ing|s)?\s+to|unable\s+to|incapable\s+of"
    r"|(?:has|have|had|is|are|was|were)\s+yet\s+to|(?:is|was|it's)\s+false\s+that"
    # Exclusions that deny the claim they wrap ("born outside of Trieste", "something other than a film");
    # found as cache hits on FEVER contrast pairs by scripts/eval_memory.py.
    r"|other\s+than|outside\s+of|anything\s+but)\b",
    re.IGNORECASE,
)
# Pairs whose substitution changes the claim. "different", never "opposite": an antonym says nothing certain
# about the truth of the other claim ("The show began in 2001" false does not make "ended in 2001" true).
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
)
_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")
# Prefixed words that are not negations of their stem ("discover" is not "not cover").
_PREFIX_FALSE_FRIENDS = _words(
    """discover inform import impress invent include involve index intend indent dispose display dispatch
    distance distinct distribute inspect instruct insist install interest invest issue impact imply improve
    intern into unit union unite universe until unless inside invaluable inflammable inhabit impart impose
    impound disease dismiss disgust discount"""
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
    "|locate situate|city town|place location|region area|appear feature star"
    "|receive get|reveal show|contain include have|nearly almost|usa america|uk britain"
)


# --- stemming -------------------------------------------------------------------------------------------

# Irregular forms, "as written:stem".
_IRREGULAR = dict(
    pair.split(":")
    for pair in _in_order(
        "began:begin begun:begin won:win lost:lose died:die ran:run went:go gone:go made:make wrote:write "
        "written:write took:take taken:take gave:give given:give found:find held:hold led:lead left:leave "
        "sold:sell bought:buy built:build grew:grow grown:grow fell:fall fallen:fall rose:rise risen:rise "
        "knew:know known:know said:say saw:see seen:see thought:think became:become came:come men:man "
        "women:woman children:child flew:fly flown:fly spoke:speak spoken:speak taught:teach caught:catch "
        "brought:bring fought:fight sang:sing sung:sing drew:draw drawn:draw shot:shoot met:meet paid:pay "
        "ate:eat eaten:eat drove:drive driven:drive chose:choose chosen:choose stood:stand "
        "understood:understand sat:sit hid:hide hidden:hide lay:lie froze:freeze frozen:freeze broke:break "
        "broken:break stole:steal stolen:steal wore:wear worn:wear threw:throw thrown:throw struck:strike "
        "sent:send spent:spend kept:keep felt:feel heard:hear told:tell "
    )
)
_SUFFIXES = (
    ("ies", "y", 2),
    ("ied", "y", 2),
    ("sses", "ss", 2),
    ("xes", "x", 2),
    ("ches", "ch", 2),
    ("shes", "sh", 2),
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
        words = pair.split()
        if len(words) != 2:
            continue
        left, right = (stem(w) for w in words)
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
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
            " fifteen sixteen seventeen eighteen nineteen"
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
            "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth"
            " fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
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
_TITLE_CUES = _words(
    """Is Are Was Were Be Been Has Have Had Does Do Did Will Can Could Should Would This That These Those
    With From About Into Over After Before For To In On At By Not No Show Shows Say Says Said Really Get Gets
    Make Makes Its It Their His Her Your Our Who What Why How When Where Than"""
)
_QUESTION_WORDS = _words("Is Are Was Were Does Do Did Can Could Will Would Should Has Have Had")
# "US" / "U.S." / "u.s." name one country; the pronoun "us" is never written in capitals mid-sentence.
_ALIASES = {"us": "usa"}
_CLITIC = re.compile(r"'(?:s|ve|re|ll|d|m)$", re.IGNORECASE)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "`": "'", "“": '"', "”": '"'})


@dataclass
class _Token:
    text: str  # as written
    folded: str  # casefolded, accents removed
    kind: str  # "number", "acronym" or "word"
    sentence_start: bool


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _tokenize(text: str) -> list[_Token]:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _DECADE_APOSTROPHE.sub(lambda m: f"{m.group(1) or m.group(2)}s", text)
    tokens: list[_Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        gap = text[previous_end : match.start()]
        previous_end = match.end()
        sentence_start = not tokens or _SENTENCE_END.search(gap) is not None
        surface = match.group()
        kind = match.lastgroup or "word"
        if kind == "word":
            surface = _CLITIC.sub("", surface)  # "who've" -> "who", "Obama's" -> "Obama"; "n't" stays
        folded = _fold(surface)
        if kind == "acronym":
            folded = folded.replace(".", "")
        if kind == "acronym" or surface.isupper():
            folded = _ALIASES.get(folded, folded)
        tokens.append(_Token(surface, folded, kind, sentence_start))
    return tokens


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


def _numbers(tokens: list[_Token]) -> tuple[set[str], set[int]]:
    """Canonical numbers and the indices of the tokens that spelled them."""
    found: set[str] = set()
    used: set[int] = set()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.folded
        if token.kind == "number":
            value = _digit_number(word)
            used.add(i)
            # "1.5 million", "13 thousand"
            if i + 1 < len(tokens) and tokens[i + 1].folded in _SCALES and not value.endswith("s"):
                scaled = Decimal(value) * _SCALES[tokens[i + 1].folded]
                value = _canonical_number(scaled)
                used.add(i + 1)
                i += 1
            found.add(value)
        elif word in _DECADE_WORDS:
            found.add(_DECADE_WORDS[word])
            used.add(i)
        elif word in _ORDINALS:
            found.add(str(_ORDINALS[word]))
            used.add(i)
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
                elif w == "and" and j + 1 < len(tokens) and tokens[j + 1].folded in _NUMBER_WORDS and j > i:
                    pass
                else:
                    break
                used.add(j)
                j += 1
            found.add(str(total + current))
            i = j
            continue
        i += 1
    return found, used


def _next_is_scale(tokens: list[_Token], index: int) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].folded in _SCALES


def _negation_count(text: str, tokens: list[_Token]) -> int:
    folded = [t.folded for t in tokens]
    count = len(_NEGATION_PHRASES.findall(text))
    nor_count = 0
    for index, word in enumerate(folded):
        following = folded[index + 1] if index + 1 < len(folded) else ""
        previous = folded[index - 1] if index else ""
        if word == "not" and following == "only":
            continue  # "not only ... but also" affirms
        if word == "not" and previous == "or":
            continue  # "whether or not"
        if word == "no" and following == "longer":
            continue  # counted by the phrase
        if word == "nor":
            nor_count += 1
            continue
        if word in _NEGATION_WORDS or word.endswith("n't"):
            count += 1
    # "nor" continues a negation ("neither A nor B", "cannot X, nor Y"); alone ("Nor is it ...") it is one.
    return count if count else min(nor_count, 1)


def _is_shouted(tokens: list[_Token]) -> bool:
    words = [t.text for t in tokens if t.kind == "word" and len(t.text) > 1]
    return len(words) >= 3 and sum(w.isupper() for w in words) / len(words) >= 0.6


def _is_title_cased(tokens: list[_Token]) -> bool:
    """A headline ("Did Video Show a 10-Meter-Long Anaconda?"): capitals mark words, not names."""
    words = [t for t in tokens if t.kind == "word" and not t.sentence_start]
    if len(words) < 3:
        return False
    cue = any(t.text in _TITLE_CUES for t in words) or any(
        t.sentence_start and t.text in _QUESTION_WORDS for t in tokens
    )
    return cue and sum(t.text[:1].isupper() for t in words) / len(words) >= 0.7


def _entity_tokens(tokens: list[_Token]) -> set[str]:
    """Capitalised words and acronyms, except a lone capitalised word that merely starts a sentence."""
    if _is_shouted(tokens):
        return set()
    headline = _is_title_cased(tokens)
    entities: set[str] = set()
    for index, token in enumerate(tokens):
        text = token.text
        if token.kind == "number" or not text[:1].isupper():
            continue
        # "born in May" names a month and "WHO" an agency, where "may" and "who" are function words.
        if token.folded in _STOPWORDS and text != "May" and not (text.isupper() and len(text) > 1):
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
        entities.add(token.folded)
    return entities


#: Only claim-length texts are cached: a 2,000-character text's signature is ~80 KB and such texts rarely
#: repeat, while stored claims come back as matches again and again. Measured on the service's mix: 1,024
#: entries of any length held 10 MB and took thousands of requests to fill (anonymous memory that kept
#: climbing long after startup); 512 short ones stay under 3 MB and fill within the first few hundred.
SIGNATURE_CACHE_MAX_CHARS = 300


def claim_signature(text: str) -> ClaimSignature:
    """The signature of a claim; ``text`` is a normalized_text (natural case matters for names)."""
    if len(text) > SIGNATURE_CACHE_MAX_CHARS:
        return _claim_signature(text)
    return _cached_claim_signature(text)


@lru_cache(maxsize=512)
def _cached_claim_signature(text: str) -> ClaimSignature:
    return _claim_signature(text)


def _claim_signature(text: str) -> ClaimSignature:
    tokens = _tokenize(text)
    numbers, number_indices = _numbers(tokens)
    entities = _entity_tokens(tokens)
    content: set[str] = set()
    every: set[str] = set()
    surface: dict[str, str] = {}
    for index, token in enumerate(tokens):
        folded = token.folded
        stemmed = stem(folded)
        every.update((folded, stemmed))
        surface.setdefault(folded, token.text)
        surface.setdefault(stemmed, token.text)
        if index in number_indices or token.kind == "number":
            continue
        if folded in _STOPWORDS or folded in _NEGATION_WORDS or folded.endswith("n't"):
            continue
        content.add(stemmed)
    return ClaimSignature(
        negated=_negation_count(text, tokens) % 2 == 1,
        numbers=frozenset(numbers),
        entities=frozenset(entities),
        content=frozenset(content),
        tokens=frozenset(every),
        surface=tuple(sorted(surface.items())),
    )


# --- comparison -----------------------------------------------------------------------------------------


def compare_claims(a: str | ClaimSignature, b: str | ClaimSignature) -> ClaimRelation:
    """Whether b is the same claim as a, its negation ("opposite"), or a different claim.

    Meant for pairs already close in embedding space; the first rule that fires decides:

    >>> compare_claims("Vaccines cause autism.", "Vaccines do not cause autism.").kind
    'opposite'
    >>> compare_claims("Apollo 11 landed on the Moon in 1969.", "Apollo 11 landed on the Moon in 1972.")
    ClaimRelation(kind='different', reason='number changed: 1969 vs 1972')
    """
    sa = claim_signature(a) if isinstance(a, str) else a
    sb = claim_signature(b) if isinstance(b, str) else b
    for rule in _DIFFERENCE_RULES:
        reason = rule(sa, sb)
        if reason:
            return ClaimRelation("different", reason)
    if sa.negated != sb.negated:
        return ClaimRelation("opposite", "negation differs")
    return ClaimRelation("same", "")


def _listed(signature: ClaimSignature, tokens: set[str] | frozenset[str]) -> str:
    return ", ".join(signature.spelled(t) for t in sorted(tokens)) or "nothing"


def _number_change(a: ClaimSignature, b: ClaimSignature) -> str:
    if a.numbers == b.numbers:
        return ""
    only_a, only_b = a.numbers - b.numbers, b.numbers - a.numbers
    return f"number changed: {', '.join(sorted(only_a)) or 'none'} vs {', '.join(sorted(only_b)) or 'none'}"


def _entity_change(a: ClaimSignature, b: ClaimSignature) -> str:
    # A name on one side only is added detail ("Obama" vs "Barack Obama"); a name on each side that the
    # other text never mentions is a substitution ("Paris" vs "Lyon").
    only_a = {e for e in a.entities - b.tokens if not _SYNONYMS.get(e, frozenset()) & b.tokens}
    only_b = {e for e in b.entities - a.tokens if not _SYNONYMS.get(e, frozenset()) & a.tokens}
    if only_a and only_b:
        return f"entity changed: {_listed(a, only_a)} vs {_listed(b, only_b)}"
    return ""


def _antonym_change(a: ClaimSignature, b: ClaimSignature) -> str:
    only_a = a.tokens - b.tokens
    only_b = b.tokens - a.tokens
    for word in sorted(only_a):
        partners = _ANTONYMS.get(word, frozenset()) & only_b
        if partners:
            return f"antonym: {a.spelled(word)} vs {b.spelled(min(partners))}"
    for x, y, sx, sy in ((only_a, only_b, a, b), (only_b, only_a, b, a)):
        for word in sorted(y):
            base = _negated_base(word, x)
            if base:
                first, second = (sx.spelled(base), sy.spelled(word))
                pair = (first, second) if sx is a else (second, first)
                return f"antonym: {pair[0]} vs {pair[1]}"
    return ""


def _negated_base(word: str, candidates: frozenset[str] | set[str]) -> str:
    """The candidate that ``word`` negates by affix ("illegal" -> "legal", "childless" -> "child")."""
    if word in _PREFIX_FALSE_FRIENDS:
        return ""
    if word.endswith("less") and word[:-4] in candidates and len(word) >= 7:
        return word[:-4]
    for prefix in _NEGATING_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            base = word[len(prefix) :].lstrip("-")
            if base in candidates:
                return base
    return ""


def _content_change(a: ClaimSignature, b: ClaimSignature) -> str:
    # A swap of one or two content words, everything else shared, is the shape of a contrast edit
    # ("... dancehall music" vs "... death metal"). Pairs that differ in more words on both sides yet are
    # close in embedding space are rewordings far more often (measured: scripts/eval_polarity.py), so
    # there the embedding decides.
    only_a = {w for w in a.content - b.tokens if not _has_near_synonym(w, b.tokens)}
    only_b = {w for w in b.content - a.tokens if not _has_near_synonym(w, a.tokens)}
    if only_a and only_b and len(only_a) <= _MAX_SWAPPED_WORDS and len(only_b) <= _MAX_SWAPPED_WORDS:
        return f"word changed: {_listed(a, only_a)} vs {_listed(b, only_b)}"
    return ""


def _has_near_synonym(word: str, others: frozenset[str]) -> bool:
    if _SYNONYMS.get(word, frozenset()) & others:
        return True
    if len(word) < 5:
        return False
    for other in others:
        if len(other) < 5 or other[:1] != word[:1]:
            continue
        # Derivations share a stem: "assassinated" / "assassination", "guitar" / "guitarist".
        if word.startswith(other) or other.startswith(word):
            return True
    # No generic edit distance: "county" / "country" is one edit and a different claim.
    return False


# In order: the first that fires names the reason.
_DIFFERENCE_RULES = (_number_change, _entity_change, _antonym_change, _content_change)

"""The first agent: turns whatever the user typed into one clean claim and the key that identifies it.

Everything downstream rests on two outputs of this module. ``normalized_text`` is what gets embedded, stored
and shown, so it must read like the claim itself, not like a chat message (prefixes such as "did u know",
hedges such as "they say that", emoji, shouting punctuation are noise to the embedding). ``comparison_key``
is a claim's identity (its point id derives from it), so every noisy variant of one claim must produce the
same key, while anything that can change the truth of a claim (negations, numbers, entities) is kept.

All rules are regular expressions compiled once at import: about 0.1-0.3 ms for an ordinary claim, a few ms
at the 2,000-character limit.
"""

from __future__ import annotations

import re
import unicodedata

from factmem.agents.base import NormalizedClaim
from factmem.errors import InputError
from factmem.text import MONTHS, QUOTES, WHITESPACE, fold, is_shouted
from factmem.text import words as _words
from factmem.text_checks import require_valid_unicode

# --- cleaning -------------------------------------------------------------------------------------------


def _character_class(*categories: str, keep: str = "", extra: str = "") -> re.Pattern[str]:
    """A regex class of every BMP character in the given Unicode categories (built once, at import).

    One compiled class beats a per-character ``unicodedata.category`` loop by ~20x on ordinary claims.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.category(char) in categories and char not in keep:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )
    return re.compile(f"[{body}{extra}]+")


# Invisible characters: controls (but not the whitespace ones), zero-width and bidi marks, private use.
_INVISIBLE = _character_class(
    "Cc", "Cf", "Co", "Cs", "Cn", keep="\t\n\r\v\f", extra="\U000e0000-\U000e0fff\U000f0000-\U0010ffff"
)
# Pictographs left after the emoji ranges below (dingbat-like symbols); the degree sign is text.
_PICTOGRAPH = _character_class("So", keep="°")
_ASCII_PUNCTUATION = str.maketrans(
    {c: " " for c in map(chr, range(128)) if unicodedata.category(c)[0] == "P"}
)
_PUNCTUATION = _character_class("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po")

# Emoji and pictographs. Removed before NFKC so "™" does not become the letters "TM".
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols & pictographs ext-A (incl. flags, skin tones)
    "\U00002600-\U000027bf"  # misc symbols, dingbats
    "\U00002b00-\U00002bff"  # arrows/stars used as emoji (⬆ ⭐)
    "\U00002300-\U000023ff"  # misc technical (⌚ ⏰)
    "\u2190-\u21ff"  # arrows
    "\u2122\u00a9\u00ae\u2139\u24c2\u3030\u303d\u3297\u3299"
    "\ufe00-\ufe0f\u20e3"  # variation selectors, keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)
_URL = re.compile(r"(?:https?://|www\.|pic\.twitter\.com/)\S+", re.IGNORECASE)
_LEADING_MENTIONS = re.compile(r"^(?:rt\s+)?(?:@\w+[:,]?\s*)+", re.IGNORECASE)
_HASHTAG = re.compile(r"#(?=\w)")
# A pasted tweet ends with its attribution: "— Jane Doe (@jdoe) August 30, 2019". Its numbers are no part
# of the claim, and left in they would make every quote of the tweet look like a different claim.
_TWEET_TRAILER = re.compile(
    r"\s*[—–-]+\s*[^—–\n]{0,80}?\(@\w+\)(?:\s+[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{2,4})?[\s.]*$"
    r"|\s*\(@\w+\)(?:\s+[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{2,4})?[\s.]*$"
)
_VIA_HANDLE = re.compile(r"\s*\bvia\s+@\w+", re.IGNORECASE)
_HANDLE_AT = re.compile(r"(?<![\w.])@(?=\w)")
# Tokenised corpora write "Teck 's son" and "music ." ; glue those back for a readable claim.
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[.,;:!?%)\]}]|'s\b|n't\b)", re.IGNORECASE)
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[{])\s+")

# Chat openers: removed wherever they start the claim, repeatedly ("omg did u know ...").
_CHAT_PREFIXES = (
    r"did\s+(?:u|you|ya|yall|y'all)\s+know(?:\s+that)?",
    r"dyk(?:\s+that)?",
    r"fun\s+fact",
    r"breaking\s+news",
    r"breaking(?=\s*[:\-–—!|])",  # "Breaking Bad is ..." must survive
    r"(?:news\s*flash|just\s+in|update|fact|psa|reminder)(?=\s*[:\-–—!|])",
    r"omg+",
    r"lol+",
    r"lmao+",
    r"wow+",
    r"fyi",
    r"apparently",
    r"i\s+(?:just\s+)?heard(?:\s+(?:somewhere|online))?(?:\s+that)?",
    # "I read that ..." is an opener, "I read the report" is not.
    r"i\s+(?:just\s+)?(?:read|saw)(?:\s+(?:somewhere|online)(?:\s+that)?|\s+that)",
    r"some(?:one|body)\s+told\s+me(?:\s+that)?",
    # Relayed hearsay: who passed the claim on is not part of it ("my uncle told me", "a friend told us",
    # "my doctor says that", "I was told"). Possessives only for says/said: "A man said he ..." keeps its
    # subject.
    r"(?:my|our|a|an)\s+(?:[^\W\d_]+\s+){1,2}?told\s+(?:me|us)(?:\s+that)?",
    r"(?:my|our)\s+(?:[^\W\d_]+\s+){1,2}?(?:says|said)(?:\s+that)?",
    r"i(?:\s+was|\s+have\s+been|'ve\s+been)\s+told(?:\s+that)?",
    r"is\s+it\s+true\s+that",
    r"is\s+it\s+true",
    r"true\s+or\s+false",
    r"fact\s+or\s+fiction",
)
_HEDGES = (
    r"they\s+say(?:\s+that)?",
    r"(?:people|some|many)\s+say(?:\s+that)?",
    r"it\s+is\s+said(?:\s+that)?",
    r"it's\s+said(?:\s+that)?",
    r"rumou?r\s+has\s+it(?:\s+that)?",
    r"supposedly",
    r"allegedly",
    r"reportedly",
    r"i\s+think(?:\s+that)?",
    r"i\s+believe(?:\s+that)?",
    r"i\s+guess(?:\s+that)?",
    r"it\s+seems(?:\s+(?:that|like))?",
    r"it\s+appears(?:\s+that)?",
)
# After an opener comes its own punctuation ("Fun fact:", "omg,", "BREAKING -", "Did you know…").
_OPENER = re.compile(
    r"^(?:" + "|".join(_CHAT_PREFIXES + _HEDGES) + r")(?![\w'])[\s:,;.!?…\-–—|]*",
    re.IGNORECASE,
)
# Questions that become statements once their opener is gone ("is it true that X?" -> "X.").
_QUESTION_OPENER = re.compile(
    r"^(?:did\s+(?:u|you|ya|yall|y'all)\s+know|dyk|is\s+it\s+true|true\s+or\s+false|fact\s+or\s+fiction)",
    re.IGNORECASE,
)
_INTERROGATIVE_START = re.compile(
    r"^(?:do|does|did|is|are|was|were|am|can|could|will|would|should|shall|has|have|had|may|might|must"
    r"|who|whom|whose|what|when|where|why|which|how)(?:n't)?\b",
    re.IGNORECASE,
)
_CHAT_SUFFIX = re.compile(
    r"[\s,]*\b(?:lol+|lmao+|rofl|(?:ha){2,}h?|smh|omg+|tbh|imo|imho)\W*$", re.IGNORECASE
)

_SUFFIX_WINDOW = 40  # chat suffixes are short: look only at the tail (the loop strips repeats)
# Any run containing "!", or "??"+; a "1" typed for "!" in a run ("!!!1", "!!1!") is part of the run.
_BANG_RUN = re.compile(r"[!?]*![!?]*(?:1+(?=[!?]|\s*$)[!?]*)*|\?{2,}")
_ELLIPSIS = re.compile(r"(?:…|\.{2,})\s*")
_REPEATED_MARK = re.compile(r"([,;:])(?:\s*\1)+")
_LEADING_JUNK = re.compile(r"^[\s,;:.!?…\-–—|*~]+")
_TRAILING_JUNK = re.compile(r"[\s,;:.…\-–—|*~]+$")

# --- comparison key -------------------------------------------------------------------------------------

_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_DECIMAL_PLACEHOLDER = "\ue000"  # private-use char: survives punctuation removal, restored afterwards
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")

# --- entities -------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:[-'’]\w+)*")
_QUOTED = re.compile(r'"([^"]{2,80})"|(?<![\w])\'([^\']{2,80})\'(?![\w])')
_POSSESSIVE = re.compile(r"['’]s?$")
_SENTENCE_GAP = re.compile(r"[.!?:;]\s*[\"'(]?\s*$")
_NAME_CONNECTORS = _words("of de da del della di du van von der den la le bin al y the")
_FUNCTION_WORDS = _words(
    """a an the this that these those it its i i'm he she they we you my our his her their your if when
    while after before during since although though but and or so as why how what who whom which where is
    are was were be been do does did can could will would should shall may might must has have had no not
    never only also even just yes there here on in at for from by with to into onto of about according
    every all some many most each both any none several such than then thus however while after"""
)
_MONTH_SET = frozenset(MONTHS) | _words("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec")
_WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
# Single words that are names even at the start of a sentence. Small on purpose: a guess is worse than a miss.
_GAZETTEER = _words(
    """America Africa Asia Europe Australia Antarctica Canada Mexico Brazil Argentina China India Japan Korea
    Russia Ukraine France Germany Italy Spain Portugal Britain England Scotland Ireland Wales Israel Iran
    Iraq Syria Egypt Turkey Greece Poland Sweden Norway Denmark Finland Nigeria Kenya Pakistan Indonesia
    Paris London Rome Berlin Madrid Moscow Tokyo Beijing Delhi Washington Chicago Texas California Florida
    Google Facebook Microsoft Twitter Tesla Netflix YouTube Youtube Obama Trump Biden Putin Einstein Darwin
    Newton Shakespeare Jesus Christianity Islam Mars Venus Jupiter Saturn Mercury"""
)

# --- temporal markers -----------------------------------------------------------------------------------

_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_DAY_RE = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR_RE = r"(?:1\d{3}|20\d{2})(?!\d)"
_TEMPORAL = re.compile(
    r"(?<![\w])(?:"  # only at a word start: fails fast inside words, which keeps long claims cheap
    r"(?P<date>"
    rf"\b{_MONTH_RE}\s+{_DAY_RE}(?:\s*,\s*|\s+){_YEAR_RE}"  # March 3, 2020
    rf"|\b{_DAY_RE}\s+(?:of\s+)?{_MONTH_RE}(?:\s*,\s*|\s+){_YEAR_RE}"  # 3 March 2020
    r"|\b(?:1\d{3}|20\d{2})-\d{2}-\d{2}\b"  # 2020-03-03
    r"|\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b"  # 03/03/2020
    rf"|\b{_MONTH_RE}\s+{_DAY_RE}\b(?!\s*,?\s*\d)"  # March 3
    rf"|\b{_DAY_RE}\s+(?:of\s+)?{_MONTH_RE}(?![\w])"  # 3 March
    rf"|\b(?:January|February|March|April|June|July|August|September|October|November|December)"
    rf"(?:\s+of)?\s+{_YEAR_RE}"  # March 2020 (not "May 2020": too often the verb)
    r")"
    r"|(?P<decade>(?:\b(?:1\d|20)\d0|'\d0)'?s\b"
    r"|\b(?:the\s+)?(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b)"
    r"|(?P<year>(?<![\d.,])\b(?:1\d{3}|20\d{2})\b(?![.,]\d))"
    r"|(?P<month>\b(?:January|February|March|April|June|July|August|September|October|November|December)\b"
    r"|\bMay\b(?=\s*\d|\s+(?:of\s+)?(?:1\d{3}|20\d{2})))"
    r"|(?P<relative>\b(?:"
    r"yesterday|today|tonight|tomorrow|nowadays|recently|currently|presently|lately|right\s+now|now"
    r"|these\s+days|at\s+the\s+moment|so\s+far|this\s+(?:morning|afternoon|evening)|last\s+night"
    r"|(?:earlier|later)\s+this\s+(?:week|month|year)"
    r"|(?:last|this|next|past)\s+(?:week|weekend|month|year|decade|century|summer|winter|spring|fall|autumn)"
    r"|(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|several)\s+"
    r"(?:days?|weeks?|months?|years?|decades?|centuries)\s+ago"
    r")\b))",
    re.IGNORECASE,
)
# The IGNORECASE above would accept "may" the verb as a month; month-bearing matches must be capitalised.
_HAS_WORD = re.compile(r"[A-Za-z]{3}")
_CAPITALISED_MONTH = re.compile(
    r"\b(?:" + "|".join(MONTHS) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)


class Normalizer:
    """Cleans a raw claim and derives its comparison key, entities and temporal markers.

    >>> Normalizer().normalize("did u know the Eiffel tower is in PARIS!!! 🇫🇷").normalized_text
    'The Eiffel tower is in PARIS.'
    """

    name = "normalizer"

    def __init__(self, max_chars: int = 2000) -> None:
        self.max_chars = max_chars

    def normalize(self, raw_text: str) -> NormalizedClaim:
        """Validate and clean one claim; raises ``InputError`` saying what to fix."""
        self._validate(raw_text)
        text, was_question = clean_text(raw_text)
        if not any(ch.isalpha() for ch in text):
            raise InputError(
                "claim has nothing left to check once filler words, emoji and punctuation are removed; "
                "send the statement itself, e.g. 'The Eiffel Tower is in Paris'"
            )
        text = _finish_sentence(text, was_question)
        return NormalizedClaim(
            original_text=raw_text,
            normalized_text=text,
            comparison_key=comparison_key(text),
            entities=extract_entities(text),
            temporal_markers=extract_temporal_markers(text),
            source_type="user_input",
            attribution=tweet_attribution(raw_text),
        )

    def _validate(self, raw_text: str) -> None:
        if not isinstance(raw_text, str):
            raise InputError(f"claim must be text, got {type(raw_text).__name__}")
        if raw_text == "":
            raise InputError("claim is empty; send the statement to check as non-empty text")
        require_valid_unicode(raw_text, "claim")
        stripped = raw_text.strip()
        if not stripped:
            raise InputError("claim is only whitespace; send the statement to check as text")
        if len(stripped) > self.max_chars:
            raise InputError(
                f"claim is too long: {len(stripped)} characters, the limit is {self.max_chars}; "
                "send one claim, not a whole article"
            )
        if not any(ch.isalpha() for ch in stripped):
            raise InputError(
                "claim contains no letters (only digits, punctuation or emoji); "
                "send a statement in words, e.g. 'The Moon landing was in 1969'"
            )


_ATTRIBUTION = re.compile(r"[—–-]+\s*(?P<name>[^—–\n]{0,80}?)\s*\(@(?P<handle>\w+)\)[^()]*$")
_CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")


def tweet_attribution(raw_text: str) -> str:
    """Who a pasted tweet is by ("— Ilhan Omar (@IlhanMN) January 6, 2020" -> "Ilhan Omar Ilhan MN").

    Stripped from the claim (its date and handle are no part of it), but it sometimes names the claim's
    subject, so the retriever searches with it (``NormalizedClaim.attribution``).
    """
    match = _ATTRIBUTION.search(raw_text[-160:])
    if not match:
        return ""
    handle = _CAMEL_HUMP.sub(" ", match.group("handle")).replace("_", " ")
    return WHITESPACE.sub(" ", f"{match.group('name')} {handle}").strip()


def clean_text(raw_text: str) -> tuple[str, bool]:
    """The readable claim without noise, before its final period; and whether it was a trivial question."""
    text = _EMOJI.sub(" ", raw_text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _PICTOGRAPH.sub(" ", text)
    text = text.translate(QUOTES)
    text = _URL.sub(" ", text)
    text = WHITESPACE.sub(" ", text).strip()
    text = _LEADING_MENTIONS.sub("", text)
    text = _TWEET_TRAILER.sub("", text)
    text = _VIA_HANDLE.sub("", text)
    text = _HANDLE_AT.sub("", text)
    text = _HASHTAG.sub("", text)
    text = _ELLIPSIS.sub(lambda m: ". " if m.end() < len(m.string) else ".", text)
    text = _BANG_RUN.sub(_end_bang_run, text)
    text = _REPEATED_MARK.sub(r"\1", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _SPACE_AFTER_OPEN.sub("", text)
    text = WHITESPACE.sub(" ", text).strip()

    was_question = False
    while True:
        text = _LEADING_JUNK.sub("", text)
        if _QUESTION_OPENER.match(text):
            was_question = True
        stripped = _OPENER.sub("", text, count=1)
        head, tail = stripped[:-_SUFFIX_WINDOW], stripped[-_SUFFIX_WINDOW:]
        stripped = head + _CHAT_SUFFIX.sub("", tail)
        if stripped == text:
            break
        text = stripped
    return text, was_question


def _end_bang_run(match: re.Match[str]) -> str:
    """Mid-claim, a run of "!"/"?" ends a sentence; at the end it is dropped, keeping a question's "?"."""
    if match.end() < len(match.string):
        return ". "
    return "?" if "?" in match.group() else ""


def _finish_sentence(text: str, was_question: bool) -> str:
    """One terminal mark: a period, or a "?" for a real question the rules cannot turn into a statement.

    A statement with a "?" ("Vaccines cause autism?") or a stripped "is it true that" is a trivial yes/no
    question: it becomes the statement. An inverted question ("Do vaccines cause autism?") would need
    grammar to turn around, so it stays a question.
    """
    text = _TRAILING_JUNK.sub("", text)
    question = text.endswith("?")
    text = text.rstrip("?").rstrip()
    text = _TRAILING_JUNK.sub("", text)
    text = _capitalise_first(text)
    if question and not was_question and _INTERROGATIVE_START.match(text):
        return text + "?"
    return text + "."


def _capitalise_first(text: str) -> str:
    """Upper-case the first letter unless the first word is deliberately mixed-case ("iPhone", "eBay")."""
    for index, ch in enumerate(text):
        if ch.isalpha():
            word = text[index:].split(" ", 1)[0]
            if ch.islower() and not any(c.isupper() for c in word[1:]):
                return text[:index] + ch.upper() + text[index + 1 :]
            return text
    return text


def comparison_key(normalized_text: str) -> str:
    """Casefolded, accent-free, punctuation-free form; numbers keep decimal points, lose thousands commas."""
    text = fold(normalized_text)
    text = _THOUSANDS_COMMA.sub("", text)
    text = _DECIMAL_POINT.sub(_DECIMAL_PLACEHOLDER, text)
    text = _APOSTROPHE.sub("", text)
    text = text.translate(_ASCII_PUNCTUATION) if text.isascii() else _PUNCTUATION.sub(" ", text)
    text = text.replace(_DECIMAL_PLACEHOLDER, ".")
    return WHITESPACE.sub(" ", text).strip()


def extract_entities(text: str) -> tuple[str, ...]:
    """Named entities by rule: capitalised spans, acronyms, quoted names; ordered and de-duplicated.

    A capitalised word that starts a sentence is ambiguous ("Vaccines cause ..."), so it only counts when it
    begins a multi-word name ("Barack Obama ..."), looks like an acronym or brand ("NASA", "iPhone"), or is
    in a small gazetteer. A shouted all-caps claim yields only quoted names: every word would look like an
    acronym.
    """
    found: list[tuple[int, str]] = []
    for match in _QUOTED.finditer(text):
        found.append((match.start(), (match.group(1) or match.group(2)).strip()))
    if not _is_shouted(text):
        found.extend(_capitalised_spans(text))
    found.sort(key=lambda item: item[0])
    seen: set[str] = set()
    entities: list[str] = []
    for _, entity in found:
        key = entity.casefold()
        if key not in seen:
            seen.add(key)
            entities.append(entity)
    return tuple(entities)


def _is_shouted(text: str) -> bool:
    return is_shouted(re.findall(r"[^\W\d_]{2,}", text))


def _is_capitalised(token: str) -> bool:
    return token[0].isupper() or (token[0].isdigit() and any(c.isupper() for c in token))


def _is_acronym_like(token: str) -> bool:
    """NASA, COVID-19, U.S., iPhone, F-35: never an ordinary word that happens to start a sentence."""
    letters = [c for c in token if c.isalpha()]
    return sum(c.isupper() for c in letters) >= 2 or (
        bool(letters) and letters[0].islower() and any(c.isupper() for c in letters[1:])
    )


def _is_edge_filler(word: str) -> bool:
    """A function word at the edge of a capitalised run ("The", "On"), but not an acronym ("WHO")."""
    folded = word.casefold()
    return (folded in _FUNCTION_WORDS or folded in _NAME_CONNECTORS) and (
        len(word) == 1 or not word.isupper()
    )


def _capitalised_spans(text: str) -> list[tuple[int, str]]:
    tokens = list(_TOKEN.finditer(text))
    spans: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].group()
        if not _is_capitalised(token):
            i += 1
            continue
        start_index = i
        j = i
        # Extend over capitalised words, initials ("J. R. R. Tolkien") and inner connectors ("Mary of Teck").
        while j + 1 < len(tokens):
            gap = text[tokens[j].end() : tokens[j + 1].start()]
            nxt = tokens[j + 1].group()
            initial_gap = gap == ". " and len(tokens[j].group()) == 1
            if gap != " " and not initial_gap:
                break
            if _is_capitalised(nxt):
                j += 1
                continue
            last = tokens[j].group()
            if nxt.isdigit() and len(nxt) <= 3 and _is_capitalised(last) and last not in _MONTH_SET:
                j += 1  # a numbered name ends the span: "Apollo 11", "Super Bowl 50"
                break
            # Up to two connectors, then a capitalised word: "Bank of America", "Lord of the Rings".
            k = j + 1
            while (
                k < len(tokens)
                and k - j <= 2
                and tokens[k].group().casefold() in _NAME_CONNECTORS
                and text[tokens[k - 1].end() : tokens[k].start()] == " "
            ):
                k += 1
            if (
                k > j + 1
                and k < len(tokens)
                and text[tokens[k - 1].end() : tokens[k].start()] == " "
                and _is_capitalised(tokens[k].group())
            ):
                j = k
                continue
            break
        span_tokens = tokens[start_index : j + 1]
        i = j + 1
        words = [t.group() for t in span_tokens]
        gap_before = text[tokens[start_index - 1].end() : tokens[start_index].start()] if start_index else ""
        at_sentence_start = start_index == 0 or _SENTENCE_GAP.search(gap_before) is not None
        # Trim function words and months from the edges: "On March 3" is no name, "The Eiffel Tower" is.
        lo, hi = 0, len(words)
        while lo < hi and _is_edge_filler(words[lo]):
            lo += 1
        while hi > lo and words[hi - 1].casefold() in _NAME_CONNECTORS:
            hi -= 1
        if lo >= hi:
            continue
        kept = words[lo:hi]
        if len(kept) == 1 and (kept[0] in _MONTH_SET or kept[0] in _WEEKDAYS):
            continue
        if at_sentence_start and lo == 0 and len(kept) == 1:
            word = kept[0]
            if not (_is_acronym_like(word) or word in _GAZETTEER):
                continue
        first, last = span_tokens[lo], span_tokens[hi - 1]
        spans.append((first.start(), _POSSESSIVE.sub("", text[first.start() : last.end()])))
    return spans


def extract_temporal_markers(text: str) -> tuple[str, ...]:
    """Dates, years, decades, month names and relative time words, in order of appearance, de-duplicated."""
    markers: list[str] = []
    seen: set[str] = set()
    for match in _TEMPORAL.finditer(text):
        value = match.group()
        kind = match.lastgroup
        if kind in ("date", "month") and _HAS_WORD.search(value) and not _CAPITALISED_MONTH.search(value):
            continue  # "may" the verb, "march" the walk: only a capitalised month name is a month
        value = WHITESPACE.sub(" ", value)
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            markers.append(value)
    return tuple(markers)

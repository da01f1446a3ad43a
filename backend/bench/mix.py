"""The seeded request mix of a load run: repeats, paraphrases, never-seen claims, long claims, bad inputs.

Kinds are counted and shuffled up front from the seed; each body comes from an RNG seeded by (seed, index),
so the same seed sends the same bodies whatever order the threads send them in, and one run can be replayed
against another server (the benchmark sends factmem and the obvious stack the very same requests).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from factmem_bench.server import REPO_ROOT

SEED_CLAIMS = REPO_ROOT / "backend" / "src" / "data" / "seed_claims.jsonl"

KINDS = ("repeat", "paraphrase", "new", "long", "bad")
DEFAULT_MIX = {"repeat": 0.4, "paraphrase": 0.25, "new": 0.25, "long": 0.05, "bad": 0.05}
MAX_CLAIM_CHARS = 2_000  # the server's limit; "long" claims stay just under it
LONG_CLAIM_CHARS = 1_990
BASE_POOL_SIZE = 20  # small, so repeats really repeat and the cache gets a chance to answer
BUILTIN_CLAIMS = (
    "The Earth orbits the Sun.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The Great Wall of China is visible from space with the naked eye.",
    "Mount Everest is the highest mountain on Earth above sea level.",
    "The Eiffel Tower is in Berlin.",
    "Humans only use 10 percent of their brains.",
    "Light travels at about 300,000 kilometres per second.",
    "Paris is the capital of France.",
    "Vaccines cause autism.",
    "The Pacific is the largest ocean on Earth.",
    "Bats are blind.",
    "Lightning never strikes the same place twice.",
    "An adult human skeleton has 206 bones.",
    "Goldfish have a three-second memory.",
    "The Amazon is the largest tropical rainforest in the world.",
    "Albert Einstein developed the theory of relativity.",
    "The Moon is made of cheese.",
    "Antibiotics kill viruses.",
    "DNA has a double helix structure.",
    "Tokyo is the capital of Japan.",
)

_NEW_TEMPLATES = (
    "The city of {place} has {n} bridges.",
    "The {place} River is {n} kilometres long.",
    "{person} won the {place} Prize for chemistry in {year}.",
    "{company} reported revenue of {n} million dollars in {year}.",
    "The {place} Tower was completed in {year} and is {m} metres tall.",
    "Lake {place} is home to {n} species of fish.",
    "{person} was elected the first mayor of {place} in {year}.",
    "The island of {place} has a population of {n} people.",
)
_CHAT_PREFIXES = (
    "did u know ",
    "they say that ",
    "apparently ",
    "my uncle told me ",
    "is it true that ",
    "omg ",
)
_EMOJIS = ("😮", "🤔", "🔥", "👀", "✅", "‼️", "😂")
_CONSONANTS = "bcdfghjklmnprstvwxz"
_VOWELS = "aeiou"

# Invalid inputs the contract says must be refused with a 4xx, by name.
BAD_CASES: dict[str, bytes] = {
    "empty": json.dumps({"raw_text": ""}).encode(),
    "whitespace": json.dumps({"raw_text": "   \n\t  "}).encode(),
    "no-letters": json.dumps({"raw_text": "!!!"}).encode(),
    "too-long": json.dumps({"raw_text": ("The sky is green. " * 140)[:2_500]}).encode(),
    "not-json": b"raw_text=The sky is green",
    "wrong-type": json.dumps({"raw_text": 5}).encode(),
}


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the run, fixed before the run starts so a seed reproduces the same mix."""

    index: int
    kind: str
    variant: str
    body: bytes


def parse_mix(text: str) -> dict[str, float]:
    """``"repeat=0.4,new=0.6"`` → weights normalised to sum 1; kinds left out get weight 0."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError(f"bad mix entry {item!r}: use kind=weight with kind in {', '.join(KINDS)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"bad weight in {item!r}: not a number") from None
        if weight < 0 or not math.isfinite(weight):
            raise ValueError(f"bad weight in {item!r}: must be a finite number >= 0")
        weights[name] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("the mix needs at least one kind with a positive weight")
    return {kind: weights.get(kind, 0.0) / total for kind in KINDS}


def apportion(n: int, mix: dict[str, float]) -> dict[str, int]:
    """Exact counts per kind summing to ``n`` (largest remainder), so the proportions are what was asked."""
    exact = {kind: n * mix.get(kind, 0.0) for kind in KINDS}
    counts = {kind: math.floor(value) for kind, value in exact.items()}
    by_remainder = sorted(KINDS, key=lambda kind: (-(exact[kind] - counts[kind]), KINDS.index(kind)))
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    return counts


def load_base_claims(path: Path = SEED_CLAIMS) -> list[str]:
    """Claims from the seed file (JSONL rows with a ``claim`` field), else the built-in list."""
    claims: list[str] = []
    try:
        with path.open(encoding="utf-8") as rows:
            for line in rows:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                claim = row.get("claim") if isinstance(row, dict) else None
                if isinstance(claim, str) and claim.strip() and len(claim) < 300:
                    claims.append(claim.strip())
    except OSError:
        pass
    return claims or list(BUILTIN_CLAIMS)


def _made_up_name(rng: random.Random) -> str:
    syllables = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
    return (syllables + rng.choice(_CONSONANTS)).capitalize()


def new_claim(rng: random.Random) -> str:
    """A claim about made-up entities, so every one is new to the server and its memory must grow."""
    return rng.choice(_NEW_TEMPLATES).format(
        place=_made_up_name(rng),
        person=f"{_made_up_name(rng)} {_made_up_name(rng)}",
        company=f"{_made_up_name(rng)} Corp",
        n=rng.randint(2, 99_999),
        m=rng.randint(20, 900),
        year=rng.randint(1700, 2024),
    )


def paraphrase(claim: str, rng: random.Random) -> str:
    """The claim with chat-style noise that a normaliser should see through (same meaning, new bytes)."""
    chosen = set(rng.sample(("prefix", "casing", "punctuation", "emoji", "whitespace"), rng.randint(1, 3)))
    text = claim
    if "prefix" in chosen:
        text = rng.choice(_CHAT_PREFIXES) + text[:1].lower() + text[1:]
    if "casing" in chosen:
        style = rng.choice(("lower", "upper", "random"))
        if style == "random":
            text = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
        else:
            text = text.lower() if style == "lower" else text.upper()
    if "punctuation" in chosen:
        text = text.rstrip(".!?") + rng.choice(("!!!", "???", "?!", "!!"))
    if "emoji" in chosen:
        emoji = rng.choice(_EMOJIS)
        text = f"{emoji} {text}" if rng.random() < 0.5 else f"{text} {emoji}"
    if "whitespace" in chosen:
        words = text.split(" ")
        text = "  ".join(words) if rng.random() < 0.5 else f"  {text}\n"
    return text


def long_claim(base: Sequence[str], rng: random.Random, limit: int = LONG_CLAIM_CHARS) -> str:
    """Sentences joined until the text is just under ``limit`` characters (the server allows 2,000)."""
    text = ""
    misses = 0
    while misses < 30:
        sentence = rng.choice(base) if rng.random() < 0.5 else new_claim(rng)
        candidate = f"{text} {sentence}" if text else sentence
        if len(candidate) <= limit:
            text, misses = candidate, 0
        else:
            misses += 1
    return text


def _json_body(text: str) -> bytes:
    return json.dumps({"raw_text": text}, ensure_ascii=False).encode()


def make_request(index: int, kind: str, variant: str, seed: int, base: Sequence[str]) -> PlannedRequest:
    """The request at ``index``, from an RNG seeded by (seed, index): the same seed gives the same bodies
    whatever order the threads send them in."""
    rng = random.Random(f"{seed}:{index}")
    if kind == "bad":
        body = BAD_CASES[variant]
    elif kind == "repeat":
        body = _json_body(rng.choice(base))
    elif kind == "paraphrase":
        body = _json_body(paraphrase(rng.choice(base), rng))
    elif kind == "new":
        body = _json_body(new_claim(rng))
    else:
        body = _json_body(long_claim(base, rng))
    return PlannedRequest(index, kind, variant, body)


class Plan(Sequence[PlannedRequest]):
    """The run's requests. Kinds are counted and shuffled up front; bodies are built when sent, so a
    100,000-request run starts at once instead of spending its time budget generating text."""

    def __init__(self, n: int, mix: dict[str, float], seed: int, base: Sequence[str]) -> None:
        rng = random.Random(seed)
        kinds = [kind for kind, count in apportion(n, mix).items() for _ in range(count)]
        rng.shuffle(kinds)
        bad_names = list(BAD_CASES)
        bad_seen = 0
        self.slots: list[tuple[str, str]] = []
        for kind in kinds:
            variant = ""
            if kind == "bad":
                variant = bad_names[bad_seen % len(bad_names)]  # round-robin: every bad case gets sent
                bad_seen += 1
            self.slots.append((kind, variant))
        self.seed = seed
        self.base = list(base)

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, index: int) -> PlannedRequest:  # type: ignore[override]
        kind, variant = self.slots[index]
        return make_request(index % len(self.slots), kind, variant, self.seed, self.base)

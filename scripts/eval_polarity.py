"""Measure the normalizer's comparison key and factmem.polarity on the shared development data.

Reads ../shared/eval/ next to the repository (never copied into it) and prints:

1. contrast pairs (FEVER-Symmetric): share judged not "same" — the memory must not answer one with the
   other's verdict;
2. noise robustness: noisy variants of the seed claims keep their comparison key and stay "same";
   hand-made negations come out "opposite";
3. claim matching (tweet vs the fact-checked claim it repeats) and fact-check title vs claim: share "same"
   (a false "different" costs only a cache miss);
4. throughput of compare_claims.

With the embedding model installed, sections 1 and 3 are also reported for the pairs the retriever would
actually compare (cosine >= 0.85); pass --no-embed to skip that (it takes a minute or two on two cores).

    .venv/bin/python scripts/eval_polarity.py [--no-embed] [--show N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from factmem.agents.normalizer import Normalizer
from factmem.errors import InputError
from factmem.polarity import ClaimRelation, _cached_claim_signature, claim_signature, compare_claims

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(os.environ.get("FACTMEM_EVAL_DIR", REPO.parent / "shared" / "eval"))
SEED_FILE = REPO / "backend" / "src" / "data" / "seed_claims.jsonl"
CACHE_COSINE = 0.85

Pair = tuple[str, str]
_normalizer = Normalizer()


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def norm(text: str) -> str:
    return _normalizer.normalize(text).normalized_text


def normalized_pairs(rows: Iterable[dict], left: str, right: str) -> list[Pair]:
    pairs = []
    for row in rows:
        try:
            pairs.append((norm(row[left]), norm(row[right])))
        except InputError:
            continue
    return pairs


def reason_kind(relation: ClaimRelation) -> str:
    return relation.reason.split(":")[0] if relation.reason else relation.kind


def report(title: str, pairs: Sequence[Pair], goal_kind: str | None = None, show: int = 0) -> None:
    """Print the share of each relation kind and the reasons behind them."""
    if not pairs:
        print(f"  {title}: no pairs")
        return
    relations = [compare_claims(a, b) for a, b in pairs]
    kinds = Counter(r.kind for r in relations)
    reasons = Counter(reason_kind(r) for r in relations)
    n = len(pairs)
    shares = "  ".join(f"{k} {kinds[k] / n:.1%}" for k in ("same", "opposite", "different"))
    print(f"  {title} (n={n}): {shares}")
    if goal_kind == "not-same":
        print(f"    -> not 'same': {(n - kinds['same']) / n:.1%}")
    print("    by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))
    if show:
        unwanted = "same" if goal_kind == "not-same" else None
        shown = 0
        for (a, b), relation in zip(pairs, relations, strict=True):
            if shown >= show:
                break
            if (unwanted and relation.kind == unwanted) or (not unwanted and relation.kind != "same"):
                print(f"      [{relation.kind}: {relation.reason}] {a[:120]} || {b[:120]}")
                shown += 1


Embed = Callable[[list[str]], np.ndarray]


def cosine_filter(pairs: Sequence[Pair], embed: Embed | None) -> list[Pair] | None:
    """The pairs the retriever would compare at all (unit vectors: the dot product is the cosine)."""
    if embed is None or not pairs:
        return None
    left = embed([a for a, _ in pairs])
    right = embed([b for _, b in pairs])
    cosines = (left * right).sum(axis=1)
    return [pair for pair, cos in zip(pairs, cosines, strict=True) if cos >= CACHE_COSINE]


def load_embedder(enabled: bool) -> tuple[Embed | None, tempfile.TemporaryDirectory]:
    workdir = tempfile.TemporaryDirectory(prefix="factmem-eval-")
    if not enabled:
        return None, workdir
    try:
        from factmem.embeddings import Embedder, assemble_model_dir

        embedder = Embedder(assemble_model_dir(Path(workdir.name) / "model"))
    except Exception as exc:  # the measurement still runs without the cosine subsets
        print(f"(embedding model unavailable, cosine subsets skipped: {exc})")
        return None, workdir
    return embedder.embed, workdir


# --- noise and negation -----------------------------------------------------------------------------------


def noisy_variants(claim: str) -> list[str]:
    """The noise a chat user adds: case, emoji, chat openers, hedges, shouting, stray whitespace."""
    body = claim.rstrip(".!? ")
    lower_first = body[:1].lower() + body[1:]
    return [
        claim.lower(),
        claim.upper(),
        f"did u know {lower_first}?? 🤯🤯",
        f"They say that {body} 🙄",
        f"{body}!!!",
        "  " + "   ".join(claim.split()) + " \u200b ",
        f"FYI: {body}... lol",
        f"Is it true that {lower_first}?",
    ]


_AUXILIARIES = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|may|might|must)\b"
    r"(?! (?:not|never|only|yet)\b)"  # "not only" affirms and "has yet to" is already negative
)
_THIRD_PERSON_VERBS = re.compile(
    r"\b(causes|contains|makes|helps|increases|reduces|prevents|kills|cures|protects|improves|damages"
    r"|leads|affects|orbits|boils|freezes|takes|uses|lowers|raises|lives|grows|spreads|weakens|removes"
    r"|blocks|burns|needs|works|turns|gives|keeps|tastes|sleeps|remains|means|requires|attracts)\b"
)
_PLURAL_VERBS = re.compile(
    r"\b(cause|contain|make|help|increase|reduce|prevent|kill|cure|protect|improve|damage|lead|affect"
    r"|use|lower|raise|live|grow|spread|weaken|remove|block|burn|need|work|turn|give|keep|sleep|see|eat"
    r"|drink|get|lose|swallow|have|go|feel|attract)\b"
)
_PAST_VERB = re.compile(r"(?<=\s)([a-z]{3,}ed)\b")


def negate(claim: str, index: int) -> str | None:
    """Insert "not" / "never" / "doesn't" the way a person would; None when no simple place is found."""
    body = claim.rstrip(".")
    if match := _AUXILIARIES.search(body[1:]):
        cue = "never" if index % 3 == 2 else "not"
        at = match.end() + 1
        return f"{body[:at]} {cue}{body[at:]}."
    if match := _THIRD_PERSON_VERBS.search(body):
        verb = match.group(1)
        base = verb[:-2] if verb.endswith(("shes", "ches", "xes", "sses")) else verb[:-1]
        return f"{body[: match.start()]}doesn't {base}{body[match.end() :]}."
    if match := _PLURAL_VERBS.search(body[1:]):
        at = match.start() + 1
        return f"{body[:at]}do not {body[at:]}."
    if match := _PAST_VERB.search(body):
        return f"{body[: match.start()]}never {body[match.start() :]}."
    return None


def seed_claims() -> tuple[str, list[str]]:
    if SEED_FILE.exists():
        return SEED_FILE.name, [row["claim"] for row in read_jsonl(SEED_FILE)]
    rows = read_jsonl(EVAL_DIR / "claims_dev.jsonl")
    random.Random(11).shuffle(rows)
    return "claims_dev.jsonl (300 sampled)", [row["claim"] for row in rows[:300]]


def noise_section(show: int) -> None:
    source, claims = seed_claims()
    print(f"\n2. Noise robustness on {source} ({len(claims)} claims)")
    total = same_key = same_relation = 0
    failures: list[str] = []
    for claim in claims:
        original = _normalizer.normalize(claim)
        for variant in noisy_variants(claim):
            noisy = _normalizer.normalize(variant)
            total += 1
            same_key += noisy.comparison_key == original.comparison_key
            relation = compare_claims(original.normalized_text, noisy.normalized_text)
            same_relation += relation.kind == "same"
            if relation.kind != "same" or noisy.comparison_key != original.comparison_key:
                failures.append(
                    f"{variant!r} -> {noisy.comparison_key!r} [{relation.kind}: {relation.reason}]"
                )
    print(
        f"  noisy variants: {total}; identical comparison_key {same_key / total:.1%}; "
        f"compare_claims == same {same_relation / total:.1%}"
    )
    for line in failures[:show]:
        print(f"      {line}")

    negations: list[Pair] = []
    for index, claim in enumerate(claims):
        negated = negate(claim, index)
        if negated:
            negations.append((norm(claim), norm(negated)))
        if len(negations) == 50:
            break
    kinds = Counter(compare_claims(a, b).kind for a, b in negations)
    print(
        f"  hand-made negations (n={len(negations)}): opposite {kinds['opposite'] / len(negations):.1%} "
        f"({dict(kinds)})"
    )
    if show:
        for a, b in negations[:3]:
            print(f"      e.g. {a} || {b}")
        for a, b in negations:
            relation = compare_claims(a, b)
            if relation.kind != "opposite":
                print(f"      [{relation.kind}: {relation.reason}] {a} || {b}")


def throughput_section() -> None:
    rows = read_jsonl(EVAL_DIR / "contrast_pairs_dev.jsonl")
    pairs = [(row["claim_true"], row["claim_false"]) for row in rows]
    print("\n4. Throughput")
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        _cached_claim_signature.cache_clear()
        for a, b in pairs:
            compare_claims(a, b)
    cold = rounds * len(pairs) / (time.perf_counter() - started)
    signatures = [(claim_signature(a), claim_signature(b)) for a, b in pairs]
    started = time.perf_counter()
    for _ in range(rounds * 10):
        for a, b in signatures:
            compare_claims(a, b)
    warm = rounds * 10 * len(pairs) / (time.perf_counter() - started)
    print(f"  compare_claims on two fresh strings (signatures computed): {cold:,.0f} pairs/s")
    print(f"  compare_claims on precomputed signatures: {warm:,.0f} pairs/s")
    texts = [a for a, _ in pairs] * 5
    started = time.perf_counter()
    for text in texts:
        _normalizer.normalize(text)
    print(f"  Normalizer.normalize: {(time.perf_counter() - started) / len(texts) * 1e6:.0f} µs per claim")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embed", action="store_true", help="skip the cosine >= 0.85 subsets")
    parser.add_argument("--show", type=int, default=0, help="print up to N failing pairs per section")
    parser.add_argument("--vclaims", type=int, default=1500, help="fact-check title/claim pairs to sample")
    args = parser.parse_args(argv)
    if not EVAL_DIR.is_dir():
        print(f"no evaluation data at {EVAL_DIR}; nothing to measure")
        return 0
    embed, workdir = load_embedder(not args.no_embed)
    with workdir:
        contrast = normalized_pairs(
            read_jsonl(EVAL_DIR / "contrast_pairs_dev.jsonl"), "claim_true", "claim_false"
        )
        close_contrast = cosine_filter(contrast, embed)
        print("1. Contrast pairs (claim_true vs claim_false): goal as many not 'same' as possible")
        report("all pairs", contrast, "not-same", args.show)
        if close_contrast is not None:
            report(f"pairs with cosine >= {CACHE_COSINE}", close_contrast, "not-same", args.show)

        noise_section(args.show)

        print("\n3. Paraphrases of one claim: goal 'same' (a false 'different' costs a cache miss)")
        tweets = normalized_pairs(read_jsonl(EVAL_DIR / "claim_matching_dev.jsonl"), "query", "matched_claim")
        close_tweets = cosine_filter(tweets, embed)
        report("claim_matching_dev: tweet vs matched claim, all", tweets, show=args.show)
        if close_tweets is not None:
            report(f"claim_matching_dev with cosine >= {CACHE_COSINE}", close_tweets, show=args.show)
        vclaims = read_jsonl(EVAL_DIR / "vclaims.jsonl")
        random.Random(7).shuffle(vclaims)
        titles = normalized_pairs(vclaims[: args.vclaims], "title", "claim")
        close_titles = cosine_filter(titles, embed)
        report(f"vclaims: fact-check title vs its claim, {args.vclaims} sampled", titles, show=args.show)
        if close_titles is not None:
            report(f"vclaims title vs claim with cosine >= {CACHE_COSINE}", close_titles, show=args.show)

        throughput_section()

    return 0


if __name__ == "__main__":
    sys.exit(main())

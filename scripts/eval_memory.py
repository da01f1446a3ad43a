"""Measure factmem's claim memory on the shared evaluation data (read in place, never copied).

    .venv/bin/python scripts/eval_memory.py [--eval-dir ../shared/eval] [--parts ...] [--quick] [--json F]

Every check runs the real service path (normalizer, retriever, reasoner, memory update over a Qdrant Edge
shard and the int8 embedder of the settings) and prints one table at the end:

- matching: CheckThat! 2022 2A. The 14,231 verified claims go into the memory through the ingest path;
  each tweet is verified like a /verify request and the memory's ranked matches are scored (MAP@5, the
  task's metric; MRR, Recall@1/10), on the dev split (ids ``:dev:``) and the train split separately: what
  learns from data learns on train, and dev is what is reported.
- typos: a memory of labelled FEVER claims; claims it holds are resubmitted with one typo, and with a
  realistic mix (chat noise plus one or two typos). Right: a cache hit with the stored verdict.
- negation typos: a claim whose negation word is misspelt ("nevver") must never get the wrong verdict,
  both when the memory holds that claim and when it holds the claim's affirmative.
- contrast: FEVER-Symmetric pairs (a memory holding one claim must not answer the other with its verdict),
  and one-edit twins of the memory's claims (quantifier, comparative, ordinal, names trading places,
  preposition, a word turned function word, number): the stored verdict served for the twin is a failure.
- same topic: FEVER claims that are not in the memory, on a subject the memory holds claims about; a
  True/False verdict that contradicts the claim's label is a failure (and the contradiction rule's right
  and wrong answers are counted here and on the contrast pairs).
- unrelated: fact-checked claims from another source (Snopes) asked of the FEVER memory: any cache hit or
  True/False verdict is a failure.

``--quick`` runs a small fixed subset (what the CI regression test runs). Noise comes from general rules
(``scripts/eval_noise.py``) with fixed seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_noise

from factmem.agents.normalizer import extract_entities
from factmem.agents.reasoner import CONTRADICTION_REASONING
from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.errors import InputError
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.pipeline import VerificationPipeline
from factmem.settings import Settings
from factmem.store.edge import EdgeClaimStore
from factmem.store.ids import claim_point_id
from factmem.store.lexical import Fusion

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = ROOT / "backend" / "src" / "model" / "vocab.txt"


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True)
class Sizes:
    """How many cases each part draws; ``quick`` is the CI subset."""

    resubmissions: int = 500
    negations: int = 300
    same_topic: int = 500
    unrelated: int = 500
    contrast_pairs: int | None = None  # all
    twins_per_kind: int = 80
    memory_claims: int | None = None  # half of FEVER paper_dev's True/False claims
    matching_distractors: int | None = None  # all 14k verified claims


FULL = Sizes()
QUICK = Sizes(
    resubmissions=80,
    negations=60,
    same_topic=120,
    unrelated=80,
    contrast_pairs=60,
    twins_per_kind=10,
    memory_claims=900,
    matching_distractors=2500,
)


@dataclass(frozen=True)
class Answer:
    verdict: str
    cache_hit: bool
    evidence_ids: tuple[str, ...]
    reasoning: str


class Memory:
    """A claim memory on a fresh Qdrant Edge shard, asked through the service's own pipeline."""

    def __init__(self, workdir: Path, embedder: Embedder, name: str, **overrides: object) -> None:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=workdir, seed_on_empty=False, memory_limit_mb=None, **overrides
        )
        claims = EdgeClaimStore(
            workdir / name / "claims", name="claims", dim=MINILM_INT8.dim, lexical=settings.hybrid_retrieval
        )
        evidence = EdgeClaimStore(workdir / name / "evidence", name="evidence", dim=MINILM_INT8.dim)
        self.pipeline = VerificationPipeline(settings, claims, evidence, lambda: embedder)

    def add(self, claims: Iterable[CuratedClaim]) -> None:
        ingest_claims(self.pipeline, claims)

    def point_id(self, text: str) -> str:
        return claim_point_id(self.pipeline.normalizer.normalize(text).comparison_key)

    def ask(self, text: str) -> Answer:
        """Verify ``text`` like /verify does, then take back what that verification stored."""
        verification = self.pipeline.verify(text)
        if verification.write.inserted:
            self.pipeline.claim_store.delete([verification.write.id])
        result = verification.result
        return Answer(result.verdict, verification.cache_hit, result.evidence_ids, result.reasoning)

    def remove(self, ids: list[str]) -> None:
        self.pipeline.claim_store.delete(ids)

    def close(self) -> None:
        self.pipeline.claim_store.close()
        self.pipeline.evidence_store.close()


def opposite(verdict: str) -> str:
    return {"True": "False", "False": "True"}.get(verdict, "Uncertain")


@dataclass
class Tally:
    """Counts of one check; ``cases`` keeps a few failures to read."""

    counts: Counter = field(default_factory=Counter)
    cases: list[str] = field(default_factory=list)
    keep: int = 12

    def add(self, key: str, example: str | None = None) -> None:
        self.counts[key] += 1
        if example is not None and len(self.cases) < self.keep:
            self.cases.append(example)

    def rate(self, key: str, of: str = "n") -> float:
        return self.counts[key] / self.counts[of] if self.counts[of] else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**dict(self.counts), "examples": self.cases}


# --- data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str
    topic: str


def topic_of(text: str) -> str:
    """The claim's subject for "same topic": its first named entity, else its first two words."""
    entities = extract_entities(text)
    return entities[0].casefold() if entities else " ".join(text.casefold().split()[:2])


def fever_split(eval_dir: Path, sizes: Sizes) -> tuple[list[Labelled], list[Labelled]]:
    """FEVER paper_dev: half its True/False claims become the memory, the rest (all labels) stay out."""
    rows = [r for r in read_jsonl(eval_dir / "claims_dev.jsonl") if r["source"] == "fever_paper_dev"]
    rng = random.Random(20)
    rng.shuffle(rows)
    decided = [r for r in rows if r["label"] in ("True", "False")]
    in_memory = decided[: len(decided) // 2]
    if sizes.memory_claims is not None:
        in_memory = in_memory[: sizes.memory_claims]
    memory_texts = {r["claim"].strip().casefold() for r in in_memory}
    held_out = [r for r in rows if r["claim"].strip().casefold() not in memory_texts]
    make = lambda r: Labelled(r["claim"], r["label"], topic_of(r["claim"]))  # noqa: E731
    return [make(r) for r in in_memory], [make(r) for r in held_out]


# --- checks --------------------------------------------------------------------------------------------


def resubmissions(memory: Memory, stored: list[Labelled], sizes: Sizes, vocabulary: frozenset[str]) -> dict:
    rng = random.Random(31)
    sample = rng.sample(stored, min(sizes.resubmissions, len(stored)))
    out = {}
    for name, make in (
        ("one typo", lambda text: eval_noise.with_typos(text, rng, 1, vocabulary)),
        ("typos + chat noise", lambda text: eval_noise.realistic_resubmission(text, rng, vocabulary)),
    ):
        tally = Tally()
        for item in sample:
            noisy = make(item.text)
            if noisy is None:
                continue
            answer = memory.ask(noisy)
            tally.add("n")
            if answer.cache_hit and answer.verdict == item.label:
                tally.add("hit, right verdict")
            elif answer.verdict == opposite(item.label):
                tally.add("wrong verdict", f"{item.text!r} ({item.label}) <- {noisy!r}: {answer.reasoning}")
            else:
                tally.add("missed", f"{noisy!r}: {answer.verdict} {answer.reasoning}")
        out[name] = tally
    return out


def negation_typos(memory: Memory, stored: list[Labelled], sizes: Sizes, vocabulary: frozenset[str]) -> Tally:
    """Never a wrong verdict: the memory holds the negated claim itself, or its affirmative."""
    rng = random.Random(37)
    tally = Tally()
    negated = [s for s in stored if eval_noise.typo_in_negation(s.text, random.Random(0), vocabulary)]
    affirmative = [s for s in stored if s not in negated]
    rng.shuffle(negated)
    rng.shuffle(affirmative)
    cases: list[tuple[str, str]] = []  # (asked, the verdict that would be wrong)
    for item in negated[: sizes.negations // 2]:
        asked = eval_noise.typo_in_negation(item.text, rng, vocabulary)
        if asked:
            cases.append((asked, opposite(item.label)))
    for item in affirmative:
        if len(cases) >= sizes.negations:
            break
        negated_text = eval_noise.negate(item.text, rng)
        asked = eval_noise.typo_in_negation(negated_text, rng, vocabulary) if negated_text else None
        if asked:
            cases.append((asked, item.label))
    for asked, wrong in cases:
        answer = memory.ask(asked)
        tally.add("n")
        if answer.verdict == wrong:
            tally.add("wrong verdict", f"{asked!r}: {answer.verdict} ({answer.reasoning})")
        elif answer.verdict == "Uncertain":
            tally.add("uncertain")
        else:
            tally.add("right verdict")
    return tally


def contrast_pairs(eval_dir: Path, memory: Memory, sizes: Sizes, contradictions: Tally) -> Tally:
    """FEVER-Symmetric: the memory holds one claim of a pair; the other must not get its verdict."""
    pairs = list(read_jsonl(eval_dir / "contrast_pairs_dev.jsonl"))[: sizes.contrast_pairs]
    tally = Tally()
    for pair in pairs:
        for stored, verdict, asked in (
            (pair["claim_true"], "True", pair["claim_false"]),
            (pair["claim_false"], "False", pair["claim_true"]),
        ):
            memory.add([CuratedClaim(claim=stored, verdict=verdict, source_reliability=0.9)])
            answer = memory.ask(asked)
            memory.remove([memory.point_id(stored)])
            tally.add("n")
            if answer.cache_hit:
                tally.add("cache hit")
            if answer.verdict == verdict:
                tally.add("stored verdict served", f"{stored!r} ({verdict}) -> {asked!r}: {answer.reasoning}")
            elif answer.verdict == "Uncertain":
                tally.add("uncertain")
            else:
                tally.add("opposite verdict")
            if answer.reasoning.startswith(CONTRADICTION_REASONING):
                tally.add("contradiction rule fired")
                right = answer.verdict != verdict
                tally.add("contradiction right" if right else "contradiction wrong")
                contradictions.add(
                    "right" if right else "wrong",
                    f"{'right' if right else 'WRONG'}: {asked!r} {answer.reasoning}",
                )
    return tally


def contrast_twins(memory: Memory, stored: list[Labelled], sizes: Sizes) -> dict[str, Tally]:
    rng = random.Random(41)
    labels = {s.text: s.label for s in stored}
    out: dict[str, Tally] = {}
    for kind, original, twin in eval_noise.twins([s.text for s in stored], rng, sizes.twins_per_kind):
        tally = out.setdefault(kind, Tally())
        answer = memory.ask(twin)
        tally.add("n")
        verdict = labels[original]
        if answer.verdict == verdict and memory.point_id(original) in answer.evidence_ids:
            tally.add("stored verdict served", f"{original!r} ({verdict}) -> {twin!r}: {answer.reasoning}")
    return out


def same_topic(
    memory: Memory, stored: list[Labelled], held_out: list[Labelled], sizes: Sizes, contradictions: Tally
) -> Tally:
    topics = {s.topic for s in stored}
    candidates = [h for h in held_out if h.topic in topics]
    queries = random.Random(43).sample(candidates, min(sizes.same_topic, len(candidates)))
    tally = Tally()
    for item in queries:
        answer = memory.ask(item.text)
        tally.add("n")
        tally.add(f"label {item.label}")
        decided = answer.verdict in ("True", "False")
        fired = answer.reasoning.startswith(CONTRADICTION_REASONING)
        if fired:
            tally.add("contradiction rule fired")
        if not decided:
            continue
        outcome = "NEI" if item.label == "Uncertain" else "right" if answer.verdict == item.label else "wrong"
        if outcome == "NEI":
            tally.add("NEI given a verdict", f"{item.text!r} (NEI): {answer.verdict} {answer.reasoning}")
        elif outcome == "right":
            tally.add("right verdict")
        else:
            tally.add("wrong verdict", f"{item.text!r} ({item.label}): {answer.verdict} {answer.reasoning}")
        if fired:
            tally.add(f"contradiction {'on NEI' if outcome == 'NEI' else outcome}")
            contradictions.add(outcome, f"{outcome.upper()}: {item.text!r} ({item.label}) {answer.reasoning}")
    return tally


def unrelated(eval_dir: Path, memory: Memory, sizes: Sizes) -> Tally:
    rows = list(read_jsonl(eval_dir / "vclaims.jsonl"))
    rng = random.Random(47)
    tally = Tally()
    for row in rng.sample(rows, min(sizes.unrelated, len(rows))):
        text = row["claim"] if len(row["claim"].strip()) >= 12 else row["title"]
        try:
            answer = memory.ask(text)
        except InputError:
            continue
        tally.add("n")
        if answer.cache_hit or answer.verdict != "Uncertain":
            tally.add("hit or verdict", f"{text!r}: {answer.verdict} {answer.reasoning}")
    return tally


@dataclass
class MatchingData:
    """CheckThat! verified claims loaded into a memory; the tweets of each split with their gold ids."""

    memory: Memory
    queries: dict[str, dict[str, tuple[str, set[str]]]]  # split -> query id -> (tweet, gold claim ids)
    memory_claims: int
    load_s: float


def load_matching(
    eval_dir: Path, embedder: Embedder, workdir: Path, sizes: Sizes, overrides: dict[str, object]
) -> MatchingData:
    queries = list(read_jsonl(eval_dir / "claim_matching_dev.jsonl"))
    vclaims = list(read_jsonl(eval_dir / "vclaims.jsonl"))
    if sizes.matching_distractors is not None:
        gold_ids = {q["matched_claim_id"] for q in queries if q["split"] == "dev"}
        queries = [q for q in queries if q["split"] == "dev"]
        others = [v for v in vclaims if v["id"] not in gold_ids]
        random.Random(53).shuffle(others)
        vclaims = [v for v in vclaims if v["id"] in gold_ids] + others[: sizes.matching_distractors]
    memory = Memory(workdir, embedder, "matching", **overrides)
    started = time.perf_counter()
    # A few rows carry a stub claim ("A"); their title is the claim then.
    memory.add(
        CuratedClaim(
            claim=v["claim"] if len(v["claim"].strip()) >= 12 else v["title"],
            title=v["title"],
            verdict="Uncertain",
            source=v["id"],
        )
        for v in vclaims
    )
    memory.pipeline.claim_store.build_index()
    by_split: dict[str, dict[str, tuple[str, set[str]]]] = {}
    for row in queries:
        split = by_split.setdefault(row["split"], {})
        _, gold = split.setdefault(row["query_id"], (row["query"], set()))
        gold.add(row["matched_claim_id"])
    return MatchingData(memory, by_split, len(vclaims), round(time.perf_counter() - started, 1))


def claim_matching(
    eval_dir: Path, embedder: Embedder, workdir: Path, sizes: Sizes, overrides: dict[str, object]
) -> dict[str, object]:
    """CheckThat! 2022 2A: MAP@5 and friends of the memory's ranking, per split."""
    data = load_matching(eval_dir, embedder, workdir, sizes, overrides)
    memory, by_split = data.memory, data.queries
    retriever, normalizer = memory.pipeline.retriever, memory.pipeline.normalizer
    results: dict[str, object] = {"memory_claims": data.memory_claims, "load_s": data.load_s}
    store = memory.pipeline.claim_store
    fusion = retriever.policy.fusion or Fusion()
    source = lambda points: [p.payload.get("source") for p in points]  # noqa: E731
    for split, items in sorted(by_split.items()):
        ranked: dict[str, list[tuple[list[str], set[str]]]] = {}
        for text, gold in items.values():
            claim = normalizer.normalize(text)
            vector = embedder.embed_one(claim.normalized_text)
            lists = {
                "service": [m.source for m in retriever.retrieve(claim).matches],
                "dense": source(store.search(vector, 10)),
            }
            if store.hybrid:
                for name, weights in (("bm25", (0.0, 1.0)), ("dense+bm25 rrf", (1.0, 1.0))):
                    rrf = replace(fusion, candidates=10, dense_weight=weights[0], lexical_weight=weights[1])
                    lists[name] = source(store.hybrid_search(vector, claim.normalized_text, rrf))
            for name, ranking in lists.items():
                ranked.setdefault(name, []).append((ranking, gold))
        results[split] = {
            "queries": len(items),
            **ranking_metrics(ranked["service"]),
            "by_method": {name: ranking_metrics(lists)["MAP@5"] for name, lists in ranked.items()},
        }
    memory.close()
    return results


def ranking_metrics(ranked_lists: list[tuple[list[str], set[str]]]) -> dict[str, float]:
    ap5, rr, r1, r10 = [], [], [], []
    for ranked, relevant in ranked_lists:
        found = [i for i, r in enumerate(ranked[:10]) if r in relevant]
        precisions = [(n + 1) / (i + 1) for n, i in enumerate(i for i in found if i < 5)]
        ap5.append(sum(precisions) / min(len(relevant), 5))
        rr.append(1.0 / (found[0] + 1) if found else 0.0)
        r1.append(1.0 if found and found[0] == 0 else 0.0)
        r10.append(1.0 if found else 0.0)
    return {
        "MAP@5": round(float(np.mean(ap5)), 4),
        "MRR@10": round(float(np.mean(rr)), 4),
        "Recall@1": round(float(np.mean(r1)), 4),
        "Recall@10": round(float(np.mean(r10)), 4),
    }


# --- report --------------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part}/{whole})" if whole else "n/a"


def table(report: dict[str, object]) -> list[tuple[str, str, str]]:
    """(what, measured, target) rows of the report."""
    rows: list[tuple[str, str, str]] = []
    matching = report.get("claim_matching")
    if isinstance(matching, dict):
        for split in ("dev", "train"):
            if split in matching:
                m = matching[split]
                target = ">= 0.88" if split == "dev" else "(train: fitted on)"
                rows.append(
                    (
                        f"CheckThat! 2A MAP@5, {split} "
                        f"({m['queries']} tweets, {matching['memory_claims']} claims)",
                        f"{m['MAP@5']:.3f} (MRR {m['MRR@10']:.3f}, R@1 {m['Recall@1']:.3f}, "
                        f"R@10 {m['Recall@10']:.3f}); "
                        + ", ".join(f"{k} {v:.3f}" for k, v in m["by_method"].items() if k != "service"),
                        target,
                    )
                )
    for name, tally in report.get("resubmissions", {}).items():  # type: ignore[union-attr]
        c = tally.counts
        rows.append(
            (
                f"resubmitted, {name}: cache hit with the right verdict",
                f"{_pct(c['hit, right verdict'], c['n'])}; wrong {c['wrong verdict']}",
                ">= 98 %",
            )
        )
    if (t := report.get("negation_typos")) is not None:
        c = t.counts  # type: ignore[union-attr]
        rows.append(
            (
                "typo inside a negation word: wrong verdict",
                f"{_pct(c['wrong verdict'], c['n'])}; right {c['right verdict']}, uncertain {c['uncertain']}",
                "0",
            )
        )
    if (t := report.get("contrast_pairs")) is not None:
        c = t.counts  # type: ignore[union-attr]
        rows.append(
            (
                "FEVER-Symmetric twins: stored verdict served",
                f"{_pct(c['stored verdict served'], c['n'])}; cache hits {c['cache hit']}, "
                f"opposite {c['opposite verdict']}",
                "<= 2 %",
            )
        )
    twins = report.get("contrast_twins")
    if isinstance(twins, dict) and twins:
        total = sum(t.counts["n"] for t in twins.values())
        served = sum(t.counts["stored verdict served"] for t in twins.values())
        detail = ", ".join(
            f"{k} {t.counts['stored verdict served']}/{t.counts['n']}" for k, t in twins.items()
        )
        rows.append(("one-edit twins: stored verdict served", f"{_pct(served, total)}: {detail}", "<= 2 %"))
    if (t := report.get("same_topic")) is not None:
        c = t.counts  # type: ignore[union-attr]
        rows.append(
            (
                "same topic, not in memory: verdict contradicts label",
                f"{_pct(c['wrong verdict'], c['n'])}; right {c['right verdict']}, "
                f"NEI given a verdict {c['NEI given a verdict']}",
                "<= 1 %",
            )
        )
    if (t := report.get("unrelated")) is not None:
        c = t.counts  # type: ignore[union-attr]
        rows.append(("unrelated topic: cache hit or verdict", _pct(c["hit or verdict"], c["n"]), "0"))
    fired = right = wrong = nei = 0
    for key in ("contrast_pairs", "same_topic"):
        t = report.get(key)
        if t is not None:
            c = t.counts  # type: ignore[union-attr]
            fired += c["contradiction rule fired"]
            right += c["contradiction right"]
            wrong += c["contradiction wrong"]
            nei += c["contradiction on NEI"]
    if "contrast_pairs" in report or "same_topic" in report:
        rows.append(
            (
                "contradiction rule (contrast pairs + same topic)",
                f"fired {fired}: right {right}, wrong {wrong}, on NEI claims {nei}",
                "wrong ~0",
            )
        )
    return rows


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"| {'what':<{width[0]}} | {'measured':<{width[1]}} | {'target':<{width[2]}} |")
    print(f"|{'-' * (width[0] + 2)}|{'-' * (width[1] + 2)}|{'-' * (width[2] + 2)}|")
    for what, value, target in rows:
        print(f"| {what:<{width[0]}} | {value:<{width[1]}} | {target:<{width[2]}} |")


PARTS = ("matching", "typos", "negation", "contrast", "twins", "same_topic", "unrelated")


def run(
    eval_dir: Path,
    embedder: Embedder,
    workdir: Path,
    parts: Iterable[str],
    sizes: Sizes,
    overrides: dict[str, object] | None = None,
) -> dict:
    """Every requested check; the report holds ``Tally`` objects (see ``table``).

    ``overrides``: settings to measure instead of the defaults (how thresholds are chosen).
    """
    parts = set(parts)
    overrides = overrides or {}
    contradictions = report_contradictions = Tally(keep=1000)
    report: dict[str, object] = {}
    vocabulary = eval_noise.load_vocabulary(VOCABULARY)
    if parts & {"typos", "negation", "twins", "same_topic", "unrelated"}:
        stored, held_out = fever_split(eval_dir, sizes)
        memory = Memory(workdir, embedder, "fever", **overrides)
        memory.add(CuratedClaim(claim=s.text, verdict=s.label, source_reliability=0.9) for s in stored)
        memory.pipeline.claim_store.build_index()
        if "typos" in parts:
            report["resubmissions"] = resubmissions(memory, stored, sizes, vocabulary)
        if "negation" in parts:
            report["negation_typos"] = negation_typos(memory, stored, sizes, vocabulary)
        if "twins" in parts:
            report["contrast_twins"] = contrast_twins(memory, stored, sizes)
        if "same_topic" in parts:
            report["same_topic"] = same_topic(memory, stored, held_out, sizes, contradictions)
        if "unrelated" in parts:
            report["unrelated"] = unrelated(eval_dir, memory, sizes)
        memory.close()
    if "contrast" in parts:
        memory = Memory(workdir, embedder, "pairs", **overrides)
        report["contrast_pairs"] = contrast_pairs(eval_dir, memory, sizes, contradictions)
        memory.close()
    report["contradictions"] = report_contradictions
    if "matching" in parts:
        report["claim_matching"] = claim_matching(eval_dir, embedder, workdir, sizes, overrides)
    return report


def jsonable(value: object) -> object:
    if isinstance(value, Tally):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--eval-dir",
        type=Path,
        default=Path(os.environ.get("FACTMEM_EVAL_DIR", ROOT.parent / "shared" / "eval")),
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated of: {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="the small fixed subset CI runs")
    parser.add_argument("--json", type=Path, help="also write the full report (with failing cases) here")
    parser.add_argument("--show", type=int, default=0, help="print up to N failing cases per check")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting to measure instead of its default, e.g. --set cache_similarity_threshold=0.6",
    )
    args = parser.parse_args()
    if not (args.eval_dir / "vclaims.jsonl").is_file():
        print(f"no evaluation data in {args.eval_dir}; nothing to measure", file=sys.stderr)
        return 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="factmem-eval-") as tmp:
        workdir = Path(tmp)
        # the EMBEDDING_* settings of the environment: measure the variant the service would run
        embedder = Embedder.from_settings(Settings(_env_file=None), assemble_model_dir(workdir / "model"))  # type: ignore[call-arg]
        print(f"embedder {embedder.model_id}", file=sys.stderr)
        overrides = dict(item.split("=", 1) for item in args.set)
        sizes = QUICK if args.quick else FULL
        report = run(args.eval_dir, embedder, workdir, args.parts.split(","), sizes, overrides)
    as_json = jsonable(report)
    if args.json:
        args.json.write_text(json.dumps(as_json, indent=2), encoding="utf-8")
    if args.show:
        for key, value in as_json.items():  # type: ignore[union-attr]
            tallies = value.items() if key in ("resubmissions", "contrast_twins") else [(key, value)]
            for name, tally in tallies:
                if isinstance(tally, dict) and tally.get("examples"):
                    print(f"\n{name}:")
                    for line in tally["examples"][: args.show]:
                        print(f"  {line}")
        print()
    print_table(table(report))
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

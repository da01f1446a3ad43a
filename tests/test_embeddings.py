"""The embedding model: offline load, vector contract, truncation, golden similarities, int8 cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.errors import EmbeddingError
from factmem.runtime_int8 import CONVERTER_VERSION, VECTORS_VERSION
from factmem.runtime_int8.cached import runtime_int8_model
from factmem.runtime_int8.graph import convert_to_runtime_int8

SENTENCES = [
    "The Earth is flat.",
    "Vaccines given to children can cause autism.",
    "The Great Wall of China is visible from space with the naked eye.",
    "Drinking eight glasses of water a day is necessary for health.",
    "did u know bananas are berries?? 🤯",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def dequantized(model_dir: Path) -> Embedder:
    return Embedder(model_dir, runtime_int8=False)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


@pytest.fixture(scope="module")
def fp32_matmul(model_dir: Path) -> Embedder:
    return Embedder(model_dir, int8_matmul=False)


@pytest.fixture(scope="module")
def int8_matmul(embedder: Embedder) -> Embedder:
    return embedder


def test_default_embedder_keeps_every_weight_int8(embedder: Embedder) -> None:
    assert embedder.runtime_int8
    assert embedder.model_path.parent.parent.name == "runtime-int8"
    assert embedder.model_path.parent.name.endswith(f"-v{CONVERTER_VERSION}-uint8")
    assert embedder.model_id.startswith(f"{MINILM_INT8.name}:dynamic-int8-matmul-v{VECTORS_VERSION}:")


def test_int8_embedding_tables_give_the_same_vectors_and_model_id(
    fp32_matmul: Embedder, dequantized: Embedder, int8_matmul: Embedder
) -> None:
    """Gathering int8 rows is exact: stored vectors stay valid. Int8 MatMuls change them (another id)."""
    np.testing.assert_array_equal(fp32_matmul.embed(SENTENCES), dequantized.embed(SENTENCES))
    assert fp32_matmul.model_id == dequantized.model_id
    assert fp32_matmul.model_id.startswith(f"{MINILM_INT8.name}:fp32-matmul:")
    assert int8_matmul.model_id != fp32_matmul.model_id


@pytest.mark.e2e  # a fresh interpreter loads the model three ways: seconds
def test_loads_offline_without_touching_the_hub(tmp_path: Path) -> None:
    """A fresh process with the hub switched off and every socket refused still loads and embeds."""
    script = textwrap.dedent(
        """
        import socket, sys
        from pathlib import Path

        def refuse(*args, **kwargs):
            raise RuntimeError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from factmem.embeddings import Embedder, assemble_model_dir

        target = Path(sys.argv[1])
        for options in ({"runtime_int8": False}, {"int8_matmul": False}, {}):
            vector = Embedder(assemble_model_dir(target), **options).embed_one("offline")
            assert vector.shape == (384,)
        print("ok")
        """
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize("variant", ["default", "dequantized", "fp32-matmul"])
def test_vectors_are_unit_length_384_and_deterministic(
    variant: str, embedder: Embedder, dequantized: Embedder, fp32_matmul: Embedder
) -> None:
    model = {"default": embedder, "dequantized": dequantized, "fp32-matmul": fp32_matmul}[variant]
    first = model.embed(SENTENCES)
    assert first.shape == (len(SENTENCES), 384) and first.dtype == np.float32
    assert model.dim == 384
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.embed(SENTENCES), first)
    np.testing.assert_array_equal(model.embed_one(SENTENCES[0]), model.embed_one(SENTENCES[0]))
    assert model.embed([]).shape == (0, 384)


def test_texts_are_truncated_at_256_tokens(embedder: Embedder) -> None:
    base = " ".join(["The quick brown fox jumps over the lazy dog."] * 40)  # ~400 tokens
    extended = base + " Unrelated words about volcanoes, tax law and medieval poetry." * 30
    np.testing.assert_allclose(embedder.embed_one(base), embedder.embed_one(extended), atol=1e-6)


def test_golden_similarities(embedder: Embedder) -> None:
    flat, planet, unrelated = embedder.embed(
        ["The Earth is flat", "Our planet is flat", "Bananas are a good source of potassium"]
    )
    assert cos(flat, planet) > 0.75
    assert cos(flat, unrelated) < 0.3


def test_int8_matmul_stays_close_to_the_shipped_model(int8_matmul: Embedder, dequantized: Embedder) -> None:
    similarity = np.sum(int8_matmul.embed(SENTENCES) * dequantized.embed(SENTENCES), axis=1)
    assert similarity.min() >= 0.98, similarity


def test_dropping_the_softmax_nan_guards_changes_no_vector(
    model_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """The rewrite drops the exporter's Where(IsNaN(p), 0, p) guards to save memory and time; the vectors
    (and so the model_id a memory records) must stay exactly those of the guarded graph."""
    guarded_dir = assemble_model_dir(tmp_path / "guarded")
    (guarded_dir / "model.onnx").unlink()
    counts = convert_to_runtime_int8(
        (model_dir / "model.onnx").resolve(),
        guarded_dir / "model.onnx",
        matmul="uint8",
        drop_nan_guards=False,
    )
    assert counts["nan_guard"] == 0
    guarded = Embedder(guarded_dir, runtime_int8=False, batch_size=1)
    assert "IsNaN" not in embedder.model_path.read_bytes().decode("latin-1")
    for text in [*SENTENCES, "word " * 300]:
        np.testing.assert_array_equal(embedder.embed_one(text), guarded.embed_one(text))


def test_int8_matmul_vectors_do_not_depend_on_batch_neighbours(embedder: Embedder) -> None:
    together = embedder.embed(["a short claim", "word " * 300])
    np.testing.assert_array_equal(together[0], embedder.embed_one("a short claim"))
    assert embedder.batch_size == 1


def test_batches_stay_bounded_and_keep_order(fp32_matmul: Embedder) -> None:
    embedder = fp32_matmul
    texts = ["short claim"] * 20 + ["word " * 600] * 3 + ["a medium length claim " * 8]
    batches = embedder._batches(texts)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    assert all(len(batch) <= embedder.batch_size for batch in batches)
    assert all(len(batch) == 1 for batch in batches if any(i in range(20, 23) for i in batch))
    vectors = embedder.embed(texts)
    np.testing.assert_allclose(vectors[23], embedder.embed_one(texts[23]), atol=1e-5)
    np.testing.assert_allclose(vectors[0], embedder.embed_one(texts[0]), atol=1e-5)


def test_converted_model_is_cached_and_reused(model_dir: Path, fp32_matmul: Embedder) -> None:
    source = (model_dir / "model.onnx").resolve()
    converted = runtime_int8_model(source, model_dir / "runtime-int8")
    assert converted.name == "model.onnx" and f"-v{CONVERTER_VERSION}-" in converted.parent.name
    stamp = converted.stat().st_mtime_ns
    again = Embedder(model_dir, int8_matmul=False)
    assert again.model_path == converted
    assert converted.stat().st_mtime_ns == stamp  # not converted a second time
    # A damaged cached file no longer matches its sidecar hash and is converted again.
    converted.write_bytes(converted.read_bytes()[:1000])
    repaired = runtime_int8_model(source, model_dir / "runtime-int8")
    assert repaired.stat().st_size > 20_000_000


def test_converted_model_is_readable_by_other_users(model_dir: Path, tmp_path: Path) -> None:
    """A container converts at build time as root and serves as another user."""
    converted = runtime_int8_model((model_dir / "model.onnx").resolve(), tmp_path / "cache")
    assert converted.stat().st_mode & 0o044 == 0o044


def test_conversion_is_deterministic(model_dir: Path, tmp_path: Path) -> None:
    source = (model_dir / "model.onnx").resolve()
    first = runtime_int8_model(source, tmp_path / "a")
    second = runtime_int8_model(source, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_missing_model_file_raises_embedding_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="model file missing"):
        Embedder(tmp_path)


@pytest.mark.parametrize("runtime_int8", [True, False])
def test_corrupt_model_file_raises_embedding_error(tmp_path: Path, runtime_int8: bool) -> None:
    model_dir = assemble_model_dir(tmp_path / "model")
    (model_dir / "model.onnx").unlink()
    (model_dir / "model.onnx").write_bytes(b"this is not an onnx model")
    with pytest.raises(EmbeddingError, match=r"could not (load|convert)"):
        Embedder(model_dir, runtime_int8=runtime_int8)


class _EncoderMeetingItsTwin:
    """Wraps the real encoder; its first two calls wait for each other, so they must run at once."""

    def __init__(self, encoder: Any, fail_on: str | None = None) -> None:
        self._encoder = encoder
        self._meeting = threading.Barrier(2, timeout=10)
        self._calls = 0
        self._lock = threading.Lock()
        self._fail_on = fail_on

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self._calls += 1
            first_two = self._calls <= 2
        if first_two:
            self._meeting.wait()  # BrokenBarrierError after 10 s if the calls run one after the other
        if self._fail_on in texts:
            raise RuntimeError("the model ran out of memory")
        return self._encoder.embed(texts)


def test_many_texts_run_on_every_call_slot_with_the_same_vectors(model_dir: Path) -> None:
    parallel = Embedder(model_dir, max_concurrent_calls=2)
    texts = [*SENTENCES, "word " * 300, *(f"claim number {i} about the harbour" for i in range(20))]
    alone = np.stack([parallel.embed_one(text) for text in texts])
    parallel._encoder = _EncoderMeetingItsTwin(parallel._encoder)
    np.testing.assert_array_equal(parallel.embed(texts), alone)


def test_a_failing_call_among_many_raises_embedding_error(model_dir: Path) -> None:
    parallel = Embedder(model_dir, max_concurrent_calls=2)
    parallel._encoder = _EncoderMeetingItsTwin(parallel._encoder, fail_on="the seventh claim")
    texts = [f"the {n} claim" for n in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")]
    with pytest.raises(EmbeddingError, match="ran out of memory"):
        parallel.embed(texts)

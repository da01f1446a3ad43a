"""The server's sentence encoder gives FastEmbed's vectors, bit for bit, without importing FastEmbed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType

from factmem.embeddings import MINILM_INT8, Embedder, assemble_model_dir
from factmem.sentence_encoder import SentenceEncoder, load_tokenizer

TEXTS = [
    "The Earth is flat.",
    "Barack Obama was born in Kenya",
    "did u know bananas are berries?? 🤯 #science",
    "Die Erde ist eine Scheibe, sagt man in Köln.",
    "",
    "   ",
    "5G towers spread COVID-19!!!1",
    " ".join(["The vaccine trial enrolled thousands of volunteers across many countries."] * 40),
]


def fastembed_model(model_dir: Path) -> TextEmbedding:
    """FastEmbed itself on the same files, registered the way the service used to load them."""
    if MINILM_INT8.name not in {model["model"] for model in TextEmbedding.list_supported_models()}:
        TextEmbedding.add_custom_model(
            model=MINILM_INT8.name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf=MINILM_INT8.name),
            dim=MINILM_INT8.dim,
            model_file="model.onnx",
        )
    return TextEmbedding(
        model_name=MINILM_INT8.name, specific_model_path=str(model_dir), threads=1, enable_cpu_mem_arena=False
    )


@pytest.fixture(scope="module")
def shipped_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_model_dir(tmp_path_factory.mktemp("shipped"))


def test_one_text_at_a_time_matches_fastembed_on_the_running_model(embedder: Embedder) -> None:
    """The int8 model the service runs embeds one text per call: each vector is FastEmbed's, exactly."""
    model_dir = embedder.model_path.parent
    ours = SentenceEncoder(model_dir, threads=1, cpu_arena=False)
    reference = fastembed_model(model_dir)
    for text in TEXTS:
        expected = np.asarray(list(reference.embed([text], batch_size=1)), dtype=np.float32)
        np.testing.assert_array_equal(ours.embed([text]), expected, err_msg=repr(text[:40]))
    one_by_one = np.concatenate([ours.embed([text]) for text in TEXTS])
    np.testing.assert_array_equal(embedder.embed(TEXTS), one_by_one)


def test_padded_batches_match_fastembed_on_the_shipped_model(shipped_model_dir: Path) -> None:
    """Texts of different lengths in one call (padding, truncation at 256 tokens) give FastEmbed's bits."""
    ours = SentenceEncoder(shipped_model_dir, threads=1, cpu_arena=False).embed(TEXTS)
    expected = np.asarray(list(fastembed_model(shipped_model_dir).embed(TEXTS, batch_size=len(TEXTS))))
    assert ours.dtype == np.float32
    assert ours.shape == (len(TEXTS), MINILM_INT8.dim)
    np.testing.assert_array_equal(ours, expected)


def test_tokenizer_truncates_at_the_configured_limit_and_pads_to_the_longest(shipped_model_dir: Path) -> None:
    tokenizer = load_tokenizer(shipped_model_dir)
    long, short = tokenizer.encode_batch([TEXTS[-1], "short"])
    assert len(long.ids) == len(short.ids) == MINILM_INT8.max_tokens
    assert sum(short.attention_mask) == 3  # [CLS] short [SEP]
    assert long.ids[-1] == tokenizer.token_to_id("[SEP]")


def test_a_directory_without_tokenizer_config_is_refused(shipped_model_dir: Path, tmp_path: Path) -> None:
    for item in shipped_model_dir.iterdir():
        if item.name != "tokenizer_config.json" and item.is_file():
            (tmp_path / item.name).symlink_to(item.resolve())
    with pytest.raises(ValueError, match=r"tokenizer_config\.json"):
        SentenceEncoder(tmp_path, threads=1, cpu_arena=False)


@pytest.mark.e2e  # a fresh interpreter imports the server and loads the model: seconds
def test_the_server_never_imports_fastembed_or_the_hub_client(tmp_path: Path) -> None:
    """What importing FastEmbed drags in costs memory for good; a served process must not hold it."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[2])
        import api_server  # noqa: F401
        from factmem.embeddings import Embedder, assemble_model_dir

        Embedder(assemble_model_dir(Path(sys.argv[1]))).embed_one("loaded")
        heavy = ("fastembed", "huggingface_hub", "requests", "PIL", "loguru", "yaml")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    backend = Path(__file__).resolve().parents[1] / "backend"
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model"), str(backend)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"

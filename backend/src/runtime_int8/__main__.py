"""``python -m factmem.runtime_int8 SOURCE.onnx TARGET.onnx [--matmul fp32|uint8|int8]``: one conversion.

What :func:`factmem.runtime_int8.cached.runtime_int8_model` runs in its child process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from factmem.errors import EmbeddingError
from factmem.runtime_int8.graph import DEFAULT_MATMUL, convert_to_runtime_int8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m factmem.runtime_int8",
        description="Rewrite the shipped int8 MiniLM so its weights stay int8 while it runs.",
    )
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--matmul", choices=["fp32", "uint8", "int8"], default=DEFAULT_MATMUL)
    args = parser.parse_args(argv)
    try:
        counts = convert_to_runtime_int8(args.source, args.target, matmul=args.matmul)
    except EmbeddingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"rewrote {counts['matmul']} MatMul and {counts['gather']} Gather nodes -> {args.target}")
    return 0


sys.exit(main())

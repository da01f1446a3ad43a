"""The rewritten model for a source file: converted once, in a child process, then reused from a cache.

The result is ``cache_dir/<sha256 of source>-v<CONVERTER_VERSION>-<matmul>/model.onnx`` with a
``model.onnx.sha256`` sidecar; a file whose hash does not match its sidecar (an interrupted write, a damaged
disk) is converted again. The conversion runs in a child process of the same interpreter, so ``import onnx``
and the protobuf copies of the model never enter the server's heap, and is written to a temporary name
first, then renamed, so concurrent starts never see half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from factmem.child_exit import describe_failure, oom_kills_now
from factmem.errors import EmbeddingError
from factmem.runtime_int8 import CONVERTER_VERSION
from factmem.runtime_int8.graph import DEFAULT_MATMUL, MatMulMode

logger = logging.getLogger(__name__)

_CONVERT_TIMEOUT_S = 300


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def runtime_int8_model(source: Path, cache_dir: Path, *, matmul: MatMulMode = DEFAULT_MATMUL) -> Path:
    """The converted model for ``source``, converting it once into ``cache_dir`` (reused afterwards).

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
        _convert_in_child(source, tmp, matmul)
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


def _convert_in_child(source: Path, target: Path, matmul: MatMulMode) -> None:
    command = [sys.executable, "-m", "factmem.runtime_int8", str(source), str(target), "--matmul", matmul]
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

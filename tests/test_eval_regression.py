"""A fixed subset of ``scripts/eval_memory.py --quick`` as a regression test of the claim memory's quality.

Thresholds sit a little below what the subset measured when they were set (see the README's *Claim memory
quality*); a change that makes the memory recognise fewer typed claims, hand a verdict to a different claim,
or rank fact-checks worse fails here. Skips when the shared evaluation data is absent.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from factmem.embeddings import Embedder
from tests.conftest import EVAL_DIR, REPO_ROOT

pytestmark = pytest.mark.skipif(
    not (EVAL_DIR / "vclaims.jsonl").is_file(), reason=f"no shared evaluation data at {EVAL_DIR}"
)


def _harness() -> ModuleType:
    """``scripts/eval_memory.py``, imported as a module (it imports ``eval_noise`` beside it)."""
    spec = importlib.util.spec_from_file_location(
        "eval_memory_under_test", REPO_ROOT / "scripts" / "eval_memory.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_claim_memory_quality_on_the_quick_subset(embedder: Embedder, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        harness = _harness()
        report = harness.run(EVAL_DIR, embedder, tmp_path, harness.PARTS, harness.QUICK)
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    resubmitted = report["resubmissions"]
    for name in ("one typo", "typos + chat noise"):
        assert resubmitted[name].rate("hit, right verdict") >= 0.95, resubmitted[name].as_dict()
        assert resubmitted[name].counts["wrong verdict"] == 0
    assert report["negation_typos"].counts["wrong verdict"] == 0
    assert report["contrast_pairs"].rate("stored verdict served") <= 0.02
    twins = report["contrast_twins"]
    served = sum(t.counts["stored verdict served"] for t in twins.values())
    assert served <= 0.03 * sum(t.counts["n"] for t in twins.values())
    assert report["same_topic"].rate("wrong verdict") <= 0.02
    assert report["unrelated"].counts["hit or verdict"] == 0
    assert report["contradictions"].counts["wrong"] == 0
    assert report["claim_matching"]["dev"]["MAP@5"] >= 0.94

"""No write unless the whole answer can be made: text that cannot be rendered (a lone surrogate from a
provider's JSON) fails the verification before anything is stored or counted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from factmem.errors import ReasonerError
from factmem.ingest import CuratedClaim, ingest_claims
from factmem.pipeline import VerificationPipeline

pytestmark = [pytest.mark.reliability]


def test_an_unrenderable_answer_leaves_no_write(
    pipeline: VerificationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_claims(pipeline, [CuratedClaim(claim="The Eiffel Tower is in Paris.", verdict="True")])
    (stored,) = list(pipeline.claim_store.iter_points())
    reason = pipeline.reasoner.reason

    def broken(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        return replace(reason(*args, **kwargs), explanation="from a provider: \ud800")

    monkeypatch.setattr(pipeline.reasoner, "reason", broken)
    for text in ("The Eiffel Tower is located in Rome.", "Mount Quillon is the tallest peak in Ardmore."):
        with pytest.raises(ReasonerError, match="lone surrogate"):
            pipeline.verify(text)
    assert [p.payload for p in pipeline.claim_store.iter_points()] == [stored.payload]

"""The server's driver of the pipeline: CPU stages in worker threads holding a CPU slot, remote calls awaited.

``VerificationPipeline.verify`` runs the stages one after the other in the calling thread (the CLI, the
evaluation scripts and the tests use it). The server drives the same stage methods from the event loop so
that a verification holds one of the ``MAX_CONCURRENT_REQUESTS`` CPU slots only while it computes: the
first CPU stage runs only once admission let the request in (503 + Retry-After otherwise, before any work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from factmem.pipeline import Verification, VerificationPipeline

if TYPE_CHECKING:
    from factmem.admission import Admission

T = TypeVar("T")


class Verifier:
    """Verifies claims for the API; one per process, shared by all requests."""

    def __init__(self, pipeline: VerificationPipeline, admission: Admission) -> None:
        self.pipeline = pipeline
        self.admission = admission

    async def verify(self, raw_text: str, *, render: Callable[[Verification], T]) -> T:
        """Verify ``raw_text``; ``render`` turns the outcome into the response in the last CPU stage.

        Args:
            raw_text: The text as the user sent it.
            render: Builds what the caller returns (the JSON body) while the slot is still held, so the
                event loop never serializes a response.
        """

        def local() -> T:
            return render(self.pipeline.verify(raw_text))

        return await self.admission.run_new_verification(local)

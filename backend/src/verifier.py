"""The server's driver of the pipeline: CPU stages in worker threads holding a CPU slot, remote calls awaited.

``VerificationPipeline.verify`` runs the stages one after the other in the calling thread (the CLI, the
evaluation scripts and the tests use it). The server drives the same stage methods from the event loop so
that a verification holds one of the ``MAX_CONCURRENT_REQUESTS`` CPU slots only while it computes: the
first CPU stage takes a slot without waiting (503 + Retry-After when none is free, as before any work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from factmem.cpu_slots import CpuSlots
from factmem.pipeline import Verification, VerificationPipeline

T = TypeVar("T")


class Verifier:
    """Verifies claims for the API; one per process, shared by all requests."""

    def __init__(
        self, pipeline: VerificationPipeline, slots: CpuSlots, *, on_full: Callable[[], Exception]
    ) -> None:
        self.pipeline = pipeline
        self.slots = slots
        self._on_full = on_full

    async def verify(
        self, raw_text: str, *, admit: Callable[[], None], render: Callable[[Verification], T]
    ) -> T:
        """Verify ``raw_text``; ``render`` turns the outcome into the response in the last CPU stage.

        Args:
            raw_text: The text as the user sent it.
            admit: Run first, in the worker thread, before any work (the memory guard); may raise.
            render: Builds what the caller returns (the JSON body) while the slot is still held, so the
                event loop never serializes a response.
        """

        def local() -> T:
            admit()
            return render(self.pipeline.verify(raw_text))

        return await self.slots.run(local, wait=False, on_full=self._on_full)

"""The five agents of a verification: normalizer → retriever → evidence → reasoner → memory update."""

from factmem.agents.base import EvidenceProvider, Reasoner

__all__ = ["EvidenceProvider", "Reasoner"]

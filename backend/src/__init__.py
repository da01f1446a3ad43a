"""factmem: a fact-verification API with a persistent, memory-bounded memory of verified claims."""

__version__ = "0.1.0"

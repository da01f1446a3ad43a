"""The project's own exceptions, so callers never depend on a third-party error type.

    FactmemError
    ├── InputError          the caller sent something unusable (maps to 4xx)
    ├── NotFoundError       an id that is not in the memory (404)
    ├── StoreError          the vector store failed (Qdrant Edge or qdrant-client)
    │   ├── StoreUnavailableError   the store refuses writes for now (disk full, failing flushes): 507/503
    │   └── StoreCorruptError       a store's files are damaged (torn, truncated, unreadable): not served
    ├── EmbeddingError      the embedding model failed to load or run
    ├── ReasonerError       a reasoner failed to produce a verdict
    ├── ProviderError       a remote provider (LLM, web search) failed or answered unusably
    │   └── InvalidAnswer   an LLM answered, but not with what was asked
    └── OverloadedError     the server sheds this request (503 + Retry-After)

Engine and model errors are converted at one boundary each (the store backends and the embedder), raised
``from`` the original so the log keeps the cause while the API never shows it.
"""

from __future__ import annotations


class FactmemError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(FactmemError):
    """The request cannot be processed as sent; the message says what to fix."""


class NotFoundError(FactmemError):
    """The requested record does not exist."""


class StoreError(FactmemError):
    """The claim or evidence store failed."""


class StoreUnavailableError(StoreError):
    """The store refuses writes for now and has changed nothing; they resume by themselves when it recovers.

    ``disk_full``: the disk is below its reserve (507 Insufficient Storage); otherwise the disk failed
    (503). Either way the client may retry later.
    """

    def __init__(self, message: str, *, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full


class StoreCorruptError(StoreError):
    """A store's files are damaged; the message says what and how to recover (export, move aside, import)."""


class EmbeddingError(FactmemError):
    """The embedding model could not be loaded or run."""


class ReasonerError(FactmemError):
    """A reasoner could not produce a verdict."""


class ProviderError(FactmemError):
    """A remote provider could not be used for this request; the message is fit to show to a user.

    Never carries a secret or a provider's raw answer: it ends up in the response (why the local reasoner
    answered instead) and in the log. ``attempts`` counts the HTTP requests sent before giving up.
    """

    def __init__(self, message: str, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class InvalidAnswer(ProviderError):
    """An LLM answered, but not with what was asked; ``content`` is what it said (for a repair request)."""

    def __init__(self, problems: str, content: str = "") -> None:
        super().__init__(problems)
        self.content = content


class OverloadedError(FactmemError):
    """The server refuses work to protect itself; the client should retry later."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

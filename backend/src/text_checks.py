"""Checks every piece of user text passes before anything is computed or stored from it.

JSON allows escapes of lone UTF-16 surrogates (``"\\ud800"``) that are not Unicode characters: Python
decodes them into a ``str`` that cannot be encoded back to UTF-8, so the tokenizer, the store and the JSON
response each fail on them, possibly after a write. Pydantic's lax ``str`` refuses them; a ``StrictStr``
(``/verify``'s ``raw_text``) does not, so the normalizer refuses them before anything is computed.
"""

from __future__ import annotations

from typing import Any

from factmem.errors import InputError


def unicode_problem(text: str) -> str | None:
    """What is wrong with ``text`` as Unicode (a lone surrogate, and where), or ``None`` when it is valid."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return f"is not valid Unicode: a lone surrogate (U+{code:04X}) at character {exc.start}"
    return None


def require_valid_unicode(text: str, what: str) -> str:
    """``text`` unchanged, or ``InputError`` saying what is wrong (a 400 at the API)."""
    problem = unicode_problem(text)
    if problem is not None:
        raise InputError(f"{what} {problem}; send the text as UTF-8")
    return text


#: "at least one letter" as a JSON-schema ``pattern``, for the OpenAPI document (Python and Rust regexes read
#: ``[^\W\d_]`` as any Unicode letter); the checks themselves are :func:`has_letter` and the normalizer.
LETTER_PATTERN = r"\p{L}"


def has_letter(text: str) -> bool:
    """Whether the text has at least one letter (digits, punctuation and emoji alone say nothing)."""
    return any(ch.isalpha() for ch in text)


def reject_bool(value: Any) -> Any:
    """A pydantic ``mode="before"`` check: JSON ``true``/``false`` are not numbers (pydantic takes them as
    1 and 0 by default)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def first_unicode_problem(value: Any, path: str = "answer") -> str | None:
    """Where, in a tree of dataclasses, lists, dicts and strings, a string is not valid Unicode (a lone
    surrogate from a third-party JSON, say), or ``None``: checked before a write, so an answer that cannot
    be rendered never leaves a write behind."""
    if isinstance(value, str):
        problem = unicode_problem(value)
        return f"{path} {problem}" if problem else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    elif hasattr(value, "__dataclass_fields__"):
        items = ((name, getattr(value, name)) for name in value.__dataclass_fields__)
    else:
        return None
    for key, item in items:
        found = first_unicode_problem(item, f"{path}.{key}")
        if found:
            return found
    return None

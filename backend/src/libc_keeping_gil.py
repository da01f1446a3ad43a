"""libc functions called without letting go of the GIL, for syscalls that take microseconds.

A syscall made through ``os`` releases the GIL around it; under load, getting the GIL back means waiting
behind every busy worker thread (up to a switch interval each), which costs far more than the syscall.
A call through ``ctypes.PyDLL`` keeps the GIL, so the other threads wait only the microseconds it takes.
Callers fall back to ``os`` where libc cannot be called this way. Only the stdlib is used.
"""

from __future__ import annotations

import ctypes
from typing import Any


def libc_function(name: str, argtypes: list[Any], restype: Any) -> Any | None:
    """libc's ``name`` through ``ctypes.PyDLL`` with the given signature; None if it cannot be called so.

    Callers cache what it returns (``functools.cache``): one handle and one signature per function.
    """
    try:
        function = getattr(ctypes.PyDLL(None, use_errno=True), name)
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = argtypes
    function.restype = restype
    return function

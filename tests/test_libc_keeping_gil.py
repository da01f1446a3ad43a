"""``factmem.libc_keeping_gil``: libc calls that keep the GIL, or None where libc cannot be called so."""

from __future__ import annotations

import ctypes
import os
import sys

import pytest

from factmem.libc_keeping_gil import libc_function


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libc through ctypes: Linux")
def test_a_libc_function_is_called_with_the_signature_given() -> None:
    getpid = libc_function("getpid", [], ctypes.c_int)
    assert getpid is not None and getpid() == os.getpid()


def test_a_function_libc_does_not_have_is_none() -> None:
    assert libc_function("factmem_no_such_function", [], ctypes.c_int) is None

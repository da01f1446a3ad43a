"""Only loopback targets unless the user owns the remote one (``factmem_bench.loopback``)."""

from __future__ import annotations

import pytest

from factmem_bench.loopback import UsageError, check_target


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://localhost:8000/",
        "http://LOCALHOST",
        "http://[::1]:8000",
    ],
)
def test_loopback_targets_are_accepted(url: str) -> None:
    assert check_target(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "http://10.0.0.1:8000",
        "http://192.168.1.2",
        "http://localhost.example.com",
        "ftp://x",
    ],
)
def test_other_targets_are_refused(url: str) -> None:
    with pytest.raises(UsageError):
        check_target(url)


def test_allow_remote_lets_a_remote_target_through() -> None:
    assert check_target("http://10.0.0.1:8000", allow_remote=True) == "http://10.0.0.1:8000"

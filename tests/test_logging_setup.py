"""Log formats: readable lines by default, one JSON object per line with the request id, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from factmem.logging_setup import configure_logging, register_secret, request_id_var


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    configure_logging("info", "text")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_factmem", False))
    stream = io.StringIO()
    original = handler.stream  # type: ignore[attr-defined]
    handler.stream = stream  # type: ignore[attr-defined]
    yield stream
    handler.stream = original  # type: ignore[attr-defined]
    configure_logging("info", "text")


def test_text_lines_carry_the_request_id(captured: io.StringIO) -> None:
    token = request_id_var.set("req-123")
    try:
        logging.getLogger("factmem.test").info("stored claim id=%s", "abc")
    finally:
        request_id_var.reset(token)
    assert "INFO factmem.test request_id=req-123 stored claim id=abc" in captured.getvalue()


def test_json_lines_are_one_object_each_with_the_request_id(captured: io.StringIO) -> None:
    configure_logging("info", "json")
    token = request_id_var.set("req-456")
    try:
        logging.getLogger("factmem.test").warning("slow search ms=%d", 12)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("factmem.test").exception("failed")
    finally:
        request_id_var.reset(token)
    lines = captured.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    assert records[0]["message"] == "slow search ms=12" and records[0]["level"] == "WARNING"
    assert records[0]["request_id"] == "req-456" and records[0]["logger"] == "factmem.test"
    assert "RuntimeError: boom" in records[1]["exc_info"]


def test_json_mode_routes_uvicorns_loggers_through_the_same_handler(captured: io.StringIO) -> None:
    configure_logging("info", "json")
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    assert json.loads(captured.getvalue())["logger"] == "uvicorn.error"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_registered_secrets_never_reach_a_line(captured: io.StringIO, log_format: str) -> None:
    configure_logging("info", log_format)
    secret = "sk-live-0123456789abcdef"
    register_secret(secret)
    logging.getLogger("factmem.test").info("calling with key %s", secret)
    logging.getLogger("factmem.test").info(f"header Authorization: Bearer {secret}")
    output = captured.getvalue()
    assert secret not in output
    assert output.count("***") == 2

"""The one settings object: read from the environment and ``.env``, bounded, secrets that are real secrets.

The README's table of every setting and its default is checked by ``tests/test_readme.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from factmem.settings import Settings, get_settings


def test_each_setting_is_the_environment_variable_of_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("MEMORY_LIMIT_MB", "256")
    monkeypatch.setenv("SEED_ON_EMPTY", "false")
    monkeypatch.setenv("DATA_DIR", "/srv/factmem")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.port, settings.memory_limit_mb, settings.seed_on_empty) == (9001, 256.0, False)
    assert settings.data_dir == Path("/srv/factmem")


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render and compose files leave variables empty rather than unset."""
    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("ADMIN_API_KEY", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 8000
    assert settings.admin_api_key is None


def test_a_dot_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TOP_K=20\nLOG_LEVEL=debug\n", encoding="utf-8")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert (settings.top_k, settings.log_level) == (20, "warning")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("TOP_K", "51"),
        ("CACHE_SIMILARITY_THRESHOLD", "1.5"),
        ("MEMORY_SOFT_FRACTION", "0"),
        ("LOG_LEVEL", "verbose"),
        ("MAX_CONCURRENT_REQUESTS", "many"),
    ],
)
def test_a_value_out_of_bounds_fails_at_startup(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("secret", ["changeme", "  Password ", "admin", "   "])
@pytest.mark.parametrize("name", ["ADMIN_API_KEY", "QDRANT_API_KEY"])
def test_placeholder_or_blank_secrets_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, secret: str
) -> None:
    monkeypatch.setenv(name, secret)
    with pytest.raises(ValidationError, match="set a real random secret"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_secret_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_API_KEY", "d0c5b1e2a7f94c3e8b6a")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.admin_api_key is not None
    assert settings.admin_api_key.get_secret_value() == "d0c5b1e2a7f94c3e8b6a"
    assert "d0c5b1e2a7f94c3e8b6a" not in repr(settings) + str(settings)


def test_a_qdrant_url_selects_the_server_backend() -> None:
    assert not Settings(_env_file=None).uses_remote_qdrant  # type: ignore[call-arg]
    remote = Settings(_env_file=None, qdrant_url="http://127.0.0.1:6333")  # type: ignore[call-arg]
    assert remote.uses_remote_qdrant


def test_the_process_reads_its_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("PORT", "9002")
    try:
        first = get_settings()
        monkeypatch.setenv("PORT", "9003")
        assert get_settings() is first and first.port == 9002
    finally:
        get_settings.cache_clear()


def test_bulk_commands_use_every_usable_cpu_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("factmem.settings.usable_cpus", lambda: 3)
    assert Settings(_env_file=None).bulk_embedding_calls == 3  # type: ignore[call-arg]
    told = Settings(_env_file=None, ingest_concurrency=1)  # type: ignore[call-arg]
    assert told.bulk_embedding_calls == 1
    assert told.embedding_concurrency == 1, "the server's own setting is a different one"


def test_bulk_settings_take_the_ingest_concurrency_and_mmap_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("factmem.settings.usable_cpus", lambda: 2)
    server = Settings(_env_file=None, malloc_mmap_threshold_kb=128)  # type: ignore[call-arg]
    bulk = server.for_bulk_embedding()
    assert (bulk.embedding_concurrency, bulk.malloc_mmap_threshold_kb) == (2, 0), "glibc's adaptive default"
    assert (server.embedding_concurrency, server.malloc_mmap_threshold_kb) == (1, 128), "left unchanged"
    told = Settings(_env_file=None, ingest_malloc_mmap_threshold_kb=1024, ingest_concurrency=1)  # type: ignore[call-arg]
    told_bulk = told.for_bulk_embedding()
    assert (told_bulk.embedding_concurrency, told_bulk.malloc_mmap_threshold_kb) == (1, 1024)

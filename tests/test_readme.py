"""The README documents every setting and names the commands CI runs, so the docs cannot drift silently."""

from __future__ import annotations

from pathlib import Path

from factmem.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README]
    assert not missing, f"settings missing from the README table: {missing}"


def test_readme_table_lists_no_unknown_setting() -> None:
    known = {name.upper() for name in Settings.model_fields}
    rows = [line.split("`")[1] for line in README.splitlines() if line.startswith("| `")]
    unknown = [row for row in rows if row.isupper() and row not in known]
    assert not unknown, f"README documents settings that do not exist: {unknown}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "./scripts/test.sh" in README
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

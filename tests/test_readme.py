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


def _readme_defaults() -> dict[str, str]:
    """``NAME -> default`` as the README's settings table writes it (the second column)."""
    defaults = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].strip("`").isupper():
            defaults[cells[0].strip("`")] = cells[1]
    return defaults


def test_readme_defaults_are_the_settings_defaults() -> None:
    """A default changed in code (say, EMBEDDING_CONCURRENCY) must be changed in the docs too."""
    wrong = []
    for name, written in _readme_defaults().items():
        field = Settings.model_fields.get(name.lower())
        if field is None:
            continue
        default = field.default
        if default is None or not written.startswith("`"):
            if default is not None:
                wrong.append(f"{name}: README says {written}, code says {default!r}")
            continue
        value = written.strip("`")
        if isinstance(default, bool):
            same = value == str(default).lower()
        elif isinstance(default, (int, float)):
            same = float(value) == float(default)
        else:
            same = value == str(default)
        if not same:
            wrong.append(f"{name}: README says {value}, code says {default!r}")
    assert not wrong, wrong

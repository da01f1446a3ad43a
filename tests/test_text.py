"""factmem.text: the helpers the normalizer and the polarity component share."""

from __future__ import annotations

import pytest

from factmem.text import KnownWords, edit_distance, fold, is_shouted, known_words


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("never", "never", 0),
        ("nevver", "never", 1),  # a doubled letter
        ("goverment", "government", 1),  # a dropped letter
        ("vaccnies", "vaccines", 1),  # neighbours swapped: one edit, not two
        ("nto", "not", 1),
        ("abc", "bca", 2),
        ("kitten", "sitting", 3),  # capped at limit + 1
    ],
)
def test_edit_distance_counts_typing_errors(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, limit=2) == distance


def test_known_words_are_the_model_vocabulary_words() -> None:
    words = known_words()
    assert len(words) > 20_000
    assert "government" in words and "country" in words and "obama" in words
    assert "goverment" not in words and "nevver" not in words
    assert "" not in words and 3 not in words  # type: ignore[operator]
    assert known_words() is words  # loaded once


def test_known_words_from_any_list() -> None:
    words = KnownWords(["alpha", "beta", "alpha"])
    assert len(words) == 2 and "beta" in words and "gamma" not in words


def test_fold_and_shouting() -> None:
    assert fold("Penélope CRUZ") == "penelope cruz"
    assert is_shouted(["THE", "TOWER", "IS", "TALL"])
    assert not is_shouted(["The", "WHO", "said", "so"])

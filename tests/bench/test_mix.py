"""The seeded request mix (``factmem_bench.mix``): exact proportions, reproducible bodies, valid kinds."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from factmem_bench.contract import input_problem
from factmem_bench.mix import BAD_CASES, BUILTIN_CLAIMS, DEFAULT_MIX, Plan, apportion, parse_mix

BASE = list(BUILTIN_CLAIMS)


def test_mix_proportions_are_exact_for_a_fixed_seed() -> None:
    plan = Plan(1000, DEFAULT_MIX, 42, BASE)
    counts = Counter(request.kind for request in plan)
    assert counts == {"repeat": 400, "paraphrase": 250, "new": 250, "long": 50, "bad": 50}


def test_same_seed_same_requests_other_seed_other_order() -> None:
    first = [r.body for r in Plan(200, DEFAULT_MIX, 7, BASE)]
    assert first == [r.body for r in Plan(200, DEFAULT_MIX, 7, BASE)]
    assert first != [r.body for r in Plan(200, DEFAULT_MIX, 8, BASE)]


def test_apportion_sums_to_n_for_awkward_weights() -> None:
    mix = parse_mix("repeat=1,paraphrase=1,new=1")
    counts = apportion(100, mix)
    assert sum(counts.values()) == 100
    assert counts["long"] == counts["bad"] == 0
    assert sorted(counts[k] for k in ("repeat", "paraphrase", "new")) == [33, 33, 34]


def test_parse_mix_normalises_and_rejects_nonsense() -> None:
    assert parse_mix("repeat=3,new=1") == {
        "repeat": 0.75,
        "paraphrase": 0.0,
        "new": 0.25,
        "long": 0.0,
        "bad": 0.0,
    }
    for text in ("repeat", "typo=1", "repeat=x", "repeat=-1", "repeat=0", ""):
        with pytest.raises(ValueError):
            parse_mix(text)


def test_every_bad_input_is_recognised_and_every_other_kind_is_valid() -> None:
    for name, body in BAD_CASES.items():
        assert input_problem(body) is not None, name
    plan = list(Plan(2000, DEFAULT_MIX, 3, BASE))
    assert {r.variant for r in plan if r.kind == "bad"} == set(BAD_CASES)
    assert all(input_problem(r.body) is not None for r in plan if r.kind == "bad")
    assert [r for r in plan if r.kind != "bad" and input_problem(r.body) is not None] == []


def test_long_claims_are_just_under_the_limit_and_new_claims_are_new() -> None:
    plan = list(Plan(2000, DEFAULT_MIX, 4, BASE))
    lengths = [len(json.loads(r.body)["raw_text"]) for r in plan if r.kind == "long"]
    assert lengths and all(1_850 <= n < 2_000 for n in lengths)
    new = [json.loads(r.body)["raw_text"] for r in plan if r.kind == "new"]
    assert len(set(new)) == len(new)
    assert not set(new) & set(BASE)


def test_paraphrases_add_noise_to_a_base_claim() -> None:
    plan = [r for r in Plan(400, DEFAULT_MIX, 5, BASE) if r.kind == "paraphrase"]
    texts = [json.loads(r.body)["raw_text"] for r in plan]
    assert not set(texts) & set(BASE)

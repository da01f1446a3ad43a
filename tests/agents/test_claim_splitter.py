"""Splitting a text into claims: by rules (sentences, clauses with their own subject), and checking what an
LLM says the claims are against the text."""

from __future__ import annotations

import json

import pytest

from factmem.agents.claim_splitter import ClaimPart, split_claims, worth_extracting
from factmem.agents.llm_normalizer import parse_extraction
from factmem.errors import InvalidAnswer


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        (
            "Obama was born in Kenya and the moon landing was faked",
            ["Obama was born in Kenya", "The moon landing was faked"],
        ),
        (
            "Bill Gates created COVID and vaccines cause autism.",
            ["Bill Gates created COVID", "Vaccines cause autism."],
        ),
        (
            "The Eiffel Tower is in Berlin, while the Colosseum is in Rome.",
            ["The Eiffel Tower is in Berlin", "The Colosseum is in Rome."],
        ),
        (
            "5G towers spread COVID-19; masks contain graphene",
            ["5G towers spread COVID-19", "masks contain graphene"],
        ),
        (
            "Dr. Smith said the U.S. Army was founded in 1775. The Moon is made of cheese!",
            ["Dr. Smith said the U.S. Army was founded in 1775.", "The Moon is made of cheese!"],
        ),
        ("first line is here\nsecond line is there", ["first line is here", "second line is there"]),
    ],
)
def test_texts_with_several_claims_are_split(text: str, claims: list[str]) -> None:
    assert split_claims(text) == claims


@pytest.mark.parametrize(
    "text",
    [
        "Salt and pepper are spices.",  # joined subjects
        "Tom and Jerry are friends.",
        "The Earth is round and orbits the Sun.",  # the second half has no subject of its own
        "Vaccines are safe and effective.",
        "Advertising is used to promote a product and it is important.",  # a pronoun: says nothing alone
        "Fox News is well above both CNN and MSNBC in viewership.",  # names joined
        "Actor Will Smith and his son Jaden Smith were killed in a crash.",  # "Will" is a name
        "If the president were impeached, the vice president and all officers would go.",
        "He said the plan was done and the money was gone.",  # said: the "and" is part of what was said
        'Mark Twain said, "Fear the media and the press will steal your honor."',  # inside a quotation
        "Then-U.S. Sen. Joe Biden withdrew from the race in 1987.",  # abbreviations are no sentence end
        "did u know the Great Wall of China is visible from space with the naked eye!!! 😱",
    ],
)
def test_one_claim_stays_whole(text: str) -> None:
    assert split_claims(text) == [text]


def test_a_fragment_stays_with_the_claim_before_it() -> None:
    assert split_claims("The Exorcist was written by William Friedkin. Blatty.") == [
        "The Exorcist was written by William Friedkin. Blatty."
    ]


@pytest.mark.parametrize(
    ("text", "worth"),
    [
        ("Barack Obama was born in Kenya.", False),
        ("Obama was born in Kenya and the moon landing was faked", True),
        ("The Earth is flat. Birds are not real.", True),
        (" ".join(["word"] * 30), True),
    ],
)
def test_only_texts_that_may_hold_several_claims_are_worth_an_llm_split(text: str, worth: bool) -> None:
    assert worth_extracting(text) is worth


TEXT = "did u know Obama was born in Kenya in 1961 and that NASA faked the moon landing?"


def extraction(*claims: dict[str, object]) -> str:
    return json.dumps({"claims": list(claims)})


def test_an_extraction_keeps_entities_and_dates_that_are_in_the_text() -> None:
    parts = parse_extraction(
        extraction(
            {
                "claim": "Obama was born in Kenya in 1961.",
                "entities": ["Obama", "Kenya", "Hawaii"],
                "dates": ["1961"],
            },
            {"claim": "NASA faked the moon landing.", "entities": ["NASA"], "dates": ["1969"]},
        ),
        TEXT,
        limit=5,
    )
    assert parts == [
        ClaimPart("Obama was born in Kenya in 1961.", ("Obama", "Kenya"), ("1961",)),
        ClaimPart("NASA faked the moon landing.", ("NASA",), ()),
    ]


def test_an_extraction_is_cut_to_the_limit() -> None:
    many = [{"claim": "Obama was born in Kenya.", "entities": [], "dates": []}] * 4
    assert len(parse_extraction(extraction(*many), TEXT, limit=2)) == 2


@pytest.mark.parametrize(
    "content",
    [
        extraction({"claim": "The government is hiding aliens in Area 51.", "entities": [], "dates": []}),
        json.dumps({"verdict": "True"}),
        json.dumps({"claims": []}),
        "Obama was born in Kenya.",
        extraction({"claim": "ok", "entities": [], "dates": []}),
    ],
    ids=["a-claim-not-in-the-text", "not-claims", "no-claims", "not-json", "too-short"],
)
def test_an_unfaithful_or_malformed_extraction_is_invalid(content: str) -> None:
    with pytest.raises(InvalidAnswer):
        parse_extraction(content, TEXT, limit=5)

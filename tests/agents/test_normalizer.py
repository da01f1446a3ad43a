"""The normalizer: what it rejects, how it cleans, and that every noisy variant of a claim keeps one key."""

from __future__ import annotations

import time

import pytest

from factmem.agents.normalizer import Normalizer, comparison_key
from factmem.errors import InputError

BASE = "The Eiffel Tower is in Paris."


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer()


# --- rejected input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("", "empty"),
        ("   ", "whitespace"),
        ("\n\t  \r\n", "whitespace"),
        ("!!!", "no letters"),
        ("12345", "no letters"),
        ("3.14 + 2 = 5.14", "no letters"),
        ("😀😀😀", "no letters"),
        ("🇫🇷 🚀 ❤️", "no letters"),
        ("lol!!!", "nothing left"),
        ("omg did you know 🤯🤯", "nothing left"),
    ],
)
def test_unusable_input_is_rejected_with_what_to_fix(normalizer: Normalizer, raw: str, hint: str) -> None:
    with pytest.raises(InputError) as caught:
        normalizer.normalize(raw)
    message = str(caught.value)
    assert hint in message
    assert "send" in message  # every message tells the caller what to send instead


def test_too_long_names_the_limit_and_the_length() -> None:
    normalizer = Normalizer(max_chars=50)
    with pytest.raises(InputError) as caught:
        normalizer.normalize("a" * 51)
    assert "50" in str(caught.value)
    assert "51" in str(caught.value)


def test_length_is_measured_without_surrounding_whitespace() -> None:
    normalizer = Normalizer(max_chars=50)
    claim = "  " + "Water boils at 100 degrees Celsius at sea level." + " " * 40
    assert normalizer.normalize(claim).original_text == claim


# --- cleaning ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("did u know the Eiffel Tower is in Paris", BASE),
        ("Did you know that the Eiffel Tower is in Paris?", BASE),
        ("DYK the Eiffel Tower is in Paris", BASE),
        ("Fun fact: the Eiffel Tower is in Paris", BASE),
        ("BREAKING: the Eiffel Tower is in Paris", BASE),
        ("omg lol the Eiffel Tower is in Paris", BASE),
        ("FYI, the Eiffel Tower is in Paris", BASE),
        ("PSA: the Eiffel Tower is in Paris", BASE),
        ("apparently the Eiffel Tower is in Paris", BASE),
        ("I heard the Eiffel Tower is in Paris", BASE),
        ("i read that the Eiffel Tower is in Paris", BASE),
        ("Someone told me the Eiffel Tower is in Paris", BASE),
        ("my uncle told me the Eiffel Tower is in Paris", BASE),
        ("A good friend told us that the Eiffel Tower is in Paris", BASE),
        ("My doctor says the Eiffel Tower is in Paris", BASE),
        ("I was told that the Eiffel Tower is in Paris", BASE),
        ("I've been told the Eiffel Tower is in Paris", BASE),
        ("Is it true that the Eiffel Tower is in Paris?", BASE),
        ("True or false: the Eiffel Tower is in Paris", BASE),
        ("omg, did you know - fun fact: the Eiffel Tower is in Paris…", BASE),
        ("They say that the Eiffel Tower is in Paris", BASE),
        ("People say the Eiffel Tower is in Paris", BASE),
        ("some say that the Eiffel Tower is in Paris", BASE),
        ("It is said that the Eiffel Tower is in Paris", BASE),
        ("Rumor has it that the Eiffel Tower is in Paris", BASE),
        ("Supposedly the Eiffel Tower is in Paris", BASE),
        ("Allegedly, the Eiffel Tower is in Paris", BASE),
        ("I think the Eiffel Tower is in Paris", BASE),
        ("I believe that the Eiffel Tower is in Paris", BASE),
        ("It seems that the Eiffel Tower is in Paris", BASE),
        ("The Eiffel Tower is in Paris!!!", BASE),
        ("The Eiffel Tower is in Paris?!?!", BASE),
        ("The Eiffel Tower is in Paris....", BASE),
        ("The   Eiffel\tTower\n is in    Paris", BASE),
        ("The Eiffel Tower is in Paris 🇫🇷🗼✨", BASE),
        ("The Eiffel\u200b Tower\u200d is in\ufeff Paris", BASE),
        ("the Eiffel Tower is in Paris", BASE),
    ],
)
def test_chat_noise_is_removed(normalizer: Normalizer, raw: str, expected: str) -> None:
    assert normalizer.normalize(raw).normalized_text == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Negations and numbers are the claim: never stripped.
        ("Vaccines don't cause autism", "Vaccines don't cause autism."),
        ("i think vaccines do NOT cause autism!!", "Vaccines do NOT cause autism."),
        ("The Moon landing never happened", "The Moon landing never happened."),
        ("There is no evidence of life on Mars", "There is no evidence of life on Mars."),
        ("Pi is 3.14 and a mile is 1,609 meters", "Pi is 3.14 and a mile is 1,609 meters."),
        # A real question stays a question; only a trivial "is it true that" one becomes a statement.
        ("Do vaccines cause autism?", "Do vaccines cause autism?"),
        ("Do vaccines cause autism???", "Do vaccines cause autism?"),
        ("Why is the sky blue?", "Why is the sky blue?"),
        ("is it true vaccines cause autism??", "Vaccines cause autism."),
        ("Vaccines cause autism?", "Vaccines cause autism."),
        # "I read that" is an opener; "I saw a UFO" is the claim itself.
        ("I read that the WHO lied", "The WHO lied."),
        ("I saw a UFO over Texas", "I saw a UFO over Texas."),
        # Relayed hearsay goes; a claim about what someone said keeps its subject.
        ("A man said he saw a UFO over Texas", "A man said he saw a UFO over Texas."),
        ("My uncle's farm is in Texas", "My uncle's farm is in Texas."),
        # Openers that are really part of a name survive.
        ("Breaking Bad is a TV show", "Breaking Bad is a TV show."),
        ("PSA levels rise with age", "PSA levels rise with age."),
        # Capitalise the first letter only; leave the case of everything else (and of "iPhone") alone.
        ("nasa confirmed water on Mars", "Nasa confirmed water on Mars."),
        ("iPhone sales fell in 2019", "iPhone sales fell in 2019."),
        # NFKC folds ligatures and full-width letters; curly quotes become straight.
        ("The ﬁre started in ＮＡＳＡ’s lab", "The fire started in NASA's lab."),
        # Tokenised corpora ("Teck 's son ." ) read as normal text.
        ("Mary of Teck 's son abdicated the throne .", "Mary of Teck's son abdicated the throne."),
        # A pasted tweet loses its handle, link and attribution line.
        (
            "@cnn @bbc 5G towers spread the virus https://t.co/x1 — Jane Doe (@jdoe) March 30, 2020",
            "5G towers spread the virus.",
        ),
        ("Coca-Cola™ once contained cocaine", "Coca-Cola once contained cocaine."),
    ],
)
def test_cleaning_keeps_what_matters(normalizer: Normalizer, raw: str, expected: str) -> None:
    assert normalizer.normalize(raw).normalized_text == expected


def test_original_text_and_source_type(normalizer: Normalizer) -> None:
    raw = "  omg the Earth is FLAT!!! 🌍 "
    claim = normalizer.normalize(raw)
    assert claim.original_text == raw
    assert claim.source_type == "user_input"


# --- comparison key ---------------------------------------------------------------------------------------

NOISE = {
    "lower case": "the eiffel tower is in paris",
    "upper case": "THE EIFFEL TOWER IS IN PARIS",
    "emoji": "🗼 The Eiffel Tower is in Paris 🇫🇷😍",
    "chat prefix": "did u know the Eiffel Tower is in Paris",
    "hedge": "They say that the Eiffel Tower is in Paris",
    "shouting": "The Eiffel Tower is in Paris!!!",
    "ellipsis": "The Eiffel Tower is in Paris.....",
    "whitespace": "   The  Eiffel   Tower is\tin Paris   ",
    "zero width": "The Eiffel\u200b Tower\u200c is in\u2060 Paris\ufeff",
    "trivial question": "Is it true that the Eiffel Tower is in Paris?",
    "everything": "OMG!!! fun fact:   they say that THE eiffel tower is in PARIS 🤯🤯 lol",
}


@pytest.mark.parametrize("variant", list(NOISE.values()), ids=list(NOISE))
def test_noise_variants_share_one_key(normalizer: Normalizer, variant: str) -> None:
    assert normalizer.normalize(variant).comparison_key == normalizer.normalize(BASE).comparison_key


def test_key_is_casefolded_without_accents_or_punctuation(normalizer: Normalizer) -> None:
    claim = normalizer.normalize("Penélope Cruz modelled for L'Oréal, didn't she?")
    assert claim.comparison_key == "penelope cruz modelled for loreal didnt she"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Pi is 3.14.", "pi is 3.14"),
        ("The city has 1,000 parks.", "the city has 1000 parks"),
        ("It cost $1,250,000.50 in 1999.", "it cost $1250000.50 in 1999"),
        ("Apples, pears, and plums.", "apples pears and plums"),
        ("COVID-19 emerged in 2019.", "covid 19 emerged in 2019"),
    ],
)
def test_key_keeps_numbers_intact(text: str, key: str) -> None:
    assert comparison_key(text) == key


def test_key_distinguishes_negation_and_numbers(normalizer: Normalizer) -> None:
    keys = {
        normalizer.normalize(text).comparison_key
        for text in (
            "Vaccines cause autism.",
            "Vaccines do not cause autism.",
            "Apollo 11 landed in 1969.",
            "Apollo 11 landed in 1972.",
        )
    }
    assert len(keys) == 4


# --- entities and temporal markers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        (
            "The World Health Organization declared COVID-19 a pandemic on March 11, 2020.",
            ("World Health Organization", "COVID-19"),
        ),
        ("NASA landed Apollo 11 on the Moon in July 1969.", ("NASA", "Apollo 11", "Moon")),
        ("Barack Obama was born in Honolulu, Hawaii.", ("Barack Obama", "Honolulu", "Hawaii")),
        ("The Great Wall of China is visible from space.", ("Great Wall of China",)),
        ("Paris is the capital of France.", ("Paris", "France")),
        ('The film "Casablanca" won three Oscars.', ("Casablanca", "Oscars")),
        ("Middle-earth was created by British writer J. R. R. Tolkien.", ("British", "J. R. R. Tolkien")),
        ("The WHO and the WHO agree.", ("WHO",)),
        ("I may be wrong, but Theresa May resigned.", ("Theresa May",)),
        # A lone capitalised first word is just the start of a sentence.
        ("Vaccines cause autism.", ()),
        ("Eating carrots improves your eyesight.", ()),
        # Shouting makes every word look like an acronym: only quoted names are trusted.
        ('THE FILM "Casablanca" WON THREE OSCARS.', ("Casablanca",)),
    ],
)
def test_entities(normalizer: Normalizer, text: str, entities: tuple[str, ...]) -> None:
    assert normalizer.normalize(text).entities == entities


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("Apollo 11 landed on the Moon in 1969.", ("1969",)),
        ("Heavy metal was born in the 1970s.", ("1970s",)),
        ("The WHO declared a pandemic on March 11, 2020.", ("March 11, 2020",)),
        ("Markets crashed on 29 October 1929.", ("29 October 1929",)),
        ("The law took effect on 2020-03-03.", ("2020-03-03",)),
        ("The Berlin Wall fell in November 1989.", ("November 1989",)),
        ("Elections are held every November.", ("November",)),
        ("Gas prices rose yesterday.", ("yesterday",)),
        ("Inflation is currently high this year.", ("currently", "this year")),
        ("Unemployment fell last week and is low now.", ("last week", "now")),
        ("The bridge was closed two years ago.", ("two years ago",)),
        ("Scientists recently found water on Mars.", ("recently",)),
        # "may" the verb and 4-digit counts are not dates.
        ("Coffee may cause cancer.", ()),
        ("The town has 1,500 residents.", ()),
    ],
)
def test_temporal_markers(normalizer: Normalizer, text: str, markers: tuple[str, ...]) -> None:
    assert normalizer.normalize(text).temporal_markers == markers


def test_normalize_is_fast(normalizer: Normalizer) -> None:
    claims = list(NOISE.values()) * 50
    started = time.perf_counter()
    for claim in claims:
        normalizer.normalize(claim)
    per_claim = (time.perf_counter() - started) / len(claims)
    assert per_claim < 0.001

"""factmem.polarity: same claim, its negation, or a different claim."""

from __future__ import annotations

import pytest

from factmem import polarity
from factmem.polarity import ClaimRelation, claim_signature, compare_claims, stem

# --- negation --------------------------------------------------------------------------------------------


def test_spec_negation_example() -> None:
    relation = compare_claims("Vaccines cause autism.", "Vaccines do not cause autism.")
    assert relation == ClaimRelation("opposite", "negation differs")


@pytest.mark.parametrize(
    "negated",
    [
        "Vaccines do not cause autism.",
        "Vaccines don't cause autism.",
        "Vaccines doesn't cause autism.",
        "Vaccines never cause autism.",
        "Vaccines cannot cause autism.",
        "Vaccines can't cause autism.",
        "Vaccines can not cause autism.",
        "Vaccines won't cause autism.",
        "Vaccines no longer cause autism.",
        "Vaccines failed to cause autism.",
        "Vaccines have yet to cause autism.",
        "It is false that vaccines cause autism.",
        "No vaccines cause autism.",
        "Vaccines don’t cause autism.",  # typographic apostrophe
        "vaccines dont cause autism.",  # chat spelling
    ],
)
def test_each_negation_cue_flips_polarity(negated: str) -> None:
    assert compare_claims("Vaccines cause autism.", negated).kind == "opposite"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Penélope Cruz modelled for L'Oréal.", "Penélope Cruz refused to model for L'Oréal."),
        ("Mary of Teck's son abdicated the throne.", "Mary of Teck's son never abdicated the throne."),
        ("Croatia does not have a king.", "Croatia has a king."),
        (
            "Annette Badland appeared in Wizards vs Aliens.",
            "Annette Badland was unable to appear in Wizards vs Aliens.",
        ),
        ("Nobody survived the crash.", "Everybody survived the crash."),
        ("The suspect left without a trace.", "The suspect left a trace."),
    ],
)
def test_negation_pairs_are_opposite(a: str, b: str) -> None:
    assert compare_claims(a, b).kind == "opposite"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # "not only" affirms.
        ("Not only is Venus hot, it is also dry.", "Venus is hot, and it is also dry."),
        ("Coffee is not only tasty but also healthy.", "Coffee is tasty and also healthy."),
        # Double negation cancels.
        ("It is not true that vaccines don't cause autism.", "Vaccines cause autism."),
        ("Nobody never lies.", "Everybody lies."),
        # "neither ... nor" is one negation.
        ("Neither cats nor dogs can see colour.", "Cats and dogs cannot see colour."),
        # "whether or not" asks, it does not deny.
        ("Whether or not you like it, taxes rise in 2025.", "Taxes rise in 2025, whether you like it."),
    ],
)
def test_negations_that_cancel_or_are_not_negations(a: str, b: str) -> None:
    assert compare_claims(a, b).kind == "same"


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("Vaccines cause autism.", False),
        ("Vaccines do not cause autism.", True),
        ("It is not true that vaccines don't cause autism.", False),
        ("Not only is it hot, it is humid.", False),
        ("Neither Paris nor Rome is the capital of Spain.", True),
    ],
)
def test_negated_flag(text: str, negated: bool) -> None:
    assert claim_signature(text).negated is negated


# --- numbers ---------------------------------------------------------------------------------------------


def test_spec_number_example() -> None:
    relation = compare_claims(
        "Apollo 11 landed on the Moon in 1969.", "Apollo 11 landed on the Moon in 1972."
    )
    assert relation == ClaimRelation("different", "number changed: 1969 vs 1972")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ashton Kutcher was in two films in 2005.", "Ashton Kutcher was in three films in 2005."),
        (
            "The Closer's final season was its seventh season.",
            "The Closer's final season was its eighth season.",
        ),
        ("Artpop sold 100,000 copies.", "Artpop sold 10,000 copies."),
        ("Heavy metal was developed in the early 1970s.", "Heavy metal was developed in the early 1990s."),
        ("Carlos Santana was born in the forties.", "Carlos Santana was born in the fifties."),
        (
            "Harold Macmillan was born on February 10, 1894.",
            "Harold Macmillan was born on February 20, 1894.",
        ),
        # A number on one side only changes the claim too ("landed" vs "landed in 1972").
        ("Apollo 11 landed on the Moon.", "Apollo 11 landed on the Moon in 1972."),
        # Negation does not rescue a changed number.
        ("The bridge is 300 meters long.", "The bridge is not 400 meters long."),
    ],
)
def test_number_changes_are_different(a: str, b: str) -> None:
    relation = compare_claims(a, b)
    assert relation.kind == "different"
    assert relation.reason.startswith("number changed")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The city has 1,000 parks.", "The city has 1000 parks."),
        ("The city has one thousand parks.", "The city has 1000 parks."),
        ("The war lasted seven years.", "The war lasted 7 years."),
        ("The ratio is 3.0.", "The ratio is 3."),
        ("Twenty-one states voted.", "21 states voted."),
        ("Its population is 1.5 million.", "Its population is 1,500,000."),
        ("It was born on June 26th, 1980.", "It was born on June 26, 1980."),
        ("Prices rose in the 1990's.", "Prices rose in the 1990s."),
    ],
)
def test_number_spellings_are_the_same_number(a: str, b: str) -> None:
    assert compare_claims(a, b).kind == "same"


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Seven wonders and 1,000 ships.", {"7", "1000"}),
        ("It weighs 3.50 kg, not 3.0 kg.", {"3.5", "3"}),
        ("A hundred and five people.", {"105"}),
        ("Two million people live there.", {"2000000"}),
        ("The 1960s and the nineties.", {"1960s", "90s"}),
        ("The third season aired on the 21st.", {"3", "21"}),
    ],
)
def test_canonical_numbers(text: str, numbers: set[str]) -> None:
    assert claim_signature(text).numbers == numbers


# --- entities --------------------------------------------------------------------------------------------


def test_spec_entity_example() -> None:
    relation = compare_claims("The Eiffel Tower is in Paris.", "The Eiffel Tower is in Rome.")
    assert relation == ClaimRelation("different", "entity changed: Paris vs Rome")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Poldark airs on BBC.", "Poldark airs on HBO."),
        ("CBS is the network that aired The Millers.", "ABC is the network that aired The Millers."),
        ("Mount Rushmore was created by Gutzon Borglum.", "Mount Rushmore was created by Tom Brady."),
        ("Barack Obama was born in Hawaii.", "Barack Obama was born in Kenya."),
        ("Danielle Cormack was born in December.", "Danielle Cormack was born in May."),
    ],
)
def test_substituted_entities_are_different(a: str, b: str) -> None:
    relation = compare_claims(a, b)
    assert relation.kind == "different"
    assert relation.reason.startswith("entity changed")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Obama was born in Hawaii.", "Barack Obama was born in Hawaii."),
        ("The Eiffel Tower is in Paris.", "The Eiffel Tower is in Paris, France."),
        ("Mozart wrote Don Giovanni.", "Wolfgang Amadeus Mozart wrote Don Giovanni."),
        ("Trump won the election.", "Donald Trump won the election."),
        ("The U.S. has 50 states.", "America has 50 states."),
    ],
)
def test_added_detail_is_tolerated(a: str, b: str) -> None:
    assert compare_claims(a, b).kind == "same"


def test_entities_come_from_capitals_not_the_sentence_start() -> None:
    signature = claim_signature("Vaccines given by the WHO reached Paris and New Delhi.")
    assert signature.entities == {"who", "paris", "new", "delhi"}


@pytest.mark.parametrize(
    "shouted",
    [
        "THE EIFFEL TOWER STOOD IN PARIS.",
        "the eiffel tower stood in paris.",
        "Did The Eiffel Tower Stand In Paris?",  # a headline: capitals mark words, not names
    ],
)
def test_case_noise_does_not_invent_entities(shouted: str) -> None:
    assert compare_claims("The Eiffel Tower stood in Paris.", shouted).kind == "same"


def test_lower_case_substitution_is_still_caught() -> None:
    # No capitals, so no entity evidence: the content-word rule sees the swap.
    relation = compare_claims("the eiffel tower is in paris.", "The Eiffel Tower is in Rome.")
    assert relation.kind == "different"


# --- antonyms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "words"),
    [
        ("The Cretaceous ended.", "The Cretaceous began.", ("ended", "began")),
        ("The show started in 2001.", "The show ended in 2001.", ("started", "ended")),
        ("Crime increased in 2020.", "Crime decreased in 2020.", ("increased", "decreased")),
        ("Prices rose last year.", "Prices fell last year.", ("rose", "fell")),
        (
            "Ingushetia was named after the split.",
            "Ingushetia was named before the split.",
            ("after", "before"),
        ),
        ("Elvis is alive.", "Elvis is dead.", ("alive", "dead")),
        ("The Lakers won the final.", "The Lakers lost the final.", ("won", "lost")),
        ("Cannabis is legal in Canada.", "Cannabis is illegal in Canada.", ("legal", "illegal")),
        ("Tap water is safe to drink.", "Tap water is dangerous to drink.", ("safe", "dangerous")),
        ("Smoking is allowed on trains.", "Smoking is banned on trains.", ("allowed", "banned")),
        ("Valencia is the largest city.", "Valencia is the smallest city.", ("largest", "smallest")),
        ("Humidity is higher at night.", "Humidity is lower at night.", ("higher", "lower")),
        ("Tatum O'Neal had children.", "Tatum O'Neal is childless.", ("children", "childless")),
        (
            "Same Old Love is associated with Selena Gomez.",
            "Same Old Love is disassociated from Selena Gomez.",
            ("associated", "disassociated"),
        ),
    ],
)
def test_antonyms_are_different_not_opposite(a: str, b: str, words: tuple[str, str]) -> None:
    relation = compare_claims(a, b)
    assert relation.kind == "different"
    assert relation.reason == f"antonym: {words[0]} vs {words[1]}"


# --- content-word substitution ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Daggering is associated with the genre of dancehall music.",
            "Daggering is associated with the genre of death metal.",
        ),
        ("Lost is a television series.", "Lost is a political party."),
        ("Colin Kaepernick is a football player.", "Colin Kaepernick is a poker player."),
        ("Java was formed by volcanic eruptions.", "Java was formed by earthquakes."),
        ("Polar bears depend on the ocean for food.", "Polar bears depend on the land for food."),
    ],
)
def test_swapped_content_words_are_different(a: str, b: str) -> None:
    relation = compare_claims(a, b)
    assert relation.kind == "different"
    assert relation.reason.startswith("word changed")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Near-synonyms, derivations and spelling slips are rewordings.
        ("Titanic is a 1997 film.", "Titanic is a 1997 movie."),
        ("Cracking your knuckles causes arthritis.", "Cracking your knuckles leads to arthritis."),
        (
            "Bad Romance was one of the bestt-selling singles.",
            "Bad Romance was one of the best-selling singles.",
        ),
        ("The colour of the sky is blue.", "The color of the sky is blue."),
        (
            "Hillary Clinton called for Assange to be assassinated.",
            "Hillary Clinton called for Assange's assassination.",
        ),
        # A plural gerund is the same word; "math" is short for "mathematics".
        ("The Moon landings were faked.", "The moon landing was faked."),
        ("Einstein failed mathematics at school.", "Einstein failed math at school."),
        # Light words add nothing.
        ("The Eiffel Tower is in Paris.", "The Eiffel Tower is located in Paris."),
        # A phrase moved whole modifies the same thing.
        (
            "In 2002, The Adventures of Pluto Nash was released.",
            "The Adventures of Pluto Nash was released in 2002.",
        ),
    ],
)
def test_rewordings_stay_the_same(a: str, b: str) -> None:
    assert compare_claims(a, b).kind == "same"


def test_broad_rewordings_are_not_the_same_claim() -> None:
    """Only a claim that says the same thing may hand over its verdict: a paraphrase that replaces many words
    is listed as related, never taken for the same claim (a lexical rule cannot check it means the same)."""
    relation = compare_claims(
        "Bricks of cocaine washed up on the Florida coast after Hurricane Dorian.",
        "After Hurricane Dorian, packages of cocaine were found floating ashore along Florida beaches.",
    )
    assert relation.kind == "different"


# --- noise and API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "The Eiffel Tower is in Paris.",
        "the eiffel tower is in paris.",
        "THE EIFFEL TOWER IS IN PARIS.",
        "The  Eiffel Tower is in Paris",
    ],
)
def test_case_and_spacing_variants_are_the_same(variant: str) -> None:
    assert compare_claims("The Eiffel Tower is in Paris.", variant) == ClaimRelation("same", "")


def test_accepts_signatures_and_strings() -> None:
    a = claim_signature("Vaccines cause autism.")
    assert compare_claims(a, "Vaccines do not cause autism.").kind == "opposite"
    assert compare_claims("Vaccines do not cause autism.", a).kind == "opposite"
    assert compare_claims(a, a).kind == "same"


def test_signature_is_hashable_and_cached() -> None:
    first = claim_signature("Water boils at 100 degrees.")
    assert claim_signature("Water boils at 100 degrees.") is first
    assert hash(first) == hash(claim_signature("Water boils at 100 degrees."))


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("started", "start"),
        ("starts", "start"),
        ("starting", "start"),
        ("landings", "land"),
        ("modelled", "model"),
        ("cities", "city"),
        ("began", "begin"),
        ("children", "child"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Renato Balestra was born in Trieste.", "Renato Balestra was born outside of Trieste."),
        ("Veeram is an Indian Tamil film.", "Veeram is something other than an Indian Tamil film."),
        ("The album is a success.", "The album is anything but a success."),
    ],
)
def test_exclusions_deny_the_claim(stored: str, asked: str) -> None:
    assert compare_claims(stored, asked).kind == "opposite"


# --- typos -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("The government raised taxes.", "The goverment raised taxes."),
        ("Vaccines cause autism.", "Vaccnies cause autism."),
        ("Randy Savage does not have a deep voice.", "Randy Savage deos not have a deep voice."),
        (
            '"Love the Way You Lie" collected five Grammy nominations.',
            '"Love the Way You Lie" collected fivve Grammy nominations.',
        ),
        ("The Saw franchise grossed over $554 million.", "The Saw franchise grossed over $554 millioh."),
        ("Fist of Legend is a remake of Fist of Fury.", "Fist of Legend is a remake of Fsit of Fury."),
        ("Rick Yune was on a TV series.", "Rick Yunw was on a TV series."),
        (
            "Edmund H. North co-wrote the script for Twilight.",
            "Edmund H. Noth co-wrote the script for Twilight.",
        ),
        (
            "Make It or Break It is incapable of being a show.",
            "Make It or Break It is icnapable of being a show.",
        ),
    ],
)
def test_a_misspelling_of_a_stored_word_is_that_word(stored: str, typed: str) -> None:
    assert compare_claims(stored, typed) == ClaimRelation("same", "")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("The county voted.", "The country voted."),  # both are words: a real change
        ("He lives in Paris.", "He lives in Lyon."),
    ],
)
def test_a_change_to_another_word_is_not_a_typo(stored: str, typed: str) -> None:
    assert compare_claims(stored, typed).kind == "different"


@pytest.mark.parametrize(
    ("stored", "typed", "kind"),
    [
        (
            "Starrcade was broadcast via pay-per-view.",
            "Starrcade was nevver broadcast via pay-per-view.",
            "opposite",
        ),
        (
            "Starrcade was never broadcast via pay-per-view.",
            "Starrcade was nevver broadcast via pay-per-view.",
            "same",
        ),
        ("Obesity has to do with cancer.", "Obesity has nohting to do with cancer.", "opposite"),
        ("Pharrell Williams is a musician.", "Pharrell Williams is noot a musician.", "opposite"),
    ],
)
def test_a_misspelt_negation_is_a_negation(stored: str, typed: str, kind: str) -> None:
    assert compare_claims(stored, typed).kind == kind


def test_a_word_as_close_to_a_negation_as_to_another_word_is_never_read_as_either() -> None:
    """ "nto": "not" or "to"? Taking either reading could serve a wrong verdict."""
    relation = compare_claims("Pharrell Williams is a musician.", "Pharrell Williams is nto a musician.")
    assert relation.kind == "different"
    assert relation.reason.startswith("unclear negation")


def test_a_one_typed_for_an_exclamation_mark_is_not_a_number() -> None:
    from factmem.agents.normalizer import Normalizer

    text = Normalizer().normalize("vaccines cause autism!!!1").normalized_text
    assert compare_claims("Vaccines cause autism.", text) == ClaimRelation("same", "")


# --- contrast edits that keep most words -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "asked", "reason"),
    [
        ("Many vaccines contain mercury.", "Few vaccines contain mercury.", "antonym"),
        ("Some vaccines contain mercury.", "All vaccines contain mercury.", "antonym"),
        ("Tilda Swinton is a painter.", "Tilda Swinton is only a painter.", "quantifier"),
        ("Kuching is the second-largest city.", "Kuching is the largest city.", "ordinal"),
        ("Artpop sold more than a million copies.", "Artpop sold less than a million copies.", "antonym"),
        ("Hedda Gabler premiered in Munich.", "Hedda Gabler premiered outside Munich.", "comparative"),
        ("The book was written by a doctor.", "The book was written for a doctor.", "preposition"),
        ("Meteora is by Linkin Park.", "Linkin Park is by Meteora.", "word order"),
        ("Anne Rice lived in San Francisco.", "San Francisco lived in Anne Rice.", "word order"),
        (
            "Civilization IV is a turn-based strategy game.",
            "Civilization IV is a board game.",
            "word changed",
        ),
        ("Harold Macmillan was a politician.", "Harold Macmillan was a German politician.", "entity added"),
        ("West Virginia borders Maryland.", "West Virginia borders Maryland and Ohio.", "entity added"),
        ("Vedam stars Seth Rogan.", "Vedam stars Deeksha Seth.", "entity"),
    ],
)
def test_one_edit_that_changes_the_claim_makes_it_different(stored: str, asked: str, reason: str) -> None:
    relation = compare_claims(stored, asked)
    assert relation.kind == "different"
    assert relation.reason.startswith(reason), relation.reason


# --- value conflicts (the contradiction rule's input) ---------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "asked", "kind", "single_valued"),
    [
        ("Barack Obama was born in Hawaii.", "Barack Obama was born in Kenya.", "name", True),
        ("Anne Rice was born in 1941.", "Anne Rice was born in 1997.", "number", True),
        ("Anne Sullivan was born in April of 1866.", "Anne Sullivan was born in June of 1866.", "date", True),
        ("Charles Manson is an American.", "Charles Manson is a Spaniard.", "name", True),
        # a film has many stars; a place lies in larger places: another value does not exclude this one
        ("The film Australia stars Hugh Jackman.", "The film Australia stars Meryl Streep.", "name", False),
        ("Palo Alto is located in the Bay Area.", "Palo Alto is located in Silicon Valley.", "name", False),
    ],
)
def test_one_value_changed_after_the_same_subject_is_a_conflict(
    stored: str, asked: str, kind: str, single_valued: bool
) -> None:
    conflict = compare_claims(stored, asked).conflict
    assert conflict is not None
    assert (conflict.kind, conflict.single_valued) == (kind, single_valued)


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Barack Obama was born in Hawaii.", "Donald Trump was born in Hawaii."),  # the subject changed
        ("Barack Obama was born in Hawaii.", "Barack Obama was not born in Kenya."),  # negation too
        ("Barack Obama was born in Hawaii.", "Barack Obama was raised in Kenya."),  # two edits
    ],
)
def test_other_differences_are_no_value_conflict(stored: str, asked: str) -> None:
    assert compare_claims(stored, asked).conflict is None


def test_a_relation_is_remembered_for_claim_length_pairs_and_is_what_compare_claims_says() -> None:
    stored, incoming = "Vaccines cause autism.", "Vaccines do not cause autism."
    polarity._remembered_relation.cache_clear()
    first = polarity.claim_relation(stored, incoming)
    assert first == compare_claims(stored, incoming) and first.kind == "opposite"
    assert polarity.claim_relation(stored, incoming) is first  # the second asking is a lookup
    assert polarity._remembered_relation.cache_info().hits == 1


def test_a_pair_too_long_to_remember_is_compared_each_time_with_the_signature_given() -> None:
    long_claim = " ".join(["The harbour of Quillon freezes over every winter."] * 8)
    assert len(long_claim) > polarity.SIGNATURE_CACHE_MAX_CHARS
    polarity._remembered_relation.cache_clear()
    signature = polarity.claim_signature(long_claim.replace("freezes", "never freezes"))
    relation = polarity.claim_relation(long_claim, "not the text of the signature", signature)
    assert relation == compare_claims(long_claim, signature)
    assert polarity._remembered_relation.cache_info().currsize == 0

"""ISO 11649 (RF) creditor references, validated with python-stdnum."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from paydue.domain.references import (
    BODY_DIGITS,
    format_rf,
    is_valid_rf,
    make_rf,
    normalise_rf,
    rf_for_sequence,
)

SEQUENCES = st.integers(min_value=1, max_value=10**BODY_DIGITS - 1)


def test_make_rf_matches_the_standard_example() -> None:
    assert make_rf("539007547034") == "RF18539007547034"


def test_the_first_reference_is_the_padded_sequence_number() -> None:
    reference = rf_for_sequence(1)
    assert reference == make_rf("000000001")
    assert reference[4:] == "000000001"
    assert iso11649.is_valid(reference)


@given(SEQUENCES)
def test_every_sequence_number_gives_a_valid_reference(number: int) -> None:
    reference = rf_for_sequence(number)
    assert iso11649.is_valid(reference)
    assert iso11649.compact(reference) == reference
    assert int(reference[4:]) == number
    assert len(reference) == 4 + BODY_DIGITS


@given(st.integers(min_value=1, max_value=10**21 - 1))
def test_the_integer_check_digits_agree_with_the_string_computation(number: int) -> None:
    assert rf_for_sequence(number) == make_rf(str(number).zfill(BODY_DIGITS))


@given(st.lists(SEQUENCES, min_size=2, max_size=50, unique=True))
def test_different_sequence_numbers_give_different_references(numbers: list[int]) -> None:
    references = [rf_for_sequence(n) for n in numbers]
    assert len(set(references)) == len(numbers)


def test_sequence_numbers_beyond_the_padding_still_give_valid_references() -> None:
    reference = rf_for_sequence(10**BODY_DIGITS)
    assert iso11649.is_valid(reference)
    assert reference.endswith(str(10**BODY_DIGITS))


@pytest.mark.parametrize("number", [0, -1])
def test_sequence_numbers_start_at_one(number: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        rf_for_sequence(number)


@pytest.mark.parametrize("body", ["", "AB-12", "A" * 22, "AB_1"])
def test_make_rf_refuses_bodies_outside_the_standard(body: str) -> None:
    with pytest.raises(ValueError, match="1 to 21"):
        make_rf(body)


def test_make_rf_accepts_lower_case_and_spaces() -> None:
    assert make_rf("5390 0754 7034") == "RF18539007547034"
    assert make_rf("abc123") == make_rf("ABC123")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("RF18539007547034", True),
        ("rf18 5390 0754 7034", True),
        ("RF19539007547034", False),
        ("RF18539007547035", False),
        ("XX18539007547034", False),
        ("", False),
    ],
)
def test_is_valid_rf(text: str, valid: bool) -> None:
    assert is_valid_rf(text) is valid


def test_normalise_and_format_round_trip() -> None:
    assert normalise_rf("rf18 5390 0754 7034") == "RF18539007547034"
    assert format_rf("RF18539007547034") == "RF18 5390 0754 7034"
    with pytest.raises(ValueError, match="not a valid ISO 11649 reference"):
        normalise_rf("RF19539007547034")

"""Finding references and invoice numbers in what payers type, and folding names."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import iso11649

from paydue.domain.references import make_rf
from paydue.domain.remittance import (
    compact_invoice_number,
    find_ogm,
    find_qrr,
    find_references,
    find_rf,
    fold_name,
    name_key,
    normalise_invoice_number,
    number_windows,
)

ALNUM = string.ascii_uppercase + string.digits


@pytest.mark.parametrize(
    "text",
    [
        "RF18 5390 0754 7034",
        "rf18 5390 0754 7034",
        "RF18539007547034",
        "Rechnung RF18 5390\n0754 7034, danke",
        "ref:RF18-5390-0754-7034",
        "RF 18 53 90 07 54 70 34",
    ],
)
def test_rf_is_found_however_it_is_spaced(text: str) -> None:
    assert find_rf(text) == ["RF18539007547034"]


@pytest.mark.parametrize(
    "text",
    [
        "RF17 5390 0754 7034",  # wrong check digits
        "XRF18539007547034",  # glued to a word: not a whole token
        "RF18539007547034X",  # runs on into other characters
        "RF18",
        "",
    ],
)
def test_rf_is_not_found(text: str) -> None:
    assert find_rf(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "+++090/9337/55493+++",
        "***090/9337/55493***",
        "090/9337/55493",
        "090 9337 55493",
        "090933755493",
    ],
)
def test_ogm_is_found_with_or_without_its_punctuation(text: str) -> None:
    assert find_ogm(f"Betaling {text} factuur") == ["090933755493"]


def test_ogm_with_a_wrong_check_digit_or_inside_a_longer_number_is_not_found() -> None:
    assert find_ogm("+++090/9337/55494+++") == []
    assert find_ogm("1090933755493") == []


def test_qrr_is_found_grouped_or_compact_but_not_with_a_digit_missing() -> None:
    grouped = "21 00000 00003 13947 14300 09017"
    assert find_qrr(f"Zahlung {grouped}") == ["210000000003139471430009017"]
    assert find_qrr("210000000003139471430009017") == ["210000000003139471430009017"]
    assert find_qrr("21000000000313947143000901") == []


def test_find_references_names_the_scheme_and_prints_it_readably() -> None:
    found = find_references("RF18539007547034 and 090933755493")
    assert [(r.scheme.value, r.formatted()) for r in found] == [
        ("rf", "RF18 5390 0754 7034"),
        ("ogm", "+++090/9337/55493+++"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INV-2026-0042", "INV 2026 42"),
        ("inv 2026 42", "INV 2026 42"),
        ("Inv/2026/O042", "INV 2026 42"),
        ("INV2026-0042", "INV 2026 42"),
        ("0000", "0"),
        ("", ""),
    ],
)
def test_normalise_invoice_number(text: str, expected: str) -> None:
    assert normalise_invoice_number(text) == expected


def test_compact_invoice_number_reads_the_letter_o_as_zero() -> None:
    assert compact_invoice_number("INV2026OO42") == compact_invoice_number("INV-2026-0042")


def test_number_windows_join_whole_chunks_and_compact_single_chunks_only() -> None:
    windows = {(w.key, w.compact) for w in number_windows("Nr 12.50 x", 2)}
    assert ("12 50", None) in windows
    assert ("12", "12") in windows
    assert not any(w.compact == "1250" for w in number_windows("12.50", 3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller-Lüdenscheidt, Jürgen", "mueller luedenscheidt juergen"),
        ("MUELLER-LUEDENSCHEIDT JUERGEN", "mueller luedenscheidt juergen"),
        ("Straße", "strasse"),
        ("Élodie  Dupré", "elodie dupre"),
        ("  ", ""),
    ],
)
def test_fold_name(text: str, expected: str) -> None:
    assert fold_name(text) == expected


def test_name_key_ignores_word_order() -> None:
    assert name_key("Mustermann, Erika") == name_key("ERIKA MUSTERMANN")


@given(st.text())
def test_normalisers_never_crash_and_are_idempotent(text: str) -> None:
    number = normalise_invoice_number(text)
    assert normalise_invoice_number(number) == number
    folded = fold_name(text)
    assert fold_name(folded) == folded
    find_rf(text), find_ogm(text), find_qrr(text)


_bodies = st.text(alphabet=ALNUM, min_size=1, max_size=21)
_noise = st.text(alphabet=string.ascii_letters + string.digits + " .,:;-/\n", max_size=40)


def _spaced(draw: st.DrawFn, reference: str) -> str:
    """``reference`` with spaces or line breaks put between random characters, random case."""
    out = []
    for char in reference:
        if out and draw(st.booleans()):
            out.append(draw(st.sampled_from([" ", "  ", "\n"])))
        out.append(char.lower() if draw(st.booleans()) else char)
    return "".join(out)


@st.composite
def _text_with_rf(draw: st.DrawFn) -> tuple[str, str]:
    reference = make_rf(draw(_bodies))
    text = f"{draw(_noise)} {_spaced(draw, reference)} {draw(_noise)}"
    return text, reference


@given(_text_with_rf())
def test_a_valid_rf_in_random_text_with_random_spacing_and_case_is_always_found(
    case: tuple[str, str],
) -> None:
    text, reference = case
    assert reference in find_rf(text)


@given(st.text(alphabet=ALNUM, min_size=12, max_size=12), st.integers(0, 99))
def test_a_16_character_string_with_wrong_check_digits_is_never_an_rf(
    body: str, check: int
) -> None:
    candidate = f"RF{check:02d}{body}"
    assume(not iso11649.is_valid(candidate))
    assert find_rf(candidate) == []
    assert candidate not in find_rf(f"Rechnung {candidate.lower()} danke")
    assert candidate not in find_rf(f"Rechnung {candidate[:8]} {candidate[8:]}")

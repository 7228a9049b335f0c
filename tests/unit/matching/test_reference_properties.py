"""Properties of the reference and invoice-number normalisers, for any input hypothesis finds.

RF (ISO 11649), Belgian OGM-VCS and Swiss QR references: print form and compact form read back
to the same reference, reading is idempotent, and a reference with one wrong digit (or two
neighbouring digits swapped) is never accepted, however it is spaced, so a typo can never point
at another invoice. Invoice numbers: every way payers retype one gives the same key.
"""

from __future__ import annotations

import string

from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import iso11649
from stdnum.be import ogm_vcs
from stdnum.ch import esr

from paydue.domain.references import (
    format_rf,
    is_valid_rf,
    make_rf,
    normalise_rf,
    rf_for_sequence,
)
from paydue.domain.remittance import (
    FoundReference,
    Scheme,
    compact_invoice_number,
    find_ogm,
    find_qrr,
    find_references,
    find_rf,
    normalise_invoice_number,
    number_windows,
    parse_reference,
)

DIGITS = string.digits
sequences = st.integers(1, 10**9 - 1)
bodies = st.text(alphabet=string.ascii_uppercase + DIGITS, min_size=1, max_size=21)


def _ogm(ten: str) -> str:
    return ten + ogm_vcs.calc_check_digits(ten)


def _qrr(twenty_six: str) -> str:
    return twenty_six + esr.calc_check_digit(twenty_six)


ogms = st.text(alphabet=DIGITS, min_size=10, max_size=10).map(_ogm)
qrrs = st.text(alphabet=DIGITS, min_size=26, max_size=26).filter(lambda d: d.strip("0")).map(_qrr)


@st.composite
def _one_digit_off(draw: st.DrawFn, value: str, first: int = 0) -> str:
    """``value`` with one digit (at ``first`` or later) changed, or two neighbours swapped."""
    positions = [i for i in range(first, len(value)) if value[i].isdigit()]
    at = draw(st.sampled_from(positions))
    if draw(st.booleans()) and at + 1 < len(value) and value[at + 1].isdigit():
        assume(value[at] != value[at + 1])
        return value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    digit = draw(st.sampled_from([d for d in DIGITS if d != value[at]]))
    return value[:at] + digit + value[at + 1 :]


# --- RF -------------------------------------------------------------------------------------


@given(sequences)
def test_rf_for_sequence_is_make_rf_of_the_padded_number_and_valid(number: int) -> None:
    reference = rf_for_sequence(number)
    assert reference == make_rf(f"{number:09d}")
    assert is_valid_rf(reference)


@given(bodies)
def test_rf_print_form_and_compact_form_read_back_to_the_same_reference(body: str) -> None:
    reference = make_rf(body)
    printed = format_rf(reference)
    assert normalise_rf(printed) == reference
    assert normalise_rf(normalise_rf(printed)) == reference
    assert parse_reference(printed) == FoundReference(Scheme.RF, reference)
    assert parse_reference(printed.lower()) == FoundReference(Scheme.RF, reference)
    assert FoundReference(Scheme.RF, reference).formatted() == printed
    # a shorter or longer run of chunks may verify too (by chance, or a body of zeros);
    # matching looks each candidate up exactly, so the reference must be among them
    assert reference in find_rf(f"Rechnung {printed} danke")


@given(st.data(), sequences)
def test_an_rf_with_one_digit_wrong_or_two_swapped_is_never_accepted(
    data: st.DataObject, number: int
) -> None:
    reference = rf_for_sequence(number)
    typo = data.draw(_one_digit_off(reference, first=2))
    assume(typo != reference)
    assert not is_valid_rf(typo)
    assert parse_reference(typo) is None
    for text in (f"Zahlung {format_rf(typo)}", typo.lower()):
        found = find_rf(text)
        assert typo not in found
        assert reference not in found


# --- OGM-VCS --------------------------------------------------------------------------------


@given(ogms)
def test_ogm_read_back_from_every_print_form(ogm: str) -> None:
    found = FoundReference(Scheme.OGM, ogm)
    printed = found.formatted()
    assert printed == f"+++{ogm[:3]}/{ogm[3:7]}/{ogm[7:]}+++"
    for form in (printed, printed.strip("+"), printed.replace("/", " "), ogm, f"***{ogm}***"):
        assert find_ogm(f"Betaling {form} factuur") == [ogm]
        assert parse_reference(form) == found
    assert parse_reference(printed) == parse_reference(parse_reference(printed).formatted())  # type: ignore[union-attr]


@given(st.data(), ogms)
def test_an_ogm_with_one_digit_wrong_or_two_swapped_is_never_accepted(
    data: st.DataObject, ogm: str
) -> None:
    typo = data.draw(_one_digit_off(ogm))
    assume(typo != ogm)
    assert not ogm_vcs.is_valid(typo)
    assert find_ogm(f"+++{typo[:3]}/{typo[3:7]}/{typo[7:]}+++") == []
    reference = parse_reference(typo)
    assert reference is None or reference.scheme is not Scheme.OGM


# --- Swiss QR reference ---------------------------------------------------------------------


@given(qrrs)
def test_qrr_read_back_from_its_print_form(qrr: str) -> None:
    found = FoundReference(Scheme.QRR, qrr)
    printed = found.formatted()
    assert parse_reference(printed) == found
    assert find_qrr(f"Zahlung {printed}") == [qrr]
    assert find_qrr(printed.replace(" ", "\n")) == [qrr]
    assert found in find_references(printed)


@given(qrrs)
def test_short_qrr_forms_are_read_zero_padded(qrr: str) -> None:
    short = qrr.lstrip("0")
    assume(short)
    assert parse_reference(short) == FoundReference(Scheme.QRR, qrr)


@given(st.data(), qrrs)
def test_a_qrr_with_one_digit_wrong_is_never_accepted(data: st.DataObject, qrr: str) -> None:
    at = data.draw(st.integers(0, len(qrr) - 1))
    digit = data.draw(st.sampled_from([d for d in DIGITS if d != qrr[at]]))
    typo = qrr[:at] + digit + qrr[at + 1 :]
    assert not esr.is_valid(typo)
    assert find_qrr(f"Zahlung {typo}") == []
    assert parse_reference(typo) != FoundReference(Scheme.QRR, typo)


# --- invoice numbers ------------------------------------------------------------------------

prefixes = st.text(alphabet="ABCDEFGHIJKLMNPQRSTUVWXYZ", min_size=1, max_size=4)
groups = st.lists(st.integers(0, 10**6), min_size=1, max_size=3)


@st.composite
def _retyped(draw: st.DrawFn) -> tuple[str, str]:
    """An invoice number and the same number as a payer retyped it."""
    prefix, numbers = draw(prefixes), draw(groups)
    widths = [draw(st.integers(len(str(n)), 8)) for n in numbers]
    printed = "-".join([prefix, *(f"{n:0{w}d}" for n, w in zip(numbers, widths, strict=True))])
    separator = draw(st.sampled_from([" ", "-", "/", ".", " - ", "\n"]))
    parts = [
        prefix,
        *(
            str(n) if draw(st.booleans()) else f"{n:0{w}d}"
            for n, w in zip(numbers, widths, strict=True)
        ),
    ]
    typed = separator.join(parts)
    if draw(st.booleans()):
        typed = typed.lower()
    if draw(st.booleans()):
        typed = typed.replace("0", draw(st.sampled_from(["O", "o"])))
    return printed, typed


@given(_retyped())
def test_an_invoice_number_retyped_gives_the_same_key(case: tuple[str, str]) -> None:
    printed, typed = case
    key = normalise_invoice_number(printed)
    assert normalise_invoice_number(typed) == key
    assert normalise_invoice_number(key) == key
    assert any(window.key == key for window in number_windows(f"Rechnung {typed} danke", 6))


@given(st.text())
def test_compact_invoice_number_is_idempotent_and_ignores_separators(text: str) -> None:
    compact = compact_invoice_number(text)
    assert compact_invoice_number(compact) == compact
    assert compact_invoice_number(" - ".join(text.split())) == compact
    assert "O" not in compact


@given(st.text(alphabet=DIGITS, min_size=3, max_size=23))
def test_the_fast_path_for_compact_rf_agrees_with_the_general_check(digits: str) -> None:
    candidate = f"RF{digits}"
    found = parse_reference(candidate)
    assert (found is not None and found.scheme is Scheme.RF) == iso11649.is_valid(candidate)
    assert parse_reference(f" {candidate} ") == found

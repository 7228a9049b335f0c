"""Returns and chargebacks: which debits are returns, and which booked credit each undoes."""

from __future__ import annotations

from datetime import date

import pytest

from paydue.domain.returns import (
    BookedCredit,
    ReturnLine,
    ReturnMatch,
    ReturnRule,
    ReturnUnmatched,
    match_return,
    return_marker,
)

IBAN = "DE02120300000000202051"
OTHER_IBAN = "NL91ABNA0417164300"


def credit(credit_id: str, amount: int = 5000, **fields: object) -> BookedCredit:
    values: dict[str, object] = {
        "line_id": f"sl_{credit_id}",
        "amount": amount,
        "currency": "EUR",
        "booking_date": date(2026, 11, 2),
        "counterparty_iban": IBAN,
    }
    values.update(fields)
    return BookedCredit(credit_id=credit_id, **values)  # type: ignore[arg-type]


def returned(amount: int = -5000, **fields: object) -> ReturnLine:
    values: dict[str, object] = {
        "currency": "EUR",
        "booking_date": date(2026, 11, 9),
        "reason": "AM04",
        "counterparty_iban": IBAN,
    }
    values.update(fields)
    return ReturnLine(amount=amount, **values)  # type: ignore[arg-type]


# --- which debits are returns ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "marker"),
    [
        ({"return_reason": "AC04"}, "AC04"),
        ({"return_reason": " MD06 "}, "MD06"),
        ({"is_reversal": True}, "reversal"),
        ({"bank_transaction_code": "PMNT-RCDT-RRTN"}, "PMNT-RCDT-RRTN"),
        ({"bank_transaction_code": "PMNT-RDDT-UPDD"}, "PMNT-RDDT-UPDD"),
        ({"bank_transaction_code": "109"}, "109"),
        ({"bank_transaction_code": "NRTI"}, "NRTI"),
        ({"texts": ("Chargeback card payment 4711",)}, "chargeback"),
        ({"texts": (None, "RUECKLASTSCHRIFT Vertrag 12")}, "chargeback"),
    ],
)
def test_a_debit_with_a_return_reason_code_or_marker_is_a_return(
    fields: dict[str, object], marker: str
) -> None:
    assert return_marker(amount=-100, **fields) == marker  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"bank_transaction_code": "PMNT-ICDT-ESCT"},
        {"bank_transaction_code": "NTRF"},
        {"texts": ("Miete November", "backorder charges")},
    ],
)
def test_an_ordinary_debit_is_not_a_return(fields: dict[str, object]) -> None:
    assert return_marker(amount=-100, **fields) is None  # type: ignore[arg-type]


def test_a_credit_is_never_a_return_even_with_a_reason_code() -> None:
    assert return_marker(amount=100, return_reason="AC04", is_reversal=True) is None


# --- which credit a return undoes --------------------------------------------------------------


def test_the_end_to_end_id_finds_the_credit_among_same_amount_credits_of_the_same_iban() -> None:
    credits = [credit("cr_a", end_to_end_id="E2E-A"), credit("cr_b", end_to_end_id="E2E-B")]
    decision = match_return(returned(end_to_end_id="E2E-B"), credits)
    assert isinstance(decision, ReturnMatch)
    assert (decision.credit.credit_id, decision.rule) == ("cr_b", ReturnRule.END_TO_END_ID)
    assert "AM04" in decision.explanation


def test_the_original_structured_reference_finds_the_credit() -> None:
    credits = [
        credit("cr_a", structured_reference="RF18 5390 0754 7034"),
        credit("cr_b", structured_reference="RF71 0000 0000 0000 1"),
    ]
    decision = match_return(returned(structured_reference="RF185390 07547034"), credits)
    assert isinstance(decision, ReturnMatch)
    assert (decision.credit.credit_id, decision.rule) == ("cr_a", ReturnRule.ORIGINAL_REFERENCE)


def test_the_credit_bank_reference_named_in_the_return_text_finds_the_credit() -> None:
    credits = [credit("cr_a", bank_reference="BANKREF-0001"), credit("cr_b", bank_reference="X2")]
    line = returned(remittance_text="Rueckueberweisung zu BANKREF-0001 Konto erloschen")
    decision = match_return(line, credits)
    assert isinstance(decision, ReturnMatch)
    assert decision.credit.credit_id == "cr_a"


def test_the_only_credit_of_that_amount_from_the_same_iban_is_found() -> None:
    credits = [credit("cr_a"), credit("cr_b", counterparty_iban=OTHER_IBAN)]
    decision = match_return(returned(), credits)
    assert isinstance(decision, ReturnMatch)
    assert (decision.credit.credit_id, decision.rule) == ("cr_a", ReturnRule.AMOUNT_AND_IBAN)


def test_two_credits_of_that_amount_from_the_same_iban_decide_nothing() -> None:
    decision = match_return(returned(), [credit("cr_a"), credit("cr_b")])
    assert isinstance(decision, ReturnUnmatched)
    assert "2 credits" in decision.reason
    assert {c.credit_id for c in decision.candidates} == {"cr_a", "cr_b"}


def test_two_credits_with_the_same_end_to_end_id_decide_nothing_and_stop_weaker_rules() -> None:
    credits = [
        credit("cr_a", end_to_end_id="E2E"),
        credit("cr_b", end_to_end_id="E2E", counterparty_iban=OTHER_IBAN),
    ]
    decision = match_return(returned(end_to_end_id="E2E"), credits)
    assert isinstance(decision, ReturnUnmatched)
    assert "end_to_end_id" in decision.reason


@pytest.mark.parametrize(
    "other",
    [
        {"amount": 4999},
        {"currency": "CHF"},
        {"booking_date": date(2026, 11, 10)},
    ],
    ids=["other amount", "other currency", "booked after the return"],
)
def test_only_credits_of_the_same_amount_and_currency_booked_before_can_be_returned(
    other: dict[str, object],
) -> None:
    decision = match_return(
        returned(end_to_end_id="E2E"), [credit("cr_a", end_to_end_id="E2E", **other)]
    )
    assert isinstance(decision, ReturnUnmatched)
    assert "no booked credit" in decision.reason


def test_a_return_that_carries_nothing_known_matches_nothing() -> None:
    line = returned(counterparty_iban="", end_to_end_id="UNKNOWN")
    decision = match_return(line, [credit("cr_a", end_to_end_id="E2E")])
    assert isinstance(decision, ReturnUnmatched)
    assert [c.credit_id for c in decision.candidates] == ["cr_a"]

"""Provider payouts: totals, the simulator's fee and grouping, and which payout a bank credit
is (``domain.payouts``)."""

from __future__ import annotations

from datetime import date

import pytest

from paydue.domain.errors import InvalidInput
from paydue.domain.matching import CreditLine
from paydue.domain.payouts import (
    PaidPayment,
    PayoutCandidate,
    PayoutDifference,
    PayoutItem,
    PayoutSettles,
    group_for_payout,
    match_payout,
    simulated_fee,
    totals,
)

PAYOUT = PayoutCandidate("po_1", "simulator", "PO-2026-11-19-0001", 14740, "EUR")


def line(amount: int = 14740, **texts: str) -> CreditLine:
    return CreditLine(amount=amount, currency="EUR", booking_date=date(2026, 11, 20), **texts)


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(10000, 165), (5000, 95), (2000, 53), (1, 1), (25, 25), (36, 26), (107, 26), (108, 27)],
)
def test_the_simulated_fee_is_1_4_percent_rounded_half_up_plus_25_never_over_the_amount(
    amount: int, fee: int
) -> None:
    assert simulated_fee(amount) == fee


def test_totals_are_gross_fees_and_net() -> None:
    assert totals([PayoutItem("pay_a", 10000, 165), PayoutItem("pay_b", 5000, 95)]) == (
        totals([PayoutItem("pay_b", 5000, 95), PayoutItem("pay_a", 10000, 165)])
    )
    t = totals([PayoutItem("pay_a", 10000, 165), PayoutItem("pay_b", 5000, 95)])
    assert (t.gross, t.fees, t.net) == (15000, 260, 14740)


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([], "payout_empty"),
        ([PayoutItem("pay_a", 100, 1), PayoutItem("pay_a", 100, 1)], "payout_payment_repeated"),
        ([PayoutItem("pay_a", 100, 101)], "payout_invalid_fee"),
        ([PayoutItem("pay_a", 100, -1)], "payout_invalid_fee"),
        ([PayoutItem("pay_a", 0, 0)], "payout_invalid_amount"),
        ([PayoutItem("pay_a", 100, 100)], "invalid_request"),
    ],
)
def test_totals_refuse_what_is_no_payout(items: list[PayoutItem], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        totals(items)
    assert refused.value.code == code


def test_the_simulator_groups_per_currency_in_id_order() -> None:
    groups = group_for_payout(
        [
            PaidPayment("pay_b", 5000, "EUR"),
            PaidPayment("pay_c", 3000, "CHF"),
            PaidPayment("pay_a", 10000, "EUR"),
        ]
    )
    assert list(groups) == ["CHF", "EUR"]
    assert groups["EUR"] == [PayoutItem("pay_a", 10000, 165), PayoutItem("pay_b", 5000, 95)]
    assert group_for_payout([PaidPayment("pay_x", 20, "EUR")]) == {}  # the fee takes it all


@pytest.mark.parametrize(
    "texts",
    [
        {"remittance_text": "Auszahlung PO-2026-11-19-0001 vom 19.11."},
        {"remittance_text": "auszahlung po 2026 11\n19 0001"},  # case, spaces, line breaks
        {"end_to_end_id": "PO-2026-11-19-0001"},
        {"structured_reference": "PO2026111900 01"},
    ],
)
def test_a_line_with_the_reference_and_the_net_amount_settles_the_payout(
    texts: dict[str, str],
) -> None:
    decision = match_payout(line(**texts), [PAYOUT])
    assert isinstance(decision, PayoutSettles)
    assert decision.payout == PAYOUT


def test_a_line_without_a_payout_reference_is_no_payout() -> None:
    assert match_payout(line(remittance_text="Rechnung 2026-0001"), [PAYOUT]) is None
    assert match_payout(line(remittance_text="PO-2026-11-19-0001"), []) is None


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (14700, "EUR", "-0.40 EUR unexplained"),
        (14790, "EUR", "+0.50 EUR"),
        (14740, "CHF", "in CHF"),
    ],
)
def test_a_line_with_the_reference_and_another_amount_is_a_difference(
    amount: int, currency: str, expected: str
) -> None:
    credit = CreditLine(
        amount=amount,
        currency=currency,
        booking_date=date(2026, 11, 20),
        remittance_text="PO-2026-11-19-0001",
    )
    decision = match_payout(credit, [PAYOUT])
    assert isinstance(decision, PayoutDifference)
    assert decision.payouts == (PAYOUT,)
    assert expected in decision.explanation


def test_a_settled_payout_named_again_is_a_difference_not_a_settlement() -> None:
    settled = PayoutCandidate("po_1", "simulator", "PO-2026-11-19-0001", 14740, "EUR", "settled")
    decision = match_payout(line(remittance_text="PO-2026-11-19-0001"), [settled])
    assert isinstance(decision, PayoutDifference)
    assert "settled already" in decision.explanation


def test_two_payouts_named_in_one_line_are_for_a_person() -> None:
    other = PayoutCandidate("po_2", "simulator", "PO-2026-11-19-0002", 500, "EUR")
    decision = match_payout(
        line(remittance_text="PO-2026-11-19-0001 PO-2026-11-19-0002"), [PAYOUT, other]
    )
    assert isinstance(decision, PayoutDifference)
    assert decision.payouts == (PAYOUT, other)  # the one of this amount first


def test_a_reference_inside_a_longer_one_does_not_count() -> None:
    short = PayoutCandidate("po_2", "simulator", "PO-2026-11-19-000", 999, "EUR")
    decision = match_payout(line(remittance_text="PO-2026-11-19-0001"), [short, PAYOUT])
    assert isinstance(decision, PayoutSettles)
    assert decision.payout == PAYOUT


def test_a_short_reference_is_matched_only_as_the_whole_end_to_end_id() -> None:
    short = PayoutCandidate("po_3", "acme", "P-12", 14740, "EUR")
    assert match_payout(line(remittance_text="Invoice P-12345"), [short]) is None
    assert isinstance(match_payout(line(end_to_end_id="p12"), [short]), PayoutSettles)

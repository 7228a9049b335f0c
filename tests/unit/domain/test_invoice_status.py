"""Invoice status is derived from the money allocated; overdue is a calendar flag on top."""

from __future__ import annotations

from datetime import date

import pytest

from paydue.domain.errors import Conflict
from paydue.domain.invoices import (
    InvoiceStatus,
    amount_due,
    badge_state,
    check_allocatable,
    check_cancellable,
    derive_status,
    is_overdue,
    status_event,
)

S = InvoiceStatus


@pytest.mark.parametrize(
    ("amount", "paid", "cancelled", "status"),
    [
        (10000, 0, False, S.OPEN),
        (10000, 1, False, S.PARTIALLY_PAID),
        (10000, 9999, False, S.PARTIALLY_PAID),
        (10000, 10000, False, S.PAID),
        (10000, 10001, False, S.OVERPAID),
        (10000, 0, True, S.CANCELLED),
        (10000, 4000, True, S.CANCELLED),
        (10000, 10000, True, S.CANCELLED),
        (10000, -500, False, S.OPEN),  # a returned payment never makes the status negative
    ],
)
def test_status_follows_from_amount_and_allocations(
    amount: int, paid: int, cancelled: bool, status: InvoiceStatus
) -> None:
    assert derive_status(amount, paid, cancelled=cancelled) is status


DUE = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("status", "today", "overdue"),
    [
        (S.OPEN, date(2026, 11, 30), False),
        (S.OPEN, DUE, False),  # payable through the whole due date
        (S.OPEN, date(2026, 12, 2), True),
        (S.PARTIALLY_PAID, date(2026, 12, 2), True),
        (S.PAID, date(2027, 6, 1), False),
        (S.OVERPAID, date(2027, 6, 1), False),
        (S.CANCELLED, date(2027, 6, 1), False),
    ],
)
def test_overdue_is_unpaid_after_the_due_date(
    status: InvoiceStatus, today: date, overdue: bool
) -> None:
    assert is_overdue(status, DUE, today) is overdue


@pytest.mark.parametrize(("amount", "paid", "due"), [(100, 0, 100), (100, 40, 60), (100, 130, 0)])
def test_amount_due_never_goes_below_zero(amount: int, paid: int, due: int) -> None:
    assert amount_due(amount, paid) == due


@pytest.mark.parametrize("status", [S.OPEN, S.PARTIALLY_PAID])
def test_unpaid_invoices_can_be_cancelled(status: InvoiceStatus) -> None:
    assert check_cancellable(status) is True


def test_cancelling_a_cancelled_invoice_is_a_no_op() -> None:
    assert check_cancellable(S.CANCELLED) is False


@pytest.mark.parametrize("status", [S.PAID, S.OVERPAID])
def test_settled_invoices_cannot_be_cancelled(status: InvoiceStatus) -> None:
    with pytest.raises(Conflict, match="refund") as raised:
        check_cancellable(status)
    assert raised.value.code == "invoice_not_cancellable"
    assert raised.value.status == 409


@pytest.mark.parametrize("status", [S.OPEN, S.PARTIALLY_PAID, S.PAID, S.OVERPAID])
def test_money_can_be_applied_to_any_invoice_but_a_cancelled_one(status: InvoiceStatus) -> None:
    check_allocatable(status)
    with pytest.raises(Conflict) as raised:
        check_allocatable(S.CANCELLED)
    assert raised.value.code == "invoice_cancelled"


@pytest.mark.parametrize(
    ("status", "overdue", "state"),
    [
        (S.OPEN, False, "open"),
        (S.OPEN, True, "overdue"),
        (S.PARTIALLY_PAID, False, "partially_paid"),
        (S.PARTIALLY_PAID, True, "overdue"),
        (S.PAID, False, "paid"),
        (S.OVERPAID, False, "overpaid"),
        (S.CANCELLED, False, "cancelled"),
    ],
)
def test_badge_state_shows_overdue_over_the_unpaid_status(
    status: InvoiceStatus, overdue: bool, state: str
) -> None:
    assert badge_state(status, overdue) == state


def test_a_status_change_is_an_event_and_no_change_is_none() -> None:
    assert status_event(S.OPEN, S.PARTIALLY_PAID) == "invoice.partially_paid"
    assert status_event(S.PARTIALLY_PAID, S.PAID) == "invoice.paid"
    assert status_event(S.PAID, S.OPEN) == "invoice.open"
    for status in S:
        assert status_event(status, status) is None

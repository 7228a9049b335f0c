"""Invoice status, derived from the money allocated to the invoice.

An invoice never stores "paid" as a decision: its status follows from its amount, the sum of its
allocations and whether it was cancelled. ``overdue`` is a flag on top of an unpaid status, not a
status of its own, because it changes with the calendar, not with anything that happens.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from paydue.domain.errors import Conflict


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERPAID = "overpaid"
    CANCELLED = "cancelled"


UNPAID = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID})
SETTLED = frozenset({InvoiceStatus.PAID, InvoiceStatus.OVERPAID})


def derive_status(amount: int, amount_paid: int, *, cancelled: bool) -> InvoiceStatus:
    """The status of an invoice of ``amount`` with ``amount_paid`` allocated to it."""
    if cancelled:
        return InvoiceStatus.CANCELLED
    if amount_paid <= 0:
        return InvoiceStatus.OPEN
    if amount_paid < amount:
        return InvoiceStatus.PARTIALLY_PAID
    if amount_paid == amount:
        return InvoiceStatus.PAID
    return InvoiceStatus.OVERPAID


def is_overdue(status: InvoiceStatus, due_date: date, today: date) -> bool:
    """Unpaid after its due date (``today`` is the date in the issuer's timezone)."""
    return status in UNPAID and today > due_date


def amount_due(amount: int, amount_paid: int) -> int:
    return max(amount - amount_paid, 0)


def outstanding(status: InvoiceStatus, amount: int, amount_paid: int) -> int:
    """What the payer still owes: nothing on a cancelled invoice."""
    return 0 if status == InvoiceStatus.CANCELLED else amount_due(amount, amount_paid)


def check_cancellable(status: InvoiceStatus) -> bool:
    """True when cancelling changes something; False when already cancelled (a no-op).

    Raises ``Conflict`` for a settled invoice: paid money is undone through a refund, not a
    cancellation.
    """
    if status == InvoiceStatus.CANCELLED:
        return False
    if status in SETTLED:
        raise Conflict(
            f"an invoice that is {status.value} cannot be cancelled; refund it instead",
            code="invoice_not_cancellable",
        )
    return True


def check_allocatable(status: InvoiceStatus) -> None:
    """Money can be applied to any invoice but a cancelled one."""
    if status == InvoiceStatus.CANCELLED:
        raise Conflict("the invoice is cancelled; it takes no payments", code="invoice_cancelled")


def badge_state(status: InvoiceStatus, overdue: bool) -> str:
    """The state the status icon shows: an unpaid invoice past its due date is overdue."""
    if overdue:
        return "overdue"
    return status.value


def status_event(previous: InvoiceStatus, current: InvoiceStatus) -> str | None:
    """The event type for a change of invoice status, or None when nothing changed."""
    if previous == current:
        return None
    return f"invoice.{current.value}"

"""Money received for invoices: credits, their allocations, and reversals.

Every function locks the invoices it touches (in id order, so concurrent credits never deadlock),
derives their status again from the allocations and records the events, all in the caller's
unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.invoices import (
    UNPAID,
    InvoiceStatus,
    amount_due,
    check_allocatable,
    derive_status,
    status_event,
)
from paydue.domain.money import MoneyError, check_amount, check_currency
from paydue.services.ids import new_id
from paydue.services.invoices import get_invoice, invoice_resource, issuer_today
from paydue.services.links import PublicLinks


def allocate_credit(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    invoice_id: str,
    *,
    amount: int,
    currency: str,
    received_on: date,
    source: str,
    note: str | None,
) -> tuple[str, Invoice]:
    """Book money received for one invoice: a credit, its allocation, the derived status and the
    events. The invoice row is locked, so concurrent credits add up instead of overwriting."""
    credit_id, [updated] = allocate_credit_split(
        uow,
        links,
        issuer,
        [(invoice_id, amount)],
        currency=currency,
        received_on=received_on,
        source=source,
        note=note,
    )
    return credit_id, updated


def _lock_invoices(
    uow: UnitOfWork, issuer_id: str, invoice_ids: Sequence[str]
) -> dict[str, Invoice]:
    """Lock the invoice rows in id order (two transactions locking overlapping sets in the same
    order cannot deadlock); raises ``NotFound`` naming the first unknown id."""
    return {i: get_invoice(uow, issuer_id, i, for_update=True) for i in sorted(set(invoice_ids))}


def allocate_credit_split(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    parts: Sequence[tuple[str, int]],
    *,
    currency: str,
    received_on: date,
    source: str,
    note: str | None,
    expected_due: Mapping[str, int] | None = None,
) -> tuple[str, list[Invoice]]:
    """Book one credit of ``sum(amounts)`` split over invoices: ``parts`` is (invoice id,
    amount) per invoice. Every invoice is locked and checked before anything is written, so a
    refusal (unknown or cancelled invoice, other currency) leaves nothing behind. Returns the
    credit id and the updated invoices in the order of ``parts``.

    ``expected_due`` (invoice id → amount due) is what an automatic decision was based on: when
    a locked invoice owes something else now (a concurrent payment), the booking is refused
    with ``Conflict`` rather than made on stale numbers."""
    invoice_ids = [invoice_id for invoice_id, _ in parts]
    if not parts:
        raise InvalidInput("allocate the credit to at least one invoice")
    if len(set(invoice_ids)) != len(invoice_ids):
        raise InvalidInput("an invoice appears more than once in the allocation")
    try:
        check_currency(currency)
        for _, amount in parts:
            check_amount(amount)
    except MoneyError as exc:
        raise InvalidInput(str(exc)) from exc
    locked = _lock_invoices(uow, issuer.id, invoice_ids)
    for invoice in locked.values():
        check_allocatable(invoice.status)
        if expected_due is not None and invoice.id in expected_due:
            due_now = amount_due(invoice.amount, invoice.amount_paid)
            if due_now != expected_due[invoice.id]:
                raise Conflict(
                    f"invoice {invoice.number} owes {due_now} now, not "
                    f"{expected_due[invoice.id]}: it changed since the decision",
                    code="invoice_changed",
                )
        if currency != invoice.currency:
            raise InvalidInput(
                f"the payment is in {currency} but the invoice is in {invoice.currency}",
                code="currency_mismatch",
            )
    now = uow.now()
    credit_id = new_id("cr")
    uow.invoices.add_credit(
        {
            "issuer_id": issuer.id,
            "id": credit_id,
            "source": source,
            "amount": sum(amount for _, amount in parts),
            "currency": currency,
            "received_on": received_on,
            "note": note,
            "created_at": now,
        }
    )
    uow.record(
        issuer.id,
        ev.Event(
            ev.CREDIT_RECEIVED,
            credit_id,
            {
                "id": credit_id,
                "object": "credit",
                "source": source,
                "amount": sum(amount for _, amount in parts),
                "currency": currency,
                "received_on": received_on.isoformat(),
                "note": note,
                "invoice_id": invoice_ids[0] if len(parts) == 1 else None,
                "allocations": [{"invoice_id": i, "amount": a} for i, a in parts],
            },
        ),
    )
    return credit_id, [
        _apply_allocation(uow, links, issuer, locked[invoice_id], credit_id, amount, now)
        for invoice_id, amount in parts
    ]


def _apply_allocation(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    invoice: Invoice,
    credit_id: str,
    amount: int,
    now: datetime,
) -> Invoice:
    """Allocate ``amount`` (negative: reverse) of a credit to a locked invoice; re-derive its
    status and record the status event when it changed."""
    uow.invoices.add_allocation(
        {
            "issuer_id": issuer.id,
            "id": new_id("al"),
            "credit_id": credit_id,
            "invoice_id": invoice.id,
            "amount": amount,
            "created_at": now,
        }
    )
    paid = invoice.amount_paid + amount
    cancelled = invoice.status == InvoiceStatus.CANCELLED
    status = derive_status(invoice.amount, paid, cancelled=cancelled)
    uow.invoices.set_paid_state(issuer.id, invoice.id, amount_paid=paid, status=status, now=now)
    # What the update wrote, without reading the row back.
    updated = replace(invoice, amount_paid=paid, status=status, updated_at=now)
    changed = status_event(invoice.status, status)
    if changed is not None:
        resource = invoice_resource(updated, links, issuer_today(issuer, now))
        uow.record(issuer.id, ev.Event(changed, invoice.id, resource))
    if invoice.status not in UNPAID and status in UNPAID:
        # paid, then a payment was returned: the collections sweep follows it up again
        uow.collections.look_again(issuer.id, now, invoice_ids=[invoice.id])
    return updated


def reverse_credit(
    uow: UnitOfWork, links: PublicLinks, issuer: Issuer, credit_id: str, *, reason: str
) -> list[tuple[Invoice, int]]:
    """Take back what a credit paid: every allocation gets a reversing (negative) allocation
    under the invoice row lock, ``amount_paid`` drops, the status is derived again (an
    ``invoice.open`` / ``invoice.partially_paid`` event when it changes) and a
    ``credit.reversed`` event is recorded. Allocations are never deleted, so the history stays.
    Returns each invoice as it is now with the amount taken back from it.

    A credit reversed already is refused; what is left to reverse is read again under the
    invoice locks, so two reversals of one credit at once reverse it once."""
    parts = uow.invoices.allocations_of_credit(issuer.id, credit_id)
    if not parts:
        raise NotFound(f"no credit {credit_id!r}", code="credit_not_found")
    locked = _lock_invoices(uow, issuer.id, [invoice_id for invoice_id, _ in parts])
    parts = uow.invoices.allocations_of_credit(issuer.id, credit_id)
    remaining = {i: a for i, a in parts if a != 0}
    if not remaining:
        raise Conflict(f"credit {credit_id!r} was reversed already", code="credit_reversed")
    now = uow.now()
    uow.record(
        issuer.id,
        ev.Event(
            ev.CREDIT_REVERSED,
            credit_id,
            {
                "id": credit_id,
                "object": "credit",
                "reason": reason,
                "allocations": [{"invoice_id": i, "amount": a} for i, a in remaining.items()],
            },
        ),
    )
    return [
        (_apply_allocation(uow, links, issuer, locked[invoice_id], credit_id, -amount, now), amount)
        for invoice_id, amount in remaining.items()
    ]

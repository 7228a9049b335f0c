"""Invoice use cases: create (one or a batch), read, list, cancel. Money received is in
``services.credits``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from paydue.adapters.db.records import Invoice, Issuer, Payer
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.invoices import (
    InvoiceStatus,
    check_cancellable,
    is_overdue,
    outstanding,
)
from paydue.domain.money import MoneyError, check_amount, check_currency
from paydue.domain.references import rf_for_sequence
from paydue.services.ids import hash_token, new_ids
from paydue.services.links import PublicLinks
from paydue.services.policies import enrol_invoices

MAX_BATCH = 10_000
OPEN = InvoiceStatus.OPEN.value


@dataclass(frozen=True, slots=True)
class NewPayer:
    ref: str
    name: str
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None
    address: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewInvoice:
    number: str
    payer: NewPayer
    amount: int
    currency: str
    issue_date: date
    due_date: date
    description: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(slots=True)
class ItemError:
    index: int
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "message": self.message,
            "code": self.code,
        }


@dataclass(slots=True)
class BatchErrors:
    errors: list[ItemError] = field(default_factory=list)

    def add(self, index: int, field_name: str, message: str, code: str = "invalid") -> None:
        self.errors.append(ItemError(index, field_name, message, code))


def issuer_today(issuer: Issuer, now: datetime) -> date:
    """Today's date where the issuer is: due dates are dates in the issuer's timezone."""
    return now.astimezone(ZoneInfo(issuer.timezone)).date()


def invoice_resource(invoice: Invoice, links: PublicLinks, today: date) -> dict[str, Any]:
    """The public representation of an invoice: API responses, events and webhooks use it."""
    return {
        "id": invoice.id,
        "object": "invoice",
        "number": invoice.number,
        "status": invoice.status.value,
        "overdue": is_overdue(invoice.status, invoice.due_date, today),
        "amount": invoice.amount,
        "amount_paid": invoice.amount_paid,
        "amount_due": outstanding(invoice.status, invoice.amount, invoice.amount_paid),
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "description": invoice.description,
        "tags": list(invoice.tags),
        "reference": invoice.reference,
        "payer": {
            "ref": invoice.payer.ref,
            "name": invoice.payer.name,
            "email": invoice.payer.email,
            "phone": invoice.payer.phone,
            "language": invoice.payer.language,
            "timezone": invoice.payer.timezone,
            "address": invoice.payer.address,
        },
        "pay_url": links.invoice_pay_url(invoice.id),
        "badge_url": links.badge_url(invoice.id),
        "created_at": invoice.created_at.isoformat(),
        "updated_at": invoice.updated_at.isoformat(),
        "cancelled_at": invoice.cancelled_at.isoformat() if invoice.cancelled_at else None,
    }


def _check_items(items: Sequence[NewInvoice]) -> BatchErrors:
    problems = BatchErrors()
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            check_currency(item.currency)
        except MoneyError as exc:
            problems.add(i, "currency", str(exc))
        try:
            check_amount(item.amount)
        except MoneyError as exc:
            problems.add(i, "amount", str(exc))
        if item.due_date < item.issue_date:
            problems.add(i, "due_date", "due_date is before issue_date")
        if item.number in seen:
            problems.add(
                i, "number", f"number {item.number!r} repeats item {seen[item.number]}", "duplicate"
            )
        else:
            seen[item.number] = i
    return problems


def _existing_numbers(
    uow: UnitOfWork, issuer_id: str, items: Sequence[NewInvoice]
) -> list[ItemError]:
    existing = uow.invoices.existing_numbers(issuer_id, [i.number for i in items])
    return [
        ItemError(i, "number", f"an invoice numbered {it.number!r} exists already", "duplicate")
        for i, it in enumerate(items)
        if it.number in existing
    ]


def check_invoices(uow: UnitOfWork, issuer_id: str, items: Sequence[NewInvoice]) -> list[ItemError]:
    """Every problem ``create_invoices`` would refuse ``items`` for, in item order, without
    creating anything: bad amounts and currencies, dates, numbers repeated within ``items`` or
    taken already. Any number of items (importers check a whole file before the first batch)."""
    problems = _check_items(items).errors + _existing_numbers(uow, issuer_id, items)
    return sorted(problems, key=lambda e: e.index)


def _refusal(what: str, errors: Sequence[ItemError], total: int) -> str:
    """The message of a refused request: how many items, and the first problem by name."""
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (
        f"{len({e.index for e in errors})} of {total} invoices {what}, nothing was created: "
        f"item {first.index}: {first.field}: {first.message}{more}"
    )


def create_invoices(
    uow: UnitOfWork, links: PublicLinks, issuer: Issuer, items: Sequence[NewInvoice]
) -> list[Invoice]:
    """Create invoices all-or-nothing: each gets an RF reference, its own pay link and badge
    token, and an ``invoice.created`` event. Raises with a per-item error list when any is bad."""
    return _create(uow, links, issuer, items)[0]


def create_invoice_resources(
    uow: UnitOfWork, links: PublicLinks, issuer: Issuer, items: Sequence[NewInvoice]
) -> list[dict[str, Any]]:
    """``create_invoices``, answering with each invoice's public representation: the data of its
    ``invoice.created`` event, built once for the event and the answer."""
    return _create(uow, links, issuer, items)[1]


def _create(
    uow: UnitOfWork, links: PublicLinks, issuer: Issuer, items: Sequence[NewInvoice]
) -> tuple[list[Invoice], list[dict[str, Any]]]:
    if not items:
        raise InvalidInput("no invoices given")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} invoices per request, got {len(items)}")
    problems = _check_items(items).errors
    if any(e.code != "duplicate" for e in problems):
        raise InvalidInput(
            _refusal("are invalid", problems, len(items)),
            details=[e.as_dict() for e in problems],
        )
    # A number repeated within the request is the same conflict as one taken already.
    clashes = sorted(problems + _existing_numbers(uow, issuer.id, items), key=lambda e: e.index)
    if clashes:
        raise Conflict(
            _refusal("repeat a number or reuse an existing one", clashes, len(items)),
            code="duplicate_number",
            details=[e.as_dict() for e in clashes],
        )

    now = uow.now()
    today = issuer_today(issuer, now)
    payers_by_ref: dict[str, NewPayer] = {i.payer.ref: i.payer for i in items}
    payer_ids = uow.invoices.upsert_payers(
        issuer.id,
        [
            {
                "issuer_id": issuer.id,
                "id": payer_id,
                "ref": p.ref,
                "name": p.name,
                "email": p.email,
                "phone": p.phone,
                "language": p.language,
                "timezone": p.timezone,
                "address": p.address,
                "created_at": now,
                "updated_at": now,
            }
            for p, payer_id in zip(
                payers_by_ref.values(), new_ids("pyr", len(payers_by_ref)), strict=True
            )
        ],
    )
    payers = {
        p.ref: Payer(
            payer_ids[p.ref], p.ref, p.name, p.email, p.phone, p.language, p.timezone, p.address
        )
        for p in payers_by_ref.values()
    }
    first_ref = uow.issuers.reserve(issuer.id, "reference_seq", len(items))

    created: list[Invoice] = []
    resources: list[dict[str, Any]] = []
    events: list[ev.Event] = []
    link_rows: list[dict[str, Any]] = []
    invoice_ids = new_ids("inv", len(items))
    link_ids = new_ids("pl", len(items))

    def invoice_rows() -> Iterator[dict[str, Any]]:
        # A generator: on PostgreSQL each invoice row is on its way into the database while the
        # next invoice, its pay link, resource and event are being made.
        for offset, item in enumerate(items):
            invoice_id = invoice_ids[offset]
            invoice = Invoice(
                issuer_id=issuer.id,
                id=invoice_id,
                number=item.number,
                payer=payers[item.payer.ref],
                amount=item.amount,
                currency=item.currency,
                amount_paid=0,
                status=InvoiceStatus.OPEN,
                issue_date=item.issue_date,
                due_date=item.due_date,
                description=item.description,
                tags=item.tags,
                reference=rf_for_sequence(first_ref + offset),
                created_at=now,
                updated_at=now,
                cancelled_at=None,
            )
            resource = invoice_resource(invoice, links, today)
            created.append(invoice)
            resources.append(resource)
            events.append(ev.Event(ev.INVOICE_CREATED, invoice_id, resource))
            link_rows.append(
                {
                    "issuer_id": issuer.id,
                    "id": link_ids[offset],
                    "invoice_id": invoice_id,
                    "token_hash": hash_token(links.primary_pay_token(invoice_id)),
                    "is_primary": True,
                    "open_count": 0,
                    "failed_attempts": 0,
                    "tan_failures": 0,
                    "created_at": now,
                }
            )
            yield {
                "issuer_id": issuer.id,
                "id": invoice_id,
                "number": invoice.number,
                "payer_id": invoice.payer.id,
                "amount": invoice.amount,
                "currency": invoice.currency,
                "amount_paid": 0,
                "status": OPEN,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "description": invoice.description,
                "tags": list(invoice.tags) if invoice.tags else None,
                "reference": invoice.reference,
                "badge_token_hash": hash_token(links.badge_token(invoice_id)),
                "created_at": now,
                "updated_at": now,
            }

    uow.invoices.add_many(invoice_rows(), len(items))
    uow.pay_links.add_many(link_rows)
    uow.record_many(issuer.id, events)
    enrol_invoices(uow, issuer, created)
    return created, resources


def get_invoice(
    uow: UnitOfWork, issuer_id: str, invoice_id: str, *, for_update: bool = False
) -> Invoice:
    invoice = uow.invoices.get(issuer_id, invoice_id, for_update=for_update)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id!r}", code="invoice_not_found")
    return invoice


def cancel_invoice(uow: UnitOfWork, links: PublicLinks, issuer: Issuer, invoice_id: str) -> Invoice:
    """Cancel an unpaid invoice. Cancelling a cancelled invoice changes nothing."""
    invoice = get_invoice(uow, issuer.id, invoice_id, for_update=True)
    if not check_cancellable(invoice.status):
        return invoice
    now = uow.now()
    uow.invoices.set_paid_state(
        issuer.id,
        invoice.id,
        amount_paid=invoice.amount_paid,
        status=InvoiceStatus.CANCELLED,
        now=now,
        cancelled_at=now,
    )
    updated = get_invoice(uow, issuer.id, invoice_id)
    uow.record(
        issuer.id,
        ev.Event(
            ev.INVOICE_CANCELLED,
            invoice.id,
            invoice_resource(updated, links, issuer_today(issuer, now)),
        ),
    )
    return updated

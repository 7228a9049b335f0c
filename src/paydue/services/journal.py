"""The reconciliation journal: every booking reconciliation made, for the issuer's ERP.

Each booking writes its rows in the transaction that makes it: one row per invoice a credit was
allocated to (``bank_credit`` by a matching rule, ``manual_assignment`` by a person) or taken
back from (``reversal`` of an assignment, ``return`` by the bank), and one row per suspense item
opened. Amounts are signed minor units: what the invoice gained or lost, or the line's amount.
``GET /v1/reconciliation/journal?date=`` lists the rows of one day in the issuer's timezone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paydue.adapters.db.reconciliation import JournalRow
from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.services.ids import new_ids

BANK_CREDIT = "bank_credit"
MANUAL_ASSIGNMENT = "manual_assignment"
REVERSAL = "reversal"
RETURN = "return"
SUSPENSE_OPENED = "suspense_opened"
PAYOUT = "payout"  # a provider payout's bank credit (net) closed its clearing entry
PAYOUT_FEE = "payout_fee"  # the fees the provider kept from that payout

COLUMNS = (
    "id",
    "booked_at",
    "kind",
    "amount",
    "currency",
    "invoice_id",
    "invoice_number",
    "credit_id",
    "statement_line_id",
    "suspense_item_id",
    "rule",
    "actor",
    "detail",
)


def record(
    uow: UnitOfWork,
    issuer_id: str,
    kind: str,
    *,
    currency: str,
    parts: Sequence[tuple[Invoice | None, int]],
    credit_id: str | None = None,
    line_id: str | None = None,
    suspense_item_id: str | None = None,
    rule: str | None = None,
    actor: str | None = None,
    detail: str | None = None,
) -> None:
    """Write one journal row per (invoice or ``None``, signed amount) of ``parts``."""
    uow.statements.add_journal(
        rows(
            issuer_id,
            kind,
            uow.now(),
            currency=currency,
            parts=parts,
            credit_id=credit_id,
            line_id=line_id,
            suspense_item_id=suspense_item_id,
            rule=rule,
            actor=actor,
            detail=detail,
        )
    )


def rows(
    issuer_id: str,
    kind: str,
    now: datetime,
    *,
    currency: str,
    parts: Sequence[tuple[Invoice | None, int]],
    credit_id: str | None = None,
    line_id: str | None = None,
    suspense_item_id: str | None = None,
    rule: str | None = None,
    actor: str | None = None,
    detail: str | None = None,
) -> list[dict[str, Any]]:
    """The journal rows :func:`record` writes, for a caller that writes many at once."""
    ids = new_ids("jrn", len(parts))
    return [
        {
            "issuer_id": issuer_id,
            "id": entry_id,
            "kind": kind,
            "amount": amount,
            "currency": currency,
            "invoice_id": invoice.id if invoice else None,
            "invoice_number": invoice.number if invoice else None,
            "credit_id": credit_id,
            "line_id": line_id,
            "suspense_item_id": suspense_item_id,
            "rule": rule,
            "actor": actor,
            "detail": (detail or "")[:500] or None,
            "created_at": now,
        }
        for entry_id, (invoice, amount) in zip(ids, parts, strict=True)
    ]


def day_bounds(issuer: Issuer, day: date) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and the next day starts, in the issuer's timezone
    (23 or 25 hours apart on the days clocks change)."""
    zone = ZoneInfo(issuer.timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def entry_resource(row: JournalRow) -> dict[str, Any]:
    """The public representation of a journal row."""
    return {
        "id": row.id,
        "object": "journal_entry",
        "booked_at": row.created_at.isoformat(),
        "kind": row.kind,
        "amount": row.amount,
        "currency": row.currency,
        "invoice_id": row.invoice_id,
        "invoice_number": row.invoice_number,
        "credit_id": row.credit_id,
        "statement_line_id": row.line_id,
        "suspense_item_id": row.suspense_item_id,
        "rule": row.rule,
        "actor": row.actor,
        "detail": row.detail,
    }


def journal(uow: UnitOfWork, issuer: Issuer, day: date) -> list[dict[str, Any]]:
    """The issuer's journal of ``day``, in booking order (time, then id)."""
    start, end = day_bounds(issuer, day)
    return [entry_resource(row) for row in uow.statements.journal(issuer.id, start, end)]


def _cell(value: Any) -> Any:
    """A CSV field; text that a spreadsheet would run as a formula is quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(entries: Sequence[dict[str, Any]]) -> str:
    """Journal entries as CSV: a header row of :data:`COLUMNS`, then one row per entry; empty
    fields for missing values, amounts in minor units."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([_cell(entry[c]) for c in COLUMNS])
    return out.getvalue()

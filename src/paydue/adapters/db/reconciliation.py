"""Reconciliation queries: booked bank credits a return may undo, per-issuer settings and the
journal. Part of :class:`~paydue.adapters.db.statements.StatementRepository` (``uow.statements``).
Every query is scoped by issuer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.dialect import insert
from paydue.adapters.db.records import from_row
from paydue.adapters.db.tables import (
    allocations,
    reconciliation_journal,
    reconciliation_settings,
    statement_lines,
)


@dataclass(frozen=True, slots=True)
class BookedCreditRow:
    """A statement line whose credit is booked on invoices and not reversed."""

    line_id: str
    credit_id: str
    amount: int
    currency: str
    booking_date: date
    end_to_end_id: str | None
    bank_reference: str | None
    counterparty_iban: str | None
    structured_reference: str | None


@dataclass(frozen=True, slots=True)
class SettingsRow:
    issuer_id: str
    match_threshold: float | None
    csv_mapping: dict[str, Any] | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JournalRow:
    issuer_id: str
    id: str
    kind: str
    amount: int
    currency: str
    invoice_id: str | None
    invoice_number: str | None
    credit_id: str | None
    line_id: str | None
    suspense_item_id: str | None
    rule: str | None
    actor: str | None
    detail: str | None
    created_at: datetime


class ReconciliationQueries:
    conn: sa.Connection

    def booked_credits(self, issuer_id: str, amount: int, currency: str) -> list[BookedCreditRow]:
        """Credit lines of ``amount`` whose credit still pays something (net allocations not
        zero), automatic matches and manual assignments alike."""
        lines = statement_lines
        net = (
            sa.select(sa.func.coalesce(sa.func.sum(allocations.c.amount), 0))
            .where(
                allocations.c.issuer_id == lines.c.issuer_id,
                allocations.c.credit_id == lines.c.credit_id,
            )
            .scalar_subquery()
        )
        rows = self.conn.execute(
            sa.select(
                lines.c.id.label("line_id"),
                lines.c.credit_id,
                lines.c.amount,
                lines.c.currency,
                lines.c.booking_date,
                lines.c.end_to_end_id,
                lines.c.bank_reference,
                lines.c.counterparty_iban,
                lines.c.structured_reference,
            )
            .where(
                lines.c.issuer_id == issuer_id,
                lines.c.amount == amount,
                lines.c.currency == currency,
                lines.c.credit_id.is_not(None),
                net != 0,
            )
            .order_by(lines.c.id)
        )
        return [from_row(BookedCreditRow, r) for r in rows]

    # --- settings ---------------------------------------------------------------------------

    def get_settings(self, issuer_id: str) -> SettingsRow | None:
        row = self.conn.execute(
            sa.select(reconciliation_settings).where(
                reconciliation_settings.c.issuer_id == issuer_id
            )
        ).first()
        return from_row(SettingsRow, row) if row else None

    def put_settings(self, issuer_id: str, now: datetime, **values: Any) -> None:
        """Create or update the issuer's settings row with ``values`` (other columns kept)."""

        values["updated_at"] = now
        stmt = insert(self.conn, reconciliation_settings).values(issuer_id=issuer_id, **values)
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[reconciliation_settings.c.issuer_id], set_=values
            )
        )

    # --- journal ----------------------------------------------------------------------------

    def add_journal(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(sa.insert(reconciliation_journal), rows)

    def journal(self, issuer_id: str, start: datetime, end: datetime) -> list[JournalRow]:
        """Entries booked in ``[start, end)``, in booking order."""
        table = reconciliation_journal
        rows = self.conn.execute(
            sa.select(table)
            .where(
                table.c.issuer_id == issuer_id,
                table.c.created_at >= start,
                table.c.created_at < end,
            )
            .order_by(table.c.created_at, table.c.id)
        )
        return [from_row(JournalRow, r) for r in rows]

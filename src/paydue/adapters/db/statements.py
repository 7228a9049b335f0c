"""Imported bank statements, their lines, the suspense queue, learned payer IBANs and the audit
log; reconciliation settings and journal (``reconciliation.py``). Every query is scoped by
issuer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.dialect import insert
from paydue.adapters.db.reconciliation import ReconciliationQueries
from paydue.adapters.db.records import from_row
from paydue.adapters.db.tables import (
    audit_log,
    invoices,
    payer_ibans,
    payers,
    statement_lines,
    statements,
    suspense_items,
)
from paydue.domain.invoices import UNPAID


@dataclass(frozen=True, slots=True)
class StatementRecord:
    issuer_id: str
    id: str
    format: str
    account: str | None
    bank_statement_id: str | None
    file_sha256: str
    lines_total: int
    lines_matched: int
    lines_suspense: int
    lines_debit: int
    lines_duplicate: int
    lines_ignored: int
    lines_returned: int
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class LineRecord:
    issuer_id: str
    id: str
    statement_id: str
    position: int
    fingerprint: str
    booking_date: date
    value_date: date | None
    amount: int
    currency: str
    counterparty_name: str | None
    counterparty_iban: str | None
    counterparty_bic: str | None
    structured_reference: str | None
    remittance_text: str | None
    end_to_end_id: str | None
    bank_reference: str | None
    return_reason: str | None
    outcome: str
    rule: str | None
    confidence: float | None
    explanation: str | None
    credit_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SuspenseRecord:
    issuer_id: str
    id: str
    line_id: str
    status: str
    reason: str
    suggestions: list[dict[str, Any]]
    credit_id: str | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class OpenInvoiceRow:
    """The columns of an unpaid invoice that matching needs, and nothing else."""

    id: str
    payer_id: str
    payer_name: str
    number: str
    reference: str
    amount: int
    amount_paid: int
    currency: str
    due_date: date


class StatementRepository(ReconciliationQueries):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # --- statements and lines -------------------------------------------------------------

    def add_statement(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(statements), values)

    def delete_statement(self, issuer_id: str, statement_id: str) -> None:
        self.conn.execute(
            sa.delete(statements).where(
                statements.c.issuer_id == issuer_id, statements.c.id == statement_id
            )
        )

    def set_counts(self, issuer_id: str, statement_id: str, counts: dict[str, int]) -> None:
        self.conn.execute(
            sa.update(statements)
            .where(statements.c.issuer_id == issuer_id, statements.c.id == statement_id)
            .values(**counts)
        )

    def claim_lines(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert the lines whose fingerprint the issuer has not seen; returns the fingerprints
        inserted. A line inserted by a concurrent import that has not committed yet makes this
        wait for it, then counts as seen: the unique constraint decides, not a prior read."""
        if not rows:
            return set()
        stmt = (
            insert(self.conn, statement_lines)
            .on_conflict_do_nothing(
                index_elements=[statement_lines.c.issuer_id, statement_lines.c.fingerprint]
            )
            .returning(statement_lines.c.fingerprint)
        )
        claimed: set[str] = set()
        for start in range(0, len(rows), 500):
            chunk = list(rows[start : start + 500])
            claimed.update(self.conn.execute(stmt, chunk).scalars())
        return claimed

    def set_line_outcome(self, issuer_id: str, line_id: str, **values: Any) -> None:
        self.conn.execute(
            sa.update(statement_lines)
            .where(statement_lines.c.issuer_id == issuer_id, statement_lines.c.id == line_id)
            .values(**values)
        )

    def set_line_outcomes(self, issuer_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """:meth:`set_line_outcome` of many lines in one executemany: each row has the line's
        ``id`` and the same other keys."""
        if not rows:
            return
        keys = [key for key in rows[0] if key != "id"]
        self.conn.execute(
            sa.update(statement_lines)
            .where(
                statement_lines.c.issuer_id == sa.bindparam("b_issuer"),
                statement_lines.c.id == sa.bindparam("b_id"),
            )
            .values({key: sa.bindparam(f"b_{key}") for key in keys}),
            [
                {"b_issuer": issuer_id, "b_id": row["id"], **{f"b_{k}": row[k] for k in keys}}
                for row in rows
            ],
        )

    def get_statement(self, issuer_id: str, statement_id: str) -> StatementRecord | None:
        row = self.conn.execute(
            sa.select(statements).where(
                statements.c.issuer_id == issuer_id, statements.c.id == statement_id
            )
        ).first()
        return from_row(StatementRecord, row) if row else None

    def list_statements(
        self, issuer_id: str, *, after_id: str | None, limit: int
    ) -> list[StatementRecord]:
        stmt = sa.select(statements).where(statements.c.issuer_id == issuer_id)
        if after_id is not None:
            stmt = stmt.where(statements.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(statements.c.id).limit(limit))
        return [from_row(StatementRecord, r) for r in rows]

    def lines_of(self, issuer_id: str, statement_id: str) -> list[LineRecord]:
        rows = self.conn.execute(
            sa.select(statement_lines)
            .where(
                statement_lines.c.issuer_id == issuer_id,
                statement_lines.c.statement_id == statement_id,
            )
            .order_by(statement_lines.c.position)
        )
        return [from_row(LineRecord, r) for r in rows]

    def get_line(self, issuer_id: str, line_id: str) -> LineRecord | None:
        row = self.conn.execute(
            sa.select(statement_lines).where(
                statement_lines.c.issuer_id == issuer_id, statement_lines.c.id == line_id
            )
        ).first()
        return from_row(LineRecord, row) if row else None

    # --- matching inputs ------------------------------------------------------------------

    def open_invoices(
        self, issuer_id: str, *, ids: Sequence[str] | None = None
    ) -> list[OpenInvoiceRow]:
        """The issuer's open and partially paid invoices (of ``ids`` only, when given) with
        their payer's name, in one query of only the columns matching reads."""
        if ids is not None and not ids:
            return []
        stmt = (
            sa.select(
                invoices.c.id,
                invoices.c.payer_id,
                payers.c.name.label("payer_name"),
                invoices.c.number,
                invoices.c.reference,
                invoices.c.amount,
                invoices.c.amount_paid,
                invoices.c.currency,
                invoices.c.due_date,
            )
            .join(
                payers,
                sa.and_(
                    payers.c.issuer_id == invoices.c.issuer_id,
                    payers.c.id == invoices.c.payer_id,
                ),
            )
            .where(
                invoices.c.issuer_id == issuer_id,
                invoices.c.status.in_([s.value for s in UNPAID]),
            )
        )
        if ids is not None:
            stmt = stmt.where(invoices.c.id.in_(list(ids)))
        rows = self.conn.execute(stmt)
        return [from_row(OpenInvoiceRow, r) for r in rows]

    def payer_ibans(self, issuer_id: str) -> list[tuple[str, str]]:
        """(IBAN, payer id) facts learned for the issuer."""
        rows = self.conn.execute(
            sa.select(payer_ibans.c.iban, payer_ibans.c.payer_id).where(
                payer_ibans.c.issuer_id == issuer_id
            )
        )
        return [(r.iban, r.payer_id) for r in rows]

    def learn_ibans(self, rows: Sequence[dict[str, Any]]) -> None:
        """Remember (IBAN, payer) facts; one known already stays as it was."""
        if rows:
            stmt = insert(self.conn, payer_ibans).on_conflict_do_nothing(
                index_elements=[payer_ibans.c.issuer_id, payer_ibans.c.iban, payer_ibans.c.payer_id]
            )
            self.conn.execute(stmt, list(rows))

    def forget_ibans(self, issuer_id: str, learned_from: str) -> None:
        """Forget the facts a statement line taught."""
        self.conn.execute(
            sa.delete(payer_ibans).where(
                payer_ibans.c.issuer_id == issuer_id, payer_ibans.c.learned_from == learned_from
            )
        )

    # --- suspense ---------------------------------------------------------------------------

    def add_suspense(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(suspense_items), values)

    def get_suspense(
        self, issuer_id: str, item_id: str, *, for_update: bool = False
    ) -> SuspenseRecord | None:
        stmt = sa.select(suspense_items).where(
            suspense_items.c.issuer_id == issuer_id, suspense_items.c.id == item_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return from_row(SuspenseRecord, row) if row else None

    def list_suspense(
        self, issuer_id: str, *, statuses: Sequence[str] | None, after_id: str | None, limit: int
    ) -> list[SuspenseRecord]:
        stmt = sa.select(suspense_items).where(suspense_items.c.issuer_id == issuer_id)
        if statuses:
            stmt = stmt.where(suspense_items.c.status.in_(list(statuses)))
        if after_id is not None:
            stmt = stmt.where(suspense_items.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(suspense_items.c.id).limit(limit))
        return [from_row(SuspenseRecord, r) for r in rows]

    def update_suspense(self, issuer_id: str, item_id: str, **values: Any) -> None:
        self.conn.execute(
            sa.update(suspense_items)
            .where(suspense_items.c.issuer_id == issuer_id, suspense_items.c.id == item_id)
            .values(**values)
        )

    # --- audit ------------------------------------------------------------------------------

    def audit(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(audit_log), values)

    def audit_trail(self, issuer_id: str, subject_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            sa.select(audit_log)
            .where(audit_log.c.issuer_id == issuer_id, audit_log.c.subject_id == subject_id)
            .order_by(audit_log.c.id)
        )
        return [
            {
                "id": r.id,
                "actor": r.actor,
                "action": r.action,
                "details": r.details,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]

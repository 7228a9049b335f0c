"""Invoices, their payers, credits and allocations. Every query is scoped by issuer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from paydue.adapters.db.bulk import BULK_THRESHOLD, copy_rows, insert_rows
from paydue.adapters.db.dialect import insert
from paydue.adapters.db.records import Invoice, Payer
from paydue.adapters.db.tables import allocations, credits, invoices, payers
from paydue.domain.invoices import UNPAID, InvoiceStatus

_PAYER_UPDATABLE = ("name", "email", "phone", "language", "timezone", "address", "updated_at")

_SELECT = sa.select(
    invoices,
    payers.c.ref.label("payer_ref"),
    payers.c.name.label("payer_name"),
    payers.c.email.label("payer_email"),
    payers.c.phone.label("payer_phone"),
    payers.c.language.label("payer_language"),
    payers.c.timezone.label("payer_timezone"),
    payers.c.address.label("payer_address"),
).join(
    payers, sa.and_(payers.c.issuer_id == invoices.c.issuer_id, payers.c.id == invoices.c.payer_id)
)


def _invoice(row: Any) -> Invoice:
    return Invoice(
        issuer_id=row.issuer_id,
        id=row.id,
        number=row.number,
        payer=Payer(
            id=row.payer_id,
            ref=row.payer_ref,
            name=row.payer_name,
            email=row.payer_email,
            phone=row.payer_phone,
            language=row.payer_language,
            timezone=row.payer_timezone,
            address=row.payer_address,
        ),
        amount=row.amount,
        currency=row.currency,
        amount_paid=row.amount_paid,
        status=InvoiceStatus(row.status),
        issue_date=row.issue_date,
        due_date=row.due_date,
        description=row.description,
        tags=tuple(row.tags or ()),
        reference=row.reference,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancelled_at=row.cancelled_at,
    )


class InvoiceRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def upsert_payers(self, issuer_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Insert or update payers by their ``ref``; returns ref → payer id.

        On PostgreSQL a large batch goes through ``COPY`` into a temporary table and one
        ``INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING``: a multi-row VALUES statement
        of thousands of parameters costs more to build and parse than the upsert itself."""
        if not rows:
            return {}
        if self.conn.dialect.name == "postgresql" and len(rows) >= BULK_THRESHOLD:
            return self._upsert_payers_by_copy(rows)
        stmt = insert(self.conn, payers)
        upsert = stmt.on_conflict_do_update(
            index_elements=[payers.c.issuer_id, payers.c.ref],
            set_={c: stmt.excluded[c] for c in _PAYER_UPDATABLE},
        ).returning(payers.c.ref, payers.c.id)
        result: dict[str, str] = {}
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            for ref, payer_id in self.conn.execute(upsert, list(chunk)):
                result[ref] = payer_id
        return result

    def _upsert_payers_by_copy(self, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
        columns = list(rows[0])
        cols = ", ".join(f'"{c}"' for c in columns)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in _PAYER_UPDATABLE)
        self.conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS payers_incoming "
            "(LIKE payers INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self.conn.exec_driver_sql("TRUNCATE payers_incoming")
        copy_rows(self.conn, "payers_incoming", payers, rows)
        found = self.conn.exec_driver_sql(
            f"INSERT INTO payers ({cols}) SELECT {cols} FROM payers_incoming "
            f"ON CONFLICT (issuer_id, ref) DO UPDATE SET {updates} RETURNING ref, id"
        )
        return dict(found.all())

    def add_many(self, rows: Iterable[dict[str, Any]], count: int | None = None) -> None:
        """Insert invoice rows; an iterator of rows with their ``count`` is streamed
        (``bulk.insert_rows``)."""
        insert_rows(self.conn, invoices, rows, count)

    def existing_numbers(self, issuer_id: str, numbers: Sequence[str]) -> set[str]:
        """The ones of ``numbers`` the issuer has used already.

        On PostgreSQL one query joins the numbers, sent as a single array, to the unique index.
        ``number IN (…1,000 parameters…)`` ended up, once psycopg prepared the statement, in a
        generic plan that compared every invoice of the issuer with every parameter: a 10,000
        invoice batch took seconds and grew with the table."""
        if self.conn.dialect.name == "postgresql":
            wanted = (
                sa.func.unnest(sa.bindparam("numbers", list(numbers), type_=ARRAY(sa.String)))
                .table_valued("number")
                .render_derived()
            )
            return set(
                self.conn.execute(
                    sa.select(invoices.c.number)
                    .join(wanted, invoices.c.number == wanted.c.number)
                    .where(invoices.c.issuer_id == issuer_id)
                ).scalars()
            )
        found: set[str] = set()
        for start in range(0, len(numbers), 1000):
            chunk = list(numbers[start : start + 1000])
            found.update(
                self.conn.execute(
                    sa.select(invoices.c.number).where(
                        invoices.c.issuer_id == issuer_id, invoices.c.number.in_(chunk)
                    )
                ).scalars()
            )
        return found

    def get(self, issuer_id: str, invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        stmt = _SELECT.where(invoices.c.issuer_id == issuer_id, invoices.c.id == invoice_id)
        if for_update:
            stmt = stmt.with_for_update(of=invoices)
        row = self.conn.execute(stmt).first()
        return _invoice(row) if row else None

    def get_many(self, issuer_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        rows: list[Any] = []
        for start in range(0, len(invoice_ids), 1000):
            chunk = invoice_ids[start : start + 1000]
            rows.extend(
                self.conn.execute(
                    _SELECT.where(invoices.c.issuer_id == issuer_id, invoices.c.id.in_(chunk))
                )
            )
        by_id = {r.id: _invoice(r) for r in rows}
        return [by_id[i] for i in invoice_ids if i in by_id]

    def lock_many(self, issuer_id: str, invoice_ids: Sequence[str]) -> dict[str, Invoice]:
        """Lock the invoice rows in id order (as :meth:`get` ``for_update`` one by one in that
        order would), in chunks of 1,000 ids; returns those found, by id."""
        found: dict[str, Invoice] = {}
        ordered = sorted(set(invoice_ids))
        for start in range(0, len(ordered), 1000):
            stmt = (
                _SELECT.where(
                    invoices.c.issuer_id == issuer_id,
                    invoices.c.id.in_(ordered[start : start + 1000]),
                )
                .order_by(invoices.c.id)
                .with_for_update(of=invoices)
            )
            for row in self.conn.execute(stmt):
                found[row.id] = _invoice(row)
        return found

    def issuer_and_id_for_badge(self, badge_token_hash: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            sa.select(invoices.c.issuer_id, invoices.c.id).where(
                invoices.c.badge_token_hash == badge_token_hash
            )
        ).first()
        return (row.issuer_id, row.id) if row else None

    def search(
        self,
        issuer_id: str,
        *,
        statuses: Sequence[str] | None = None,
        payer_ref: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
        overdue_before: date | None = None,
        after_id: str | None = None,
        limit: int = 50,
    ) -> list[Invoice]:
        """Invoices in id order (ids sort by creation time), for cursor pagination.

        ``statuses`` and ``overdue_before`` combine with OR: "paid or overdue" is a valid filter."""
        stmt = _SELECT.where(invoices.c.issuer_id == issuer_id)
        wanted: list[sa.ColumnElement[bool]] = []
        if statuses:
            wanted.append(invoices.c.status.in_(list(statuses)))
        if overdue_before is not None:
            wanted.append(
                sa.and_(
                    invoices.c.status.in_([s.value for s in UNPAID]),
                    invoices.c.due_date < overdue_before,
                )
            )
        if wanted:
            stmt = stmt.where(sa.or_(*wanted))
        if payer_ref is not None:
            stmt = stmt.where(payers.c.ref == payer_ref)
        if due_from is not None:
            stmt = stmt.where(invoices.c.due_date >= due_from)
        if due_to is not None:
            stmt = stmt.where(invoices.c.due_date <= due_to)
        if after_id is not None:
            stmt = stmt.where(invoices.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(invoices.c.id).limit(limit)).all()
        return [_invoice(r) for r in rows]

    def set_paid_state(
        self,
        issuer_id: str,
        invoice_id: str,
        *,
        amount_paid: int,
        status: InvoiceStatus,
        now: datetime,
        cancelled_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "amount_paid": amount_paid,
            "status": status.value,
            "updated_at": now,
        }
        if cancelled_at is not None:
            values["cancelled_at"] = cancelled_at
        self.conn.execute(
            sa.update(invoices)
            .where(invoices.c.issuer_id == issuer_id, invoices.c.id == invoice_id)
            .values(**values)
        )

    def add_credit(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(credits), values)

    def add_credits(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, credits, rows)

    def add_allocation(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(allocations), values)

    def add_allocations(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, allocations, rows)

    def set_paid_states(
        self, issuer_id: str, states: Sequence[tuple[str, int, InvoiceStatus]], now: datetime
    ) -> None:
        """:meth:`set_paid_state` of many invoices: (invoice id, amount paid, status) each, in
        one executemany."""
        if not states:
            return
        self.conn.execute(
            sa.update(invoices)
            .where(
                invoices.c.issuer_id == sa.bindparam("b_issuer"),
                invoices.c.id == sa.bindparam("b_id"),
            )
            .values(
                amount_paid=sa.bindparam("b_paid"),
                status=sa.bindparam("b_status"),
                updated_at=sa.bindparam("b_now"),
            ),
            [
                {
                    "b_issuer": issuer_id,
                    "b_id": invoice_id,
                    "b_paid": paid,
                    "b_status": status.value,
                    "b_now": now,
                }
                for invoice_id, paid, status in states
            ],
        )

    def allocations_of_credit(self, issuer_id: str, credit_id: str) -> list[tuple[str, int]]:
        """(invoice id, net amount) of a credit's allocations, reversals included, in the
        order the invoices were first allocated."""
        rows = self.conn.execute(
            sa.select(
                allocations.c.invoice_id,
                sa.func.sum(allocations.c.amount).label("amount"),
                sa.func.min(allocations.c.id).label("first"),
            )
            .where(allocations.c.issuer_id == issuer_id, allocations.c.credit_id == credit_id)
            .group_by(allocations.c.invoice_id)
            .order_by("first")
        )
        return [(r.invoice_id, int(r.amount)) for r in rows]

"""Provider payouts and the payments they settle. Every query is scoped by issuer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.records import from_row
from paydue.adapters.db.tables import payments, payout_items, payouts
from paydue.domain.payments import PaymentStatus


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    issuer_id: str
    id: str
    provider: str
    reference: str
    currency: str
    gross: int
    fees: int
    net: int
    status: str
    line_id: str | None
    received_amount: int | None
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PayoutItemRow:
    payment_id: str
    invoice_id: str
    amount: int
    fee: int


@dataclass(frozen=True, slots=True)
class UnpaidPaymentRow:
    """A succeeded, booked provider payment that no payout lists yet."""

    id: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class ClearingRow:
    provider: str
    currency: str
    payments: int
    amount: int


class PayoutRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
        self.conn.execute(sa.insert(payouts), values)
        self.conn.execute(sa.insert(payout_items), list(items))

    def get(
        self, issuer_id: str, payout_id: str, *, for_update: bool = False
    ) -> PayoutRecord | None:
        stmt = sa.select(payouts).where(payouts.c.issuer_id == issuer_id, payouts.c.id == payout_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return from_row(PayoutRecord, row) if row else None

    def by_reference(self, issuer_id: str, provider: str, reference: str) -> PayoutRecord | None:
        row = self.conn.execute(
            sa.select(payouts).where(
                payouts.c.issuer_id == issuer_id,
                payouts.c.provider == provider,
                payouts.c.reference == reference,
            )
        ).first()
        return from_row(PayoutRecord, row) if row else None

    def page(
        self,
        issuer_id: str,
        *,
        statuses: Sequence[str] | None,
        provider: str | None,
        after: str | None,
        limit: int,
    ) -> list[PayoutRecord]:
        stmt = sa.select(payouts).where(payouts.c.issuer_id == issuer_id)
        if statuses:
            stmt = stmt.where(payouts.c.status.in_(list(statuses)))
        if provider is not None:
            stmt = stmt.where(payouts.c.provider == provider)
        if after is not None:
            stmt = stmt.where(payouts.c.id > after)
        rows = self.conn.execute(stmt.order_by(payouts.c.id).limit(limit))
        return [from_row(PayoutRecord, r) for r in rows]

    def open_payouts(self, issuer_id: str) -> list[PayoutRecord]:
        """The payouts a bank credit may still settle."""
        rows = self.conn.execute(
            sa.select(payouts)
            .where(payouts.c.issuer_id == issuer_id, payouts.c.status == "open")
            .order_by(payouts.c.id)
        )
        return [from_row(PayoutRecord, r) for r in rows]

    def matchable(self, issuer_id: str, closed_since: datetime) -> list[PayoutRecord]:
        """The open payouts, and those closed since ``closed_since``."""
        rows = self.conn.execute(
            sa.select(payouts)
            .where(
                payouts.c.issuer_id == issuer_id,
                sa.or_(payouts.c.status == "open", payouts.c.closed_at >= closed_since),
            )
            .order_by(payouts.c.id)
        )
        return [from_row(PayoutRecord, r) for r in rows]

    def close(
        self,
        issuer_id: str,
        payout_id: str,
        *,
        status: str,
        line_id: str,
        received_amount: int,
        now: datetime,
    ) -> bool:
        """Move an open payout to ``status``; False when it was not open any more (another line
        closed it first). One conditional ``UPDATE``: two imports cannot both close it."""
        row = self.conn.execute(
            sa.update(payouts)
            .where(
                payouts.c.issuer_id == issuer_id,
                payouts.c.id == payout_id,
                payouts.c.status == "open",
            )
            .values(status=status, line_id=line_id, received_amount=received_amount, closed_at=now)
            .returning(payouts.c.id)
        ).first()
        return row is not None

    def items_of(self, issuer_id: str, payout_id: str) -> list[PayoutItemRow]:
        rows = self.conn.execute(
            sa.select(
                payout_items.c.payment_id,
                payments.c.invoice_id,
                payout_items.c.amount,
                payout_items.c.fee,
            )
            .join(
                payments,
                sa.and_(
                    payments.c.issuer_id == payout_items.c.issuer_id,
                    payments.c.id == payout_items.c.payment_id,
                ),
            )
            .where(payout_items.c.issuer_id == issuer_id, payout_items.c.payout_id == payout_id)
            .order_by(payout_items.c.payment_id)
        )
        return [from_row(PayoutItemRow, r) for r in rows]

    def paid_out(self, issuer_id: str, payment_ids: Sequence[str]) -> dict[str, str]:
        """Payment id → the payout that lists it, for those of ``payment_ids`` paid out."""
        found: dict[str, str] = {}
        ids = list(payment_ids)
        for start in range(0, len(ids), 500):
            rows = self.conn.execute(
                sa.select(payout_items.c.payment_id, payout_items.c.payout_id).where(
                    payout_items.c.issuer_id == issuer_id,
                    payout_items.c.payment_id.in_(ids[start : start + 500]),
                )
            )
            found.update({r.payment_id: r.payout_id for r in rows})
        return found

    def _unpaid(self, issuer_id: str) -> Any:
        listed = sa.select(payout_items.c.payment_id).where(
            payout_items.c.issuer_id == payments.c.issuer_id,
            payout_items.c.payment_id == payments.c.id,
        )
        return sa.and_(
            payments.c.issuer_id == issuer_id,
            payments.c.status == PaymentStatus.SUCCEEDED.value,
            payments.c.credit_id.is_not(None),
            ~listed.exists(),
        )

    def unpaid_payments(self, issuer_id: str, provider: str) -> list[UnpaidPaymentRow]:
        """The provider's succeeded, booked payments of the issuer that no payout lists, in id
        order."""
        rows = self.conn.execute(
            sa.select(payments.c.id, payments.c.amount, payments.c.currency)
            .where(self._unpaid(issuer_id), payments.c.provider == provider)
            .order_by(payments.c.id)
        )
        return [from_row(UnpaidPaymentRow, r) for r in rows]

    def clearing(self, issuer_id: str) -> list[ClearingRow]:
        """Per provider and currency: the booked payments no payout lists yet."""
        rows = self.conn.execute(
            sa.select(
                payments.c.provider,
                payments.c.currency,
                sa.func.count().label("payments"),
                sa.func.sum(payments.c.amount).label("amount"),
            )
            .where(self._unpaid(issuer_id))
            .group_by(payments.c.provider, payments.c.currency)
            .order_by(payments.c.provider, payments.c.currency)
        )
        return [
            ClearingRow(r.provider, r.currency, int(r.payments), int(r.amount or 0)) for r in rows
        ]

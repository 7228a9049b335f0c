"""Payments, the provider notifications that move them, and the simulator's own books."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.dialect import insert
from paydue.adapters.db.records import Payment, ProviderEvent, from_row
from paydue.adapters.db.tables import issuers, payments, provider_events, simulator_charges
from paydue.domain.payments import PaymentStatus

_EVENT_KEYS = tuple(provider_events.c.keys())
_PAYMENT_KEYS = tuple(payments.c.keys())


def _payment(row: Any) -> Payment:
    mapping = row._mapping
    return Payment(**{**mapping, "status": PaymentStatus(mapping["status"])})


class PaymentRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> Payment:
        row = self.conn.execute(sa.insert(payments).values(**values).returning(*payments.c)).one()
        return _payment(row)

    def get(self, issuer_id: str, payment_id: str, *, for_update: bool = False) -> Payment | None:
        stmt = sa.select(payments).where(
            payments.c.issuer_id == issuer_id, payments.c.id == payment_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return _payment(row) if row else None

    def for_invoice(self, issuer_id: str, invoice_id: str) -> list[Payment]:
        rows = self.conn.execute(
            sa.select(payments)
            .where(payments.c.issuer_id == issuer_id, payments.c.invoice_id == invoice_id)
            .order_by(payments.c.id)
        ).all()
        return [_payment(r) for r in rows]

    def page(
        self, issuer_id: str, *, invoice_id: str | None, after: str | None, limit: int
    ) -> list[Payment]:
        stmt = sa.select(payments).where(payments.c.issuer_id == issuer_id)
        if invoice_id is not None:
            stmt = stmt.where(payments.c.invoice_id == invoice_id)
        if after is not None:
            stmt = stmt.where(payments.c.id > after)
        rows = self.conn.execute(stmt.order_by(payments.c.id).limit(limit)).all()
        return [_payment(r) for r in rows]

    def update(self, payment: Payment, values: dict[str, Any]) -> Payment:
        row = self.conn.execute(
            sa.update(payments)
            .where(payments.c.issuer_id == payment.issuer_id, payments.c.id == payment.id)
            .values(**values)
            .returning(*payments.c)
        ).one()
        return _payment(row)

    def set_values(self, payment: Payment, values: dict[str, Any]) -> None:
        """``update`` without reading the row back (the caller knows what it wrote)."""
        self.conn.execute(
            sa.update(payments)
            .where(payments.c.issuer_id == payment.issuer_id, payments.c.id == payment.id)
            .values(**values)
        )

    # --- provider notifications ---------------------------------------------------------------

    def issuer_exists(self, issuer_id: str) -> bool:
        """Whether notifications may be stored for ``issuer_id`` (reads only its id)."""
        found = self.conn.execute(sa.select(issuers.c.id).where(issuers.c.id == issuer_id))
        return found.first() is not None

    def event_with_payment(
        self, issuer_id: str, provider: str, event_id: str
    ) -> tuple[ProviderEvent, Payment] | None:
        """A stored notification and the payment it names (its ``payment_id``), both locked
        (``FOR UPDATE``), in one query; None when either is missing (look them up one by one
        then)."""
        pe = provider_events.c
        stmt = (
            sa.select(provider_events, payments)
            .join(
                payments,
                sa.and_(payments.c.issuer_id == pe.issuer_id, payments.c.id == pe.payment_id),
            )
            .where(pe.issuer_id == issuer_id, pe.provider == provider, pe.event_id == event_id)
            .with_for_update()
        )
        row = self.conn.execute(stmt).first()
        if row is None:
            return None
        values = tuple(row)
        n = len(_EVENT_KEYS)
        event = ProviderEvent(**dict(zip(_EVENT_KEYS, values[:n], strict=True)))
        found = dict(zip(_PAYMENT_KEYS, values[n:], strict=True))
        return event, Payment(**{**found, "status": PaymentStatus(found["status"])})

    def add_event(self, values: dict[str, Any]) -> bool:
        """Store a notification once per (provider, event id); False when it was stored
        already (a provider's retry, or the same notification arriving twice at once)."""
        stmt = insert(self.conn, provider_events).values(**values)
        inserted = self.conn.execute(
            stmt.on_conflict_do_nothing(
                index_elements=[
                    provider_events.c.issuer_id,
                    provider_events.c.provider,
                    provider_events.c.event_id,
                ]
            ).returning(provider_events.c.event_id)
        ).first()
        return inserted is not None

    def add_events(self, rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        """``add_event`` for many in one statement, in the order given; the (issuer, provider,
        event id) of those that were new."""
        if not rows:
            return set()
        pe = provider_events.c
        inserted = self.conn.execute(
            insert(self.conn, provider_events)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[pe.issuer_id, pe.provider, pe.event_id])
            .returning(pe.issuer_id, pe.provider, pe.event_id)
        ).all()
        return {(r.issuer_id, r.provider, r.event_id) for r in inserted}

    def get_event(
        self, issuer_id: str, provider: str, event_id: str, *, for_update: bool = False
    ) -> ProviderEvent | None:
        stmt = sa.select(provider_events).where(
            provider_events.c.issuer_id == issuer_id,
            provider_events.c.provider == provider,
            provider_events.c.event_id == event_id,
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return from_row(ProviderEvent, row) if row else None

    def finish_event(self, event: ProviderEvent, status: str, outcome: str, now: datetime) -> None:
        self.conn.execute(
            sa.update(provider_events)
            .where(
                provider_events.c.issuer_id == event.issuer_id,
                provider_events.c.provider == event.provider,
                provider_events.c.event_id == event.event_id,
            )
            .values(status=status, outcome=outcome[:300], processed_at=now)
        )

    def finish_events(self, finished: list[tuple[ProviderEvent, str, str]], now: datetime) -> None:
        """``finish_event`` for many notifications in one round of statements."""
        if not finished:
            return
        pe = provider_events.c
        self.conn.execute(
            sa.update(provider_events)
            .where(
                pe.issuer_id == sa.bindparam("b_issuer_id"),
                pe.provider == sa.bindparam("b_provider"),
                pe.event_id == sa.bindparam("b_event_id"),
            )
            .values(
                status=sa.bindparam("b_status"),
                outcome=sa.bindparam("b_outcome"),
                processed_at=sa.bindparam("b_processed_at", type_=pe.processed_at.type),
            ),
            [
                {
                    "b_issuer_id": event.issuer_id,
                    "b_provider": event.provider,
                    "b_event_id": event.event_id,
                    "b_status": status,
                    "b_outcome": outcome[:300],
                    "b_processed_at": now,
                }
                for event, status, outcome in finished
            ],
        )

    def events_of(self, issuer_id: str, payment_id: str) -> list[ProviderEvent]:
        rows = self.conn.execute(
            sa.select(provider_events)
            .where(
                provider_events.c.issuer_id == issuer_id,
                provider_events.c.payment_id == payment_id,
            )
            .order_by(provider_events.c.received_at, provider_events.c.event_id)
        ).all()
        return [from_row(ProviderEvent, r) for r in rows]

    # --- the simulator's books ------------------------------------------------------------------

    def add_charge(self, values: dict[str, Any]) -> dict[str, Any]:
        row = self.conn.execute(
            sa.insert(simulator_charges).values(**values).returning(*simulator_charges.c)
        ).one()
        return dict(row._mapping)

    def charge(self, charge_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        stmt = sa.select(simulator_charges).where(simulator_charges.c.id == charge_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return dict(row._mapping) if row else None

    def charge_for(self, reference: str) -> dict[str, Any] | None:
        """The charge opened for a payment reference."""
        row = self.conn.execute(
            sa.select(simulator_charges).where(simulator_charges.c.reference == reference)
        ).first()
        return dict(row._mapping) if row else None

    def update_charge(self, charge_id: str, values: dict[str, Any]) -> None:
        self.conn.execute(
            sa.update(simulator_charges).where(simulator_charges.c.id == charge_id).values(**values)
        )

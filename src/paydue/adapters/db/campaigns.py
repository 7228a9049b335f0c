"""Campaigns and their recipients. Every query is scoped by issuer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.tables import (
    campaign_recipients,
    campaigns,
    invoices,
    messages,
    payers,
)


@dataclass(frozen=True, slots=True)
class Campaign:
    issuer_id: str
    id: str
    name: str | None
    channel: str
    source: str
    filter: dict[str, Any] | None
    rate_per_minute: int
    expires_in_hours: float | None
    status: str
    recipients: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """A recipient with its message's status (null while pending or when skipped)."""

    payer_ref: str
    payer_id: str | None
    position: int
    status: str
    reason: str | None
    send_at: datetime
    message_id: str | None
    message_status: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """Which unpaid invoices a campaign is about: due at least ``overdue_days_min`` days before
    ``today`` (None: any), with one of ``statuses``."""

    statuses: tuple[str, ...]
    overdue_days_min: int | None = None
    today: date | None = None


class CampaignRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, row: dict[str, Any], recipients: Sequence[dict[str, Any]]) -> None:
        self.conn.execute(sa.insert(campaigns).values(**row))
        insert_rows(self.conn, campaign_recipients, recipients)

    def get(self, issuer_id: str, campaign_id: str) -> Campaign | None:
        row = self.conn.execute(
            sa.select(campaigns).where(
                campaigns.c.issuer_id == issuer_id, campaigns.c.id == campaign_id
            )
        ).first()
        return Campaign(**row._mapping) if row else None

    def list_campaigns(self, issuer_id: str, *, after_id: str | None, limit: int) -> list[Campaign]:
        stmt = sa.select(campaigns).where(campaigns.c.issuer_id == issuer_id)
        if after_id is not None:
            stmt = stmt.where(campaigns.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(campaigns.c.id).limit(limit)).all()
        return [Campaign(**r._mapping) for r in rows]

    def finish(self, issuer_id: str, campaign_id: str, now: datetime) -> None:
        self.conn.execute(
            sa.update(campaigns)
            .where(
                campaigns.c.issuer_id == issuer_id,
                campaigns.c.id == campaign_id,
                campaigns.c.status == "running",
            )
            .values(status="done", finished_at=now, updated_at=now)
        )

    def payer_ids(self, issuer_id: str, refs: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(refs), 1000):
            rows = self.conn.execute(
                sa.select(payers.c.ref, payers.c.id).where(
                    payers.c.issuer_id == issuer_id, payers.c.ref.in_(refs[start : start + 1000])
                )
            ).all()
            found.update({r.ref: r.id for r in rows})
        return found

    def _invoice_conditions(self, issuer_id: str, f: InvoiceFilter) -> list[Any]:
        c = invoices.c
        where = [c.issuer_id == issuer_id, c.status.in_(list(f.statuses))]
        if f.overdue_days_min is not None and f.today is not None:
            where.append(c.due_date <= f.today - timedelta(days=f.overdue_days_min))
        return where

    def payers_matching(self, issuer_id: str, f: InvoiceFilter) -> list[tuple[str, str]]:
        """(ref, payer id) of every payer with an invoice the filter matches, by ref."""
        rows = self.conn.execute(
            sa.select(payers.c.ref, payers.c.id)
            .where(
                payers.c.issuer_id == issuer_id,
                payers.c.id.in_(
                    sa.select(invoices.c.payer_id).where(*self._invoice_conditions(issuer_id, f))
                ),
            )
            .order_by(payers.c.ref)
        ).all()
        return [(r.ref, r.id) for r in rows]

    def invoice_ids(
        self, issuer_id: str, payer_ids: Sequence[str], f: InvoiceFilter
    ) -> dict[str, list[str]]:
        """The ids of the payers' invoices the filter matches, per payer, oldest due first."""
        found: dict[str, list[str]] = {}
        if not payer_ids:
            return found
        c = invoices.c
        rows = self.conn.execute(
            sa.select(c.payer_id, c.id)
            .where(*self._invoice_conditions(issuer_id, f), c.payer_id.in_(list(payer_ids)))
            .order_by(c.payer_id, c.due_date, c.number)
        ).all()
        for payer_id, invoice_id in rows:
            found.setdefault(payer_id, []).append(invoice_id)
        return found

    def due_recipients(
        self, issuer_id: str, campaign_id: str, now: datetime, limit: int
    ) -> list[Recipient]:
        r = campaign_recipients.c
        return self._recipients(
            sa.and_(
                r.issuer_id == issuer_id,
                r.campaign_id == campaign_id,
                r.status == "pending",
                r.send_at <= now,
            ),
            order=(r.send_at, r.position),
            limit=limit,
        )

    def recipients(
        self, issuer_id: str, campaign_id: str, *, after_position: int | None, limit: int
    ) -> list[Recipient]:
        r = campaign_recipients.c
        where = sa.and_(r.issuer_id == issuer_id, r.campaign_id == campaign_id)
        if after_position is not None:
            where = sa.and_(where, r.position > after_position)
        return self._recipients(where, order=(r.position,), limit=limit)

    def _recipients(self, where: Any, *, order: Sequence[Any], limit: int) -> list[Recipient]:
        r, m = campaign_recipients.c, messages.c
        rows = self.conn.execute(
            sa.select(
                r.payer_ref,
                r.payer_id,
                r.position,
                r.status,
                r.reason,
                r.send_at,
                r.message_id,
                m.status.label("message_status"),
                r.updated_at,
            )
            .select_from(
                campaign_recipients.outerjoin(
                    messages, sa.and_(m.issuer_id == r.issuer_id, m.id == r.message_id)
                )
            )
            .where(where)
            .order_by(*order)
            .limit(limit)
        ).all()
        return [Recipient(**row._mapping) for row in rows]

    def next_pending_at(self, issuer_id: str, campaign_id: str) -> datetime | None:
        r = campaign_recipients.c
        found: datetime | None = self.conn.execute(
            sa.select(sa.func.min(r.send_at)).where(
                r.issuer_id == issuer_id, r.campaign_id == campaign_id, r.status == "pending"
            )
        ).scalar_one()
        return found

    def update_recipient(
        self,
        issuer_id: str,
        campaign_id: str,
        payer_ref: str,
        values: dict[str, Any],
        *,
        only_if_due: datetime,
    ) -> bool:
        """Set ``values`` if the recipient is still pending and due at ``only_if_due``: the
        claim that makes each recipient's message be written once, whatever runs at once."""
        r = campaign_recipients.c
        done = self.conn.execute(
            sa.update(campaign_recipients)
            .where(
                r.issuer_id == issuer_id,
                r.campaign_id == campaign_id,
                r.payer_ref == payer_ref,
                r.status == "pending",
                r.send_at <= only_if_due,
            )
            .values(**values)
        )
        return done.rowcount == 1

    def counts(self, issuer_id: str, campaign_id: str) -> dict[tuple[str, str | None], int]:
        """(recipient status, message status) → how many."""
        r, m = campaign_recipients.c, messages.c
        rows = self.conn.execute(
            sa.select(r.status, m.status, sa.func.count())
            .select_from(
                campaign_recipients.outerjoin(
                    messages, sa.and_(m.issuer_id == r.issuer_id, m.id == r.message_id)
                )
            )
            .where(r.issuer_id == issuer_id, r.campaign_id == campaign_id)
            .group_by(r.status, m.status)
        ).all()
        return {(a, b): n for a, b, n in rows}

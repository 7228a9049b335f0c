"""Pay links. Looked up by the hash of their token; limits applied with conditional updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.records import PayLink, from_row
from paydue.adapters.db.tables import pay_links
from paydue.domain.paylinks import MAX_TAN_ATTEMPTS


class PayLinkRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, pay_links, rows)

    def get(self, issuer_id: str, link_id: str) -> PayLink | None:
        row = self.conn.execute(
            sa.select(pay_links).where(
                pay_links.c.issuer_id == issuer_id, pay_links.c.id == link_id
            )
        ).first()
        return from_row(PayLink, row) if row else None

    def by_token_hash(self, token_hash: str) -> PayLink | None:
        row = self.conn.execute(
            sa.select(pay_links).where(pay_links.c.token_hash == token_hash)
        ).first()
        return from_row(PayLink, row) if row else None

    def for_invoice(self, issuer_id: str, invoice_id: str) -> list[PayLink]:
        rows = self.conn.execute(
            sa.select(pay_links)
            .where(pay_links.c.issuer_id == issuer_id, pay_links.c.invoice_id == invoice_id)
            .order_by(pay_links.c.id)
        ).all()
        return [from_row(PayLink, r) for r in rows]

    def revoke(self, issuer_id: str, link_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            sa.update(pay_links)
            .where(
                pay_links.c.issuer_id == issuer_id,
                pay_links.c.id == link_id,
                pay_links.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    def count_open(self, link: PayLink, now: datetime) -> bool:
        """Count one open if the link is still under its limit and not revoked; False when the
        limit was reached (by this request or a concurrent one) or the link was revoked. One
        conditional UPDATE: atomic on both databases."""
        cond = [
            pay_links.c.issuer_id == link.issuer_id,
            pay_links.c.id == link.id,
            pay_links.c.revoked_at.is_(None),
        ]
        if link.max_opens is not None:
            cond.append(pay_links.c.open_count < pay_links.c.max_opens)
        result = self.conn.execute(
            sa.update(pay_links)
            .where(*cond)
            .values(open_count=pay_links.c.open_count + 1, last_opened_at=now)
        )
        return result.rowcount == 1

    def take_tan_attempt(self, link: PayLink) -> bool:
        """Count one TAN try if fewer than the maximum were wrong; False when locked."""
        result = self.conn.execute(
            sa.update(pay_links)
            .where(
                pay_links.c.issuer_id == link.issuer_id,
                pay_links.c.id == link.id,
                pay_links.c.tan_failures < MAX_TAN_ATTEMPTS,
            )
            .values(tan_failures=pay_links.c.tan_failures + 1)
        )
        return result.rowcount == 1

    def give_back_tan_attempt(self, link: PayLink) -> None:
        self.conn.execute(
            sa.update(pay_links)
            .where(pay_links.c.issuer_id == link.issuer_id, pay_links.c.id == link.id)
            .values(tan_failures=pay_links.c.tan_failures - 1)
        )

    def record_failed_payment(self, link: PayLink) -> None:
        self.conn.execute(
            sa.update(pay_links)
            .where(pay_links.c.issuer_id == link.issuer_id, pay_links.c.id == link.id)
            .values(failed_attempts=pay_links.c.failed_attempts + 1)
        )

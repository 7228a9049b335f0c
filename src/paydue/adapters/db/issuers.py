"""Issuers and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.records import Issuer, from_row
from paydue.adapters.db.tables import api_keys, issuers


class IssuerRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(issuers), values)

    def get(self, issuer_id: str) -> Issuer | None:
        row = self.conn.execute(sa.select(issuers).where(issuers.c.id == issuer_id)).first()
        return from_row(Issuer, row) if row else None

    def update(self, issuer_id: str, values: dict[str, Any]) -> None:
        self.conn.execute(sa.update(issuers).where(issuers.c.id == issuer_id).values(**values))

    def list(self) -> list[Issuer]:
        rows = self.conn.execute(sa.select(issuers).order_by(issuers.c.created_at)).all()
        return [from_row(Issuer, r) for r in rows]

    def reserve(self, issuer_id: str, counter: str, count: int) -> int:
        """Reserve ``count`` numbers of ``counter`` (event_seq or reference_seq); returns the
        first. The update locks the issuer row until commit, so numbers come out gap-free and in
        commit order."""
        column = issuers.c[counter]
        last = self.conn.execute(
            sa.update(issuers)
            .where(issuers.c.id == issuer_id)
            .values({column: column + count})
            .returning(column)
        ).scalar_one()
        return int(last) - count + 1

    def add_api_key(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(api_keys), values)

    def issuer_for_key(self, key_hash: str) -> Issuer | None:
        row = self.conn.execute(
            sa.select(issuers)
            .join(api_keys, api_keys.c.issuer_id == issuers.c.id)
            .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        ).first()
        return from_row(Issuer, row) if row else None

    def api_key_id(self, issuer_id: str, key_hash: str) -> str | None:
        """The id of the issuer's API key with this hash (the audit log's "who")."""
        return self.conn.execute(
            sa.select(api_keys.c.id).where(
                api_keys.c.issuer_id == issuer_id, api_keys.c.key_hash == key_hash
            )
        ).scalar_one_or_none()

    def api_key_active(self, issuer_id: str, key_id: str) -> bool:
        """Whether the issuer's API key ``key_id`` exists and is not revoked."""
        found = self.conn.execute(
            sa.select(api_keys.c.id).where(
                api_keys.c.issuer_id == issuer_id,
                api_keys.c.id == key_id,
                api_keys.c.revoked_at.is_(None),
            )
        ).first()
        return found is not None

    def revoke_api_keys(self, issuer_id: str, now: datetime) -> None:
        self.conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.issuer_id == issuer_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

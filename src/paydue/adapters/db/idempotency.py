"""Stored ``Idempotency-Key`` requests and their responses, per issuer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from paydue.adapters.db.dialect import insert
from paydue.adapters.db.tables import idempotency_keys


@dataclass(frozen=True, slots=True)
class StoredRequest:
    request_hash: str
    locked_until: datetime | None
    response_status: int | None
    response_body: bytes | None


class IdempotencyRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def try_lock(
        self,
        issuer_id: str,
        key: str,
        request_hash: str,
        now: datetime,
        locked_until: datetime,
        *,
        claim: str | None = None,
    ) -> StoredRequest | None:
        """Claim ``key`` for a new request as ``claim``. None when claimed; else the stored
        request.

        An in-flight claim whose lock expired (its request died, or is slow) is taken over; the
        old holder's ``complete`` then finds the claim gone and must roll its effects back."""
        claim = claim or secrets.token_hex(16)
        inserted = self.conn.execute(
            insert(self.conn, idempotency_keys)
            .values(
                issuer_id=issuer_id,
                key=key,
                request_hash=request_hash,
                claim=claim,
                locked_until=locked_until,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        ).first()
        if inserted is not None:
            return None
        takeover = self.conn.execute(
            sa.update(idempotency_keys)
            .where(
                idempotency_keys.c.issuer_id == issuer_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.request_hash == request_hash,
                idempotency_keys.c.response_status.is_(None),
                idempotency_keys.c.locked_until < now,
            )
            .values(locked_until=locked_until, claim=claim)
        ).rowcount
        if takeover == 1:
            return None
        row = self.conn.execute(
            sa.select(idempotency_keys).where(
                idempotency_keys.c.issuer_id == issuer_id, idempotency_keys.c.key == key
            )
        ).one()
        return StoredRequest(
            row.request_hash, row.locked_until, row.response_status, row.response_body
        )

    def _held(self, issuer_id: str, key: str, claim: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            idempotency_keys.c.issuer_id == issuer_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.claim == claim,
            idempotency_keys.c.response_status.is_(None),
        )

    def complete(self, issuer_id: str, key: str, claim: str, status: int, body: bytes) -> bool:
        """Store the response; False when ``claim`` no longer holds the key (a retry took it
        over), in which case the caller must not commit its effects."""
        result = self.conn.execute(
            sa.update(idempotency_keys)
            .where(self._held(issuer_id, key, claim))
            .values(response_status=status, response_body=body, locked_until=None)
        )
        return result.rowcount == 1

    def release(self, issuer_id: str, key: str, claim: str) -> None:
        """Forget a claim whose request failed before any effect: it may be retried."""
        self.conn.execute(sa.delete(idempotency_keys).where(self._held(issuer_id, key, claim)))

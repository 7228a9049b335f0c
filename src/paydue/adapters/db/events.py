"""The event log: append-only, numbered per issuer without gaps, and the fan-out of each event
into webhook delivery jobs, written in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.issuers import IssuerRepository
from paydue.adapters.db.keysets import in_keys
from paydue.adapters.db.records import StoredEvent, from_row
from paydue.adapters.db.tables import events, jobs, webhook_endpoints
from paydue.domain.events import Event, subscribed
from paydue.services.ids import new_id, new_ids

WEBHOOK_DELIVERY = "webhook.deliver"


class EventLog:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def append(self, issuer_id: str, pending: Sequence[Event], now: datetime) -> list[StoredEvent]:
        """Write ``pending`` with the issuer's next sequence numbers, and one delivery job per
        subscribed, enabled webhook endpoint and event."""
        if not pending:
            return []
        first = IssuerRepository(self.conn).reserve(issuer_id, "event_seq", len(pending))
        stored = [
            StoredEvent(
                seq=first + i,
                id=event_id,
                type=e.type,
                subject_id=e.subject_id,
                data=dict(e.data),
                created_at=now,
            )
            for i, (e, event_id) in enumerate(
                zip(pending, new_ids("evt", len(pending)), strict=True)
            )
        ]
        insert_rows(
            self.conn,
            events,
            [
                {
                    "issuer_id": issuer_id,
                    "seq": e.seq,
                    "id": e.id,
                    "type": e.type,
                    "subject_id": e.subject_id,
                    "data": e.data,
                    "created_at": now,
                }
                for e in stored
            ],
        )
        endpoints = self.conn.execute(
            sa.select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
                webhook_endpoints.c.issuer_id == issuer_id, webhook_endpoints.c.enabled.is_(True)
            )
        ).all()
        deliveries = [
            {
                "issuer_id": issuer_id,
                "id": new_id("job"),
                "kind": WEBHOOK_DELIVERY,
                "status": "pending",
                "run_at": now,
                "attempts": 0,
                "event_id": e.id,
                "endpoint_id": ep.id,
                "created_at": now,
            }
            for e in stored
            for ep in endpoints
            if subscribed(ep.event_types, e.type)
        ]
        insert_rows(self.conn, jobs, deliveries)
        return stored

    def feed(
        self, issuer_id: str, *, after: int, limit: int, types: Sequence[str] | None = None
    ) -> list[StoredEvent]:
        stmt = sa.select(events).where(events.c.issuer_id == issuer_id, events.c.seq > after)
        if types:
            stmt = stmt.where(events.c.type.in_(list(types)))
        rows = self.conn.execute(stmt.order_by(events.c.seq).limit(limit)).all()
        return [from_row(StoredEvent, r) for r in rows]

    def get(self, issuer_id: str, event_id: str) -> StoredEvent | None:
        row = self.conn.execute(
            sa.select(events).where(events.c.issuer_id == issuer_id, events.c.id == event_id)
        ).first()
        return from_row(StoredEvent, row) if row else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
        """Events by (issuer id, event id), in one query; missing ones are left out."""
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(events).where(in_keys(self.conn, [events.c.issuer_id, events.c.id], keys))
        ).all()
        return {(r.issuer_id, r.id): from_row(StoredEvent, r) for r in rows}

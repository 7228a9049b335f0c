"""Webhook endpoints and the per-endpoint delivery log."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.records import WebhookEndpoint, from_row
from paydue.adapters.db.tables import webhook_attempts, webhook_endpoints


class WebhookRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(webhook_endpoints), values)

    def get(self, issuer_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        row = self.conn.execute(
            sa.select(webhook_endpoints).where(
                webhook_endpoints.c.issuer_id == issuer_id, webhook_endpoints.c.id == endpoint_id
            )
        ).first()
        return from_row(WebhookEndpoint, row) if row else None

    def list(self, issuer_id: str) -> list[WebhookEndpoint]:
        rows = self.conn.execute(
            sa.select(webhook_endpoints)
            .where(webhook_endpoints.c.issuer_id == issuer_id)
            .order_by(webhook_endpoints.c.id)
        ).all()
        return [from_row(WebhookEndpoint, r) for r in rows]

    def update(self, issuer_id: str, endpoint_id: str, values: dict[str, Any]) -> bool:
        result = self.conn.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.issuer_id == issuer_id, webhook_endpoints.c.id == endpoint_id
            )
            .values(**values)
        )
        return result.rowcount == 1

    def set_enabled(
        self, issuer_id: str, endpoint_id: str, enabled: bool, reason: str | None
    ) -> bool:
        result = self.conn.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.issuer_id == issuer_id,
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.enabled.is_(not enabled),
            )
            .values(enabled=enabled, disabled_reason=reason)
        )
        return result.rowcount == 1

    def log_attempts(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, webhook_attempts, rows)

    def attempts(
        self, issuer_id: str, job_ids: Sequence[str]
    ) -> dict[str, builtins.list[dict[str, Any]]]:
        if not job_ids:
            return {}
        rows = self.conn.execute(
            sa.select(webhook_attempts)
            .where(
                webhook_attempts.c.issuer_id == issuer_id,
                webhook_attempts.c.job_id.in_(list(job_ids)),
            )
            .order_by(webhook_attempts.c.attempted_at)
        ).all()
        out: dict[str, builtins.list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r.job_id, []).append(dict(r._mapping))
        return out

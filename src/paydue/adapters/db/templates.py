"""The issuers' own message templates (``uow.templates``). Every query is scoped by issuer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from paydue.adapters.db.dialect import insert
from paydue.adapters.db.records import from_row
from paydue.adapters.db.tables import message_templates
from paydue.domain.templates import TemplateSource

t = message_templates


@dataclass(frozen=True, slots=True)
class TemplateRow:
    issuer_id: str
    key: str
    channel: str
    language: str
    subject: str | None
    body_text: str
    body_html: str | None
    updated_at: datetime


class TemplateRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _where(
        self, issuer_id: str, key: str, channel: str, language: str
    ) -> sa.ColumnElement[bool]:
        return sa.and_(
            t.c.issuer_id == issuer_id,
            t.c.key == key,
            t.c.channel == channel,
            t.c.language == language,
        )

    def get(self, issuer_id: str, key: str, channel: str, language: str) -> TemplateRow | None:
        row = self.conn.execute(
            sa.select(t).where(self._where(issuer_id, key, channel, language))
        ).first()
        return from_row(TemplateRow, row) if row else None

    def list(self, issuer_id: str) -> list[TemplateRow]:
        rows = self.conn.execute(
            sa.select(t)
            .where(t.c.issuer_id == issuer_id)
            .order_by(t.c.key, t.c.channel, t.c.language)
        )
        return [from_row(TemplateRow, r) for r in rows]

    def put(
        self,
        issuer_id: str,
        key: str,
        channel: str,
        language: str,
        source: TemplateSource,
        now: datetime,
    ) -> None:
        """Create or replace the issuer's template."""
        values = {
            "subject": source.subject,
            "body_text": source.text,
            "body_html": source.html,
            "updated_at": now,
        }
        stmt = insert(self.conn, t).values(
            issuer_id=issuer_id, key=key, channel=channel, language=language, **values
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.issuer_id, t.c.key, t.c.channel, t.c.language], set_=values
            )
        )

    def delete(self, issuer_id: str, key: str, channel: str, language: str) -> bool:
        """Drop the issuer's template; whether there was one."""
        gone = self.conn.execute(
            sa.delete(t).where(self._where(issuer_id, key, channel, language)).returning(t.c.key)
        ).first()
        return gone is not None

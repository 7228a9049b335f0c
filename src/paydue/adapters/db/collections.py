"""Collections: policies, settings, the follow-up state of invoices and payers, payer channels
and messages. Every query is scoped by issuer, except the sweep's search for due work, which
spans issuers and returns their ids with each row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.dialect import insert
from paydue.adapters.db.keysets import in_keys
from paydue.adapters.db.tables import (
    collection_settings,
    invoice_collection,
    invoices,
    message_invoices,
    messages,
    payer_channels,
    payer_collection,
    payers,
    policies,
)

PayerKey = tuple[str, str]
"""(issuer_id, payer_id)"""


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    issuer_id: str
    id: str
    name: str
    document: dict[str, Any]
    is_default: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PayerFollowUp:
    policy_id: str | None = None
    paused: bool = False
    paused_until: date | None = None
    preferred_channel: str | None = None


@dataclass(frozen=True, slots=True)
class PayerChannel:
    channel: str
    address: str | None
    consent: bool | None
    opted_out: bool
    hard_bounced_on: date | None
    failures: int


@dataclass(frozen=True, slots=True)
class DueRow:
    """One invoice the sweep looks at, with what it needs of the invoice and its payer."""

    issuer_id: str
    invoice_id: str
    payer_id: str
    policy_id: str | None
    sent_offsets: list[int]
    next_action_at: datetime | None
    paused: bool
    paused_until: date | None
    promise_to_pay_on: date | None
    disputed_at: datetime | None
    dispute_reason: str | None
    payment_plan_until: date | None
    payment_plan_note: str | None
    number: str
    status: str
    amount: int
    amount_paid: int
    currency: str
    due_date: date
    payer_ref: str
    payer_name: str
    payer_email: str | None
    payer_phone: str | None
    payer_language: str | None
    payer_timezone: str | None
    payer_address: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Message:
    issuer_id: str
    id: str
    kind: str
    payer_id: str
    subject_key: str
    step_offset: int | None
    attempt: int
    template: str | None
    channel: str
    to: str | None
    status: str
    explanation: str
    subject: str | None
    body: str | None
    html: str | None
    language: str | None
    pay_link_id: str | None
    pay_url: str | None
    cost: int | None
    cost_currency: str | None
    provider_id: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """A message of an invoice's step: what ``domain.channels.Attempt`` is made of."""

    invoice_id: str
    step_offset: int | None
    attempt: int
    message_id: str
    channel: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime


def _message(row: Any) -> Message:
    return Message(**{f: getattr(row, f) for f in Message.__dataclass_fields__})


_DUE_SELECT = sa.select(
    invoice_collection.c.issuer_id,
    invoice_collection.c.invoice_id,
    invoice_collection.c.payer_id,
    invoice_collection.c.policy_id,
    invoice_collection.c.sent_offsets,
    invoice_collection.c.next_action_at,
    invoice_collection.c.paused,
    invoice_collection.c.paused_until,
    invoice_collection.c.promise_to_pay_on,
    invoice_collection.c.disputed_at,
    invoice_collection.c.dispute_reason,
    invoice_collection.c.payment_plan_until,
    invoice_collection.c.payment_plan_note,
    invoices.c.number,
    invoices.c.status,
    invoices.c.amount,
    invoices.c.amount_paid,
    invoices.c.currency,
    invoices.c.due_date,
    payers.c.ref.label("payer_ref"),
    payers.c.name.label("payer_name"),
    payers.c.email.label("payer_email"),
    payers.c.phone.label("payer_phone"),
    payers.c.language.label("payer_language"),
    payers.c.timezone.label("payer_timezone"),
    payers.c.address.label("payer_address"),
).select_from(
    invoice_collection.join(
        invoices,
        sa.and_(
            invoices.c.issuer_id == invoice_collection.c.issuer_id,
            invoices.c.id == invoice_collection.c.invoice_id,
        ),
    ).join(
        payers,
        sa.and_(
            payers.c.issuer_id == invoice_collection.c.issuer_id,
            payers.c.id == invoice_collection.c.payer_id,
        ),
    )
)


_SWEEP_STATE_KEYS = frozenset(
    {"issuer_id", "invoice_id", "sent_offsets", "next_action_at", "hold_reason", "updated_at"}
)

_PG_UPDATE_STATES = sa.text(
    """
    UPDATE invoice_collection AS c
    SET sent_offsets = v.sent_offsets::jsonb, next_action_at = v.next_action_at,
        hold_reason = v.hold_reason, updated_at = v.updated_at
    FROM unnest(
        CAST(:issuer_ids AS varchar[]), CAST(:invoice_ids AS varchar[]),
        CAST(:sent_offsets AS text[]), CAST(:next_action_at AS timestamptz[]),
        CAST(:hold_reasons AS varchar[]), CAST(:updated_at AS timestamptz[])
    ) AS v(issuer_id, invoice_id, sent_offsets, next_action_at, hold_reason, updated_at)
    WHERE c.issuer_id = v.issuer_id AND c.invoice_id = v.invoice_id
    """
)
"""The sweep's follow-up states of a batch in one statement (PostgreSQL)."""

_CHUNK = 500
"""Rows per ``INSERT … ON CONFLICT DO NOTHING RETURNING`` call: an executemany that SQLAlchemy
sends as multi-row ``VALUES`` ("insertmanyvalues") from one compiled, cached statement, where
a ``.values([…])`` statement would be compiled anew for each batch (most of its cost)."""


class CollectionRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # --- policies -------------------------------------------------------------------------

    def add_policy(self, row: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(policies).values(**row))

    def get_policy(self, issuer_id: str, policy_id: str) -> StoredPolicy | None:
        row = self.conn.execute(
            sa.select(policies).where(policies.c.issuer_id == issuer_id, policies.c.id == policy_id)
        ).first()
        return StoredPolicy(**row._mapping) if row else None

    def policy_named(self, issuer_id: str, name: str) -> StoredPolicy | None:
        row = self.conn.execute(
            sa.select(policies).where(policies.c.issuer_id == issuer_id, policies.c.name == name)
        ).first()
        return StoredPolicy(**row._mapping) if row else None

    def list_policies(self, issuer_id: str) -> list[StoredPolicy]:
        rows = self.conn.execute(
            sa.select(policies).where(policies.c.issuer_id == issuer_id).order_by(policies.c.id)
        ).all()
        return [StoredPolicy(**r._mapping) for r in rows]

    def policies_of(self, issuer_ids: Iterable[str]) -> list[StoredPolicy]:
        rows = self.conn.execute(
            sa.select(policies).where(policies.c.issuer_id.in_(sorted(set(issuer_ids))))
        ).all()
        return [StoredPolicy(**r._mapping) for r in rows]

    def update_policy(self, issuer_id: str, policy_id: str, values: dict[str, Any]) -> None:
        self.conn.execute(
            sa.update(policies)
            .where(policies.c.issuer_id == issuer_id, policies.c.id == policy_id)
            .values(**values)
        )

    def clear_default(self, issuer_id: str, now: datetime) -> None:
        self.conn.execute(
            sa.update(policies)
            .where(policies.c.issuer_id == issuer_id, policies.c.is_default.is_(True))
            .values(is_default=False, updated_at=now)
        )

    def delete_policy(self, issuer_id: str, policy_id: str) -> None:
        self.conn.execute(
            sa.delete(policies).where(policies.c.issuer_id == issuer_id, policies.c.id == policy_id)
        )

    def policy_uses(self, issuer_id: str, policy_id: str) -> int:
        """How many invoices and payers are assigned the policy."""
        total = 0
        for table in (invoice_collection, payer_collection):
            total += self.conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.issuer_id == issuer_id, table.c.policy_id == policy_id)
            ).scalar_one()
        return total

    # --- settings -------------------------------------------------------------------------

    def settings_of(self, issuer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(
            sa.select(collection_settings).where(
                collection_settings.c.issuer_id.in_(sorted(set(issuer_ids)))
            )
        ).all()
        return {r.issuer_id: dict(r._mapping) for r in rows}

    def put_settings(self, issuer_id: str, values: dict[str, Any], now: datetime) -> None:
        stmt = insert(self.conn, collection_settings).values(
            issuer_id=issuer_id, updated_at=now, **values
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[collection_settings.c.issuer_id],
                set_={**values, "updated_at": now},
            )
        )

    # --- payers ---------------------------------------------------------------------------

    def payer_by_ref(self, issuer_id: str, ref: str) -> str | None:
        found: str | None = self.conn.execute(
            sa.select(payers.c.id).where(payers.c.issuer_id == issuer_id, payers.c.ref == ref)
        ).scalar_one_or_none()
        return found

    def payer_follow_ups(self, keys: Sequence[PayerKey]) -> dict[PayerKey, PayerFollowUp]:
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(payer_collection).where(
                in_keys(
                    self.conn, [payer_collection.c.issuer_id, payer_collection.c.payer_id], keys
                )
            )
        ).all()
        return {
            (r.issuer_id, r.payer_id): PayerFollowUp(
                r.policy_id, r.paused, r.paused_until, r.preferred_channel
            )
            for r in rows
        }

    def put_payer_follow_up(
        self, issuer_id: str, payer_id: str, values: dict[str, Any], now: datetime
    ) -> None:
        stmt = insert(self.conn, payer_collection).values(
            issuer_id=issuer_id, payer_id=payer_id, updated_at=now, **values
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[payer_collection.c.issuer_id, payer_collection.c.payer_id],
                set_={**values, "updated_at": now},
            )
        )

    def payer_channels(self, keys: Sequence[PayerKey]) -> dict[PayerKey, list[PayerChannel]]:
        found: dict[PayerKey, list[PayerChannel]] = {}
        if not keys:
            return found
        rows = self.conn.execute(
            sa.select(payer_channels).where(
                in_keys(self.conn, [payer_channels.c.issuer_id, payer_channels.c.payer_id], keys)
            )
        ).all()
        for r in rows:
            found.setdefault((r.issuer_id, r.payer_id), []).append(
                PayerChannel(
                    r.channel, r.address, r.consent, r.opted_out, r.hard_bounced_on, r.failures
                )
            )
        return found

    def put_payer_channel(
        self, issuer_id: str, payer_id: str, channel: str, values: dict[str, Any], now: datetime
    ) -> None:
        stmt = insert(self.conn, payer_channels).values(
            issuer_id=issuer_id, payer_id=payer_id, channel=channel, updated_at=now, **values
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    payer_channels.c.issuer_id,
                    payer_channels.c.payer_id,
                    payer_channels.c.channel,
                ],
                set_={**values, "updated_at": now},
            )
        )

    def count_delivery(
        self, issuer_id: str, payer_id: str, channel: str, outcome: str, on: date, now: datetime
    ) -> None:
        """A delivery report for the payer's channel: ``delivered`` resets the failures in a
        row, ``failed`` counts one, ``bounced`` records a hard bounce."""
        c = payer_channels.c
        if outcome == "delivered":
            values: dict[str, Any] = {"failures": 0}
        elif outcome == "bounced":
            values = {"hard_bounced_on": on}
        else:
            values = {"failures": c.failures + 1}
        done = self.conn.execute(
            sa.update(payer_channels)
            .where(c.issuer_id == issuer_id, c.payer_id == payer_id, c.channel == channel)
            .values(updated_at=now, **values)
        )
        if done.rowcount == 0:
            first = {k: (1 if k == "failures" else v) for k, v in values.items()}
            self.put_payer_channel(issuer_id, payer_id, channel, first, now)

    # --- invoice follow-up ----------------------------------------------------------------

    def add_states(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, invoice_collection, rows)

    def state(self, issuer_id: str, invoice_id: str) -> DueRow | None:
        row = self.conn.execute(
            _DUE_SELECT.where(
                invoice_collection.c.issuer_id == issuer_id,
                invoice_collection.c.invoice_id == invoice_id,
            )
        ).first()
        return DueRow(**row._mapping) if row else None

    def disputed(self, issuer_id: str, invoice_ids: Sequence[str]) -> set[str]:
        """Which of the invoices are disputed."""
        if not invoice_ids:
            return set()
        c = invoice_collection.c
        rows = self.conn.execute(
            sa.select(c.invoice_id).where(
                c.issuer_id == issuer_id,
                c.invoice_id.in_(list(invoice_ids)),
                c.disputed_at.is_not(None),
            )
        ).all()
        return {r.invoice_id for r in rows}

    def due_candidates(
        self, now: datetime, *, after: tuple[datetime, str, str] | None, limit: int
    ) -> list[tuple[datetime, str, str, str]]:
        """Due invoices in (next_action_at, issuer, invoice) order after ``after``: an index
        range scan of ``next_action_at``, so the cost follows the due work."""
        c = invoice_collection.c
        stmt = sa.select(c.next_action_at, c.issuer_id, c.invoice_id, c.payer_id).where(
            c.next_action_at <= now
        )
        if after is not None:
            stmt = stmt.where(sa.tuple_(c.next_action_at, c.issuer_id, c.invoice_id) > after)
        stmt = stmt.order_by(c.next_action_at, c.issuer_id, c.invoice_id).limit(limit)
        return [tuple(r) for r in self.conn.execute(stmt).all()]

    def lock_payers(self, keys: Sequence[PayerKey]) -> list[PayerKey]:
        """Lock the payers' rows for this transaction; on PostgreSQL those another sweep holds
        are skipped (SKIP LOCKED) and left to it. On SQLite the write transaction is the lock."""
        if not keys:
            return []
        stmt = sa.select(payers.c.issuer_id, payers.c.id).where(
            in_keys(self.conn, [payers.c.issuer_id, payers.c.id], keys)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        return [(r.issuer_id, r.id) for r in self.conn.execute(stmt).all()]

    def due_for_payers(self, keys: Sequence[PayerKey], now: datetime) -> list[DueRow]:
        if not keys:
            return []
        c = invoice_collection.c
        rows = self.conn.execute(
            _DUE_SELECT.where(
                in_keys(self.conn, [c.issuer_id, c.payer_id], keys), c.next_action_at <= now
            ).order_by(c.issuer_id, c.payer_id, c.invoice_id)
        ).all()
        return [DueRow(**r._mapping) for r in rows]

    def update_states(self, updates: Sequence[dict[str, Any]]) -> None:
        """Each update names ``issuer_id`` and ``invoice_id`` and the columns to set. The
        sweep's updates (all with the same columns) go in one statement: on PostgreSQL an
        ``UPDATE … FROM unnest(…)`` of one array per column, the same text whatever the batch;
        elsewhere one executemany."""
        if not updates:
            return
        if all(u.keys() == _SWEEP_STATE_KEYS for u in updates):
            if self.conn.dialect.name == "postgresql":
                self.conn.execute(
                    _PG_UPDATE_STATES,
                    {
                        "issuer_ids": [u["issuer_id"] for u in updates],
                        "invoice_ids": [u["invoice_id"] for u in updates],
                        "sent_offsets": [orjson.dumps(u["sent_offsets"]).decode() for u in updates],
                        "next_action_at": [u["next_action_at"] for u in updates],
                        "hold_reasons": [u["hold_reason"] for u in updates],
                        "updated_at": [u["updated_at"] for u in updates],
                    },
                )
                return
            c = invoice_collection.c
            self.conn.execute(
                sa.update(invoice_collection)
                .where(
                    c.issuer_id == sa.bindparam("k_issuer_id"),
                    c.invoice_id == sa.bindparam("k_invoice_id"),
                )
                .values(
                    {
                        name: sa.bindparam(f"v_{name}", type_=c[name].type)
                        for name in _SWEEP_STATE_KEYS - {"issuer_id", "invoice_id"}
                    }
                ),
                [
                    {
                        ("k_" if k in ("issuer_id", "invoice_id") else "v_") + k: v
                        for k, v in u.items()
                    }
                    for u in updates
                ],
            )
            return
        for u in updates:
            values = {k: v for k, v in u.items() if k not in ("issuer_id", "invoice_id")}
            self.conn.execute(
                sa.update(invoice_collection)
                .where(
                    invoice_collection.c.issuer_id == u["issuer_id"],
                    invoice_collection.c.invoice_id == u["invoice_id"],
                )
                .values(**values)
            )

    def put_state(
        self, issuer_id: str, invoice_id: str, payer_id: str, values: dict[str, Any], now: datetime
    ) -> None:
        stmt = insert(self.conn, invoice_collection).values(
            issuer_id=issuer_id,
            invoice_id=invoice_id,
            payer_id=payer_id,
            sent_offsets=[],
            updated_at=now,
            **values,
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[invoice_collection.c.issuer_id, invoice_collection.c.invoice_id],
                set_={**values, "updated_at": now},
            )
        )

    def look_again(
        self,
        issuer_id: str,
        at: datetime,
        *,
        invoice_ids: Sequence[str] | None = None,
        payer_id: str | None = None,
    ) -> None:
        """Have the sweep look at the invoices (or all a payer's) at ``at``: after a change of
        their pause, channels or a delivery report."""
        c = invoice_collection.c
        stmt = sa.update(invoice_collection).where(c.issuer_id == issuer_id)
        if invoice_ids is not None:
            stmt = stmt.where(c.invoice_id.in_(list(invoice_ids)))
        if payer_id is not None:
            stmt = stmt.where(c.payer_id == payer_id)
        self.conn.execute(stmt.values(next_action_at=at, updated_at=at))

    # --- messages -------------------------------------------------------------------------

    def claim_messages(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert the messages (dicts with the same keys) unless their (subject, step,
        attempt) is taken, in multi-row statements; the ids of those that went in."""
        claimed: set[str] = set()
        if not rows:
            return claimed
        for start in range(0, len(rows), _CHUNK):
            stmt = (
                insert(self.conn, messages)
                .on_conflict_do_nothing(
                    index_elements=[
                        messages.c.issuer_id,
                        messages.c.subject_key,
                        messages.c.step_offset,
                        messages.c.attempt,
                    ]
                )
                .returning(messages.c.id)
            )
            claimed.update(self.conn.execute(stmt, list(rows[start : start + _CHUNK])).scalars())
        return claimed

    def claim_steps_of(self, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
        """Claim the (invoice, step, attempt) of many messages in multi-row statements: the
        (message_id, invoice_id) pairs that were claimed."""
        claimed: set[tuple[str, str]] = set()
        mi = message_invoices.c
        for start in range(0, len(rows), _CHUNK):
            stmt = (
                insert(self.conn, message_invoices)
                .on_conflict_do_nothing(
                    index_elements=[mi.issuer_id, mi.invoice_id, mi.step_offset, mi.attempt]
                )
                .returning(mi.message_id, mi.invoice_id)
            )
            found = self.conn.execute(stmt, list(rows[start : start + _CHUNK]))
            claimed.update((r[0], r[1]) for r in found)
        return claimed

    def drop_messages(self, issuer_id: str, message_ids: Sequence[str]) -> None:
        if message_ids:
            self.conn.execute(
                sa.delete(messages).where(
                    messages.c.issuer_id == issuer_id, messages.c.id.in_(list(message_ids))
                )
            )

    def add_message(self, row: dict[str, Any]) -> None:
        self.conn.execute(sa.insert(messages).values(**row))

    def add_message_invoices(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(sa.insert(message_invoices), list(rows))

    def message(self, issuer_id: str, message_id: str) -> Message | None:
        row = self.conn.execute(
            sa.select(messages).where(
                messages.c.issuer_id == issuer_id, messages.c.id == message_id
            )
        ).first()
        return _message(row) if row else None

    def find_message(self, message_id: str) -> Message | None:
        """A message by its id alone, whichever issuer's: for delivery callbacks, which name
        only the message (ids are unique across issuers)."""
        row = self.conn.execute(sa.select(messages).where(messages.c.id == message_id)).first()
        return _message(row) if row else None

    def message_invoice_ids(self, issuer_id: str, message_id: str) -> list[str]:
        return list(
            self.conn.execute(
                sa.select(message_invoices.c.invoice_id)
                .where(
                    message_invoices.c.issuer_id == issuer_id,
                    message_invoices.c.message_id == message_id,
                )
                .order_by(message_invoices.c.invoice_id)
            ).scalars()
        )

    def update_message(
        self, issuer_id: str, message_id: str, values: dict[str, Any], *, only_from: Sequence[str]
    ) -> bool:
        """Set ``values`` if the message's status is one of ``only_from``."""
        done = self.conn.execute(
            sa.update(messages)
            .where(
                messages.c.issuer_id == issuer_id,
                messages.c.id == message_id,
                messages.c.status.in_(list(only_from)),
            )
            .values(**values)
        )
        return done.rowcount == 1

    def list_messages(
        self, issuer_id: str, *, invoice_id: str | None, after_id: str | None, limit: int
    ) -> list[Message]:
        stmt = sa.select(messages).where(messages.c.issuer_id == issuer_id)
        if invoice_id is not None:
            stmt = stmt.where(
                messages.c.id.in_(
                    sa.select(message_invoices.c.message_id).where(
                        message_invoices.c.issuer_id == issuer_id,
                        message_invoices.c.invoice_id == invoice_id,
                    )
                )
            )
        if after_id is not None:
            stmt = stmt.where(messages.c.id > after_id)
        rows = self.conn.execute(stmt.order_by(messages.c.id).limit(limit)).all()
        return [_message(r) for r in rows]

    def invoice_ids_of(self, issuer_id: str, message_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if not message_ids:
            return found
        rows = self.conn.execute(
            sa.select(message_invoices.c.message_id, message_invoices.c.invoice_id)
            .where(
                message_invoices.c.issuer_id == issuer_id,
                message_invoices.c.message_id.in_(list(message_ids)),
            )
            .order_by(message_invoices.c.invoice_id)
        ).all()
        for message_id, invoice_id in rows:
            found.setdefault(message_id, []).append(invoice_id)
        return found

    def contacts_since(
        self, keys: Sequence[PayerKey], since: datetime
    ) -> dict[PayerKey, list[tuple[str, datetime]]]:
        """The payers' messages handed or about to be handed to a channel since ``since``:
        (channel, when), for the weekly caps."""
        found: dict[PayerKey, list[tuple[str, datetime]]] = {}
        if not keys:
            return found
        m = messages.c
        rows = self.conn.execute(
            sa.select(m.issuer_id, m.payer_id, m.channel, m.created_at, m.sent_at).where(
                in_keys(self.conn, [m.issuer_id, m.payer_id], keys),
                m.created_at > since,
                m.status.in_(["queued", "sent", "delivered", "bounced"]),
            )
        ).all()
        for r in rows:
            found.setdefault((r.issuer_id, r.payer_id), []).append(
                (r.channel, r.sent_at or r.created_at)
            )
        return found

    def attempts(self, issuer_id: str, invoice_ids: Sequence[str]) -> list[AttemptRow]:
        """Every reminder message of the invoices, with each invoice's step and attempt."""
        if not invoice_ids:
            return []
        mi, m = message_invoices.c, messages.c
        rows = self.conn.execute(
            sa.select(
                mi.invoice_id,
                mi.step_offset,
                mi.attempt,
                m.id.label("message_id"),
                m.channel,
                m.status,
                m.created_at,
                m.sent_at,
                m.updated_at,
            )
            .select_from(
                message_invoices.join(
                    messages, sa.and_(m.issuer_id == mi.issuer_id, m.id == mi.message_id)
                )
            )
            .where(
                mi.issuer_id == issuer_id,
                mi.invoice_id.in_(list(invoice_ids)),
                m.kind == "reminder",
            )
        ).all()
        return [AttemptRow(**r._mapping) for r in rows]

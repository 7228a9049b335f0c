"""The unit of work: one database transaction and the repositories that share it.

Services record events on the unit of work; ``commit()`` writes them (numbered, with their
webhook delivery jobs) in the same transaction as the change that caused them, then commits.
Nothing is committed by a service: the boundary (an API route, a CLI command, a worker) commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

import sqlalchemy as sa

from paydue.adapters.clock import Clock
from paydue.adapters.db.collections import CollectionRepository
from paydue.adapters.db.events import EventLog
from paydue.adapters.db.idempotency import IdempotencyRepository
from paydue.adapters.db.invoices import InvoiceRepository
from paydue.adapters.db.issuers import IssuerRepository
from paydue.adapters.db.jobs import JobQueue
from paydue.adapters.db.paylinks import PayLinkRepository
from paydue.adapters.db.payments import PaymentRepository
from paydue.adapters.db.payouts import PayoutRepository
from paydue.adapters.db.records import StoredEvent
from paydue.adapters.db.statements import StatementRepository
from paydue.adapters.db.templates import TemplateRepository
from paydue.adapters.db.webhooks import WebhookRepository
from paydue.domain.events import Event


class UnitOfWork:
    conn: sa.Connection
    issuers: IssuerRepository
    invoices: InvoiceRepository
    pay_links: PayLinkRepository
    payments: PaymentRepository
    payouts: PayoutRepository
    events: EventLog
    jobs: JobQueue
    webhooks: WebhookRepository
    idempotency: IdempotencyRepository
    statements: StatementRepository
    collections: CollectionRepository

    def __init__(
        self,
        engine: sa.Engine,
        clock: Clock,
        on_commit: Callable[[], None] | None = None,
        *,
        readonly: bool = False,
    ) -> None:
        self._engine = engine
        self._readonly = readonly
        self.clock = clock
        self._on_commit = on_commit
        self._pending: dict[str, list[Event]] = {}

    def __enter__(self) -> UnitOfWork:
        self.conn = self._engine.connect()
        if self._readonly:
            self.conn = self.conn.execution_options(paydue_readonly=True)
        self.issuers = IssuerRepository(self.conn)
        self.invoices = InvoiceRepository(self.conn)
        self.pay_links = PayLinkRepository(self.conn)
        self.payments = PaymentRepository(self.conn)
        self.payouts = PayoutRepository(self.conn)
        self.events = EventLog(self.conn)
        self.jobs = JobQueue(self.conn)
        self.webhooks = WebhookRepository(self.conn)
        self.idempotency = IdempotencyRepository(self.conn)
        self.statements = StatementRepository(self.conn)
        self.collections = CollectionRepository(self.conn)
        self.templates = TemplateRepository(self.conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, issuer_id: str, event: Event) -> None:
        """Record an event; it is written at commit, in this transaction."""
        self._pending.setdefault(issuer_id, []).append(event)

    def record_many(self, issuer_id: str, events: list[Event]) -> None:
        self._pending.setdefault(issuer_id, []).extend(events)

    def flush_events(self) -> list[StoredEvent]:
        """Write the recorded events now (commit does this too)."""
        stored: list[StoredEvent] = []
        now = self.now()
        for issuer_id, pending in self._pending.items():
            stored.extend(self.events.append(issuer_id, pending, now))
        self._pending.clear()
        return stored

    def commit(self) -> None:
        stored = self.flush_events()
        self.conn.commit()
        if self._on_commit is not None and stored:
            self._on_commit()

    def rollback(self) -> None:
        self._pending.clear()
        self.conn.rollback()

"""The job queue over the ``jobs`` table.

Claiming takes due jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers
on any number of machines share the work without waiting on each other; on SQLite the write
transaction (BEGIN IMMEDIATE) serialises claims. A claim is a lease: a worker that dies leaves
its jobs ``running`` with an expired lease, and the next claim takes them again. Finishing a job
is fenced by ``locked_by`` so a worker that lost its lease cannot overwrite a newer claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.keysets import in_keys
from paydue.adapters.db.records import Job, from_row
from paydue.adapters.db.tables import jobs
from paydue.services.ids import new_id


class JobQueue:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(
        self,
        issuer_id: str,
        kind: str,
        now: datetime,
        *,
        event_id: str | None = None,
        endpoint_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Job:
        """Enqueue one job, due at ``now``."""
        row = self.conn.execute(
            sa.insert(jobs)
            .values(
                issuer_id=issuer_id,
                id=new_id("job"),
                kind=kind,
                status="pending",
                run_at=now,
                attempts=0,
                event_id=event_id,
                endpoint_id=endpoint_id,
                payload=payload,
                created_at=now,
            )
            .returning(*jobs.c)
        ).one()
        return from_row(Job, row)

    def add_many(self, issuer_id: str, kind: str, now: datetime, payloads: Sequence[Any]) -> None:
        """Enqueue one job of ``kind`` per payload, due at ``now``, in one statement (``COPY``
        on PostgreSQL from 50 rows on)."""
        insert_rows(
            self.conn,
            jobs,
            [
                {
                    "issuer_id": issuer_id,
                    "id": new_id("job"),
                    "kind": kind,
                    "status": "pending",
                    "run_at": now,
                    "attempts": 0,
                    "event_id": None,
                    "endpoint_id": None,
                    "payload": payload,
                    "created_at": now,
                }
                for payload in payloads
            ],
        )

    def claim(self, worker_id: str, now: datetime, *, lease: timedelta, limit: int) -> list[Job]:
        """Lease up to ``limit`` due jobs to ``worker_id`` in one statement: first those whose
        lease expired (their worker died), then pending ones, oldest first.

        Each kind is its own index range (``status``, then ``run_at``), read in order and only
        as far as needed; the expired ones are few and, with enough of them, the pending ones
        are not read at all.
        """
        expired = sa.select(jobs.c.issuer_id, jobs.c.id).where(
            jobs.c.status == "running", jobs.c.lease_expires_at < now
        )
        pending = (
            sa.select(jobs.c.issuer_id, jobs.c.id)
            .where(jobs.c.status == "pending", jobs.c.run_at <= now)
            .order_by(jobs.c.run_at)
        )
        parts = [q.limit(limit) for q in (expired, pending)]
        if self.conn.dialect.name == "postgresql":
            parts = [q.with_for_update(skip_locked=True) for q in parts]
        subqueries = [q.subquery() for q in parts]
        picked = sa.union_all(*(sa.select(q.c.issuer_id, q.c.id) for q in subqueries)).limit(limit)
        rows = self.conn.execute(
            sa.update(jobs)
            .where(sa.tuple_(jobs.c.issuer_id, jobs.c.id).in_(picked.scalar_subquery()))
            .values(
                status="running",
                locked_by=worker_id,
                lease_expires_at=now + lease,
                attempts=jobs.c.attempts + 1,
            )
            .returning(*jobs.c)
        ).all()
        return sorted((from_row(Job, r) for r in rows), key=lambda j: j.run_at)

    def _fenced(self, job: Job, worker_id: str, values: dict[str, Any]) -> bool:
        result = self.conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.issuer_id == job.issuer_id,
                jobs.c.id == job.id,
                jobs.c.status == "running",
                jobs.c.locked_by == worker_id,
                jobs.c.attempts == job.attempts,
            )
            .values(**values)
        )
        return result.rowcount == 1

    def finish_many(self, done: Sequence[Job], worker_id: str, now: datetime) -> set[str]:
        """``finish`` for many jobs in one statement; the ids of those that were finished."""
        if not done:
            return set()
        fence = in_keys(
            self.conn,
            [jobs.c.issuer_id, jobs.c.id, jobs.c.attempts],
            [(j.issuer_id, j.id, j.attempts) for j in done],
        )
        rows = self.conn.execute(
            sa.update(jobs)
            .where(fence, jobs.c.status == "running", jobs.c.locked_by == worker_id)
            .values(status="done", finished_at=now, lease_expires_at=None)
            .returning(jobs.c.id)
        ).all()
        return {r.id for r in rows}

    def retry(self, job: Job, worker_id: str, run_at: datetime, error: str) -> bool:
        return self._fenced(
            job,
            worker_id,
            {
                "status": "pending",
                "run_at": run_at,
                "last_error": error[:1000],
                "lease_expires_at": None,
                "locked_by": None,
            },
        )

    def bury(self, job: Job, worker_id: str, now: datetime, error: str) -> bool:
        """Give up on a job (``dead``): kept for the delivery log and a manual replay."""
        return self._fenced(
            job,
            worker_id,
            {
                "status": "dead",
                "finished_at": now,
                "last_error": error[:1000],
                "lease_expires_at": None,
            },
        )

    def get(self, issuer_id: str, job_id: str) -> Job | None:
        row = self.conn.execute(
            sa.select(jobs).where(jobs.c.issuer_id == issuer_id, jobs.c.id == job_id)
        ).first()
        return from_row(Job, row) if row else None

    def for_endpoint(
        self, issuer_id: str, endpoint_id: str, *, after_id: str | None, limit: int
    ) -> list[Job]:
        stmt = sa.select(jobs).where(
            jobs.c.issuer_id == issuer_id, jobs.c.endpoint_id == endpoint_id
        )
        if after_id is not None:
            stmt = stmt.where(jobs.c.id < after_id)
        rows = self.conn.execute(stmt.order_by(jobs.c.id.desc()).limit(limit)).all()
        return [from_row(Job, r) for r in rows]

    def cancel_pending_for_endpoint(self, issuer_id: str, endpoint_id: str, now: datetime) -> None:
        self.conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.issuer_id == issuer_id,
                jobs.c.endpoint_id == endpoint_id,
                jobs.c.status == "pending",
            )
            .values(status="dead", finished_at=now, last_error="endpoint disabled")
        )

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status))
        return {status: int(n) for status, n in rows}

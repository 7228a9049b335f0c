"""The job worker: one loop claims due jobs in batches and hands each batch to a thread, up to
``worker_batches_in_flight`` batches at once, so the next batch is claimed and started while a
batch waits on its slowest receiver.

``paydue worker`` runs it as its own process (any number of them, on any number of machines,
with PostgreSQL); ``paydue serve`` on SQLite runs it in a thread of the server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from paydue.adapters.channels.letter import LetterExport
from paydue.adapters.db.records import Job
from paydue.bootstrap import Container
from paydue.services import collections
from paydue.services.ids import new_id

log = logging.getLogger(__name__)

MAX_CLAIMS = 20
"""How often a job whose handler keeps failing is claimed before it is given up."""

JobHandler = Callable[[Container, list[Job], str], None]
"""Runs claimed jobs of one kind, a batch, and finishes each (``finish``/``retry``/``bury``,
fenced by worker id). Taking the batch lets a handler read and write for all its jobs in one
transaction each and do their I/O concurrently; a handler without such needs loops."""


def handlers() -> dict[str, JobHandler]:
    """The registry: job kind → handler. A new kind of job is one line here."""
    from paydue.adapters.db.events import WEBHOOK_DELIVERY
    from paydue.services.campaigns import CAMPAIGN_RUN, run_campaigns
    from paydue.services.collections import MESSAGE_SEND, send_messages
    from paydue.services.payments import PAYMENT_NOTIFICATION, process_notifications
    from paydue.services.webhook_delivery import deliver

    return {
        WEBHOOK_DELIVERY: deliver,
        PAYMENT_NOTIFICATION: process_notifications,
        MESSAGE_SEND: send_messages,
        CAMPAIGN_RUN: run_campaigns,
    }


class Worker:
    def __init__(self, container: Container, *, worker_id: str | None = None) -> None:
        self.container = container
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self.handlers = handlers()
        settings = container.settings
        self.lease = timedelta(seconds=settings.worker_lease_seconds)
        self.batch_size = settings.worker_batch_size
        self.batches_in_flight = settings.worker_batches_in_flight
        self.pool = ThreadPoolExecutor(max_workers=self.batches_in_flight, thread_name_prefix="job")
        self.stopping = threading.Event()
        self.last_sweep = time.monotonic()  # the first sweep one period after start

    def claim(self) -> list[Job]:
        with self.container.uow() as uow:
            jobs = uow.jobs.claim(
                self.worker_id, uow.now(), lease=self.lease, limit=self.batch_size
            )
            uow.commit()
        return jobs

    def run_batch(self, kind: str, jobs: list[Job]) -> None:
        """Run the handler of ``kind`` on ``jobs``. If the handler itself fails, its jobs are
        retried in a minute, and given up (``dead``) once they were claimed ``MAX_CLAIMS`` times,
        so one broken job cannot come back for ever."""
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {kind!r}")
            handler(self.container, jobs, self.worker_id)
        except Exception as exc:
            log.exception("%d jobs of kind %s failed", len(jobs), kind)
            with self.container.uow() as uow:
                now = uow.now()
                for job in jobs:
                    if job.attempts >= MAX_CLAIMS:
                        uow.jobs.bury(job, self.worker_id, now, repr(exc))
                    else:
                        uow.jobs.retry(job, self.worker_id, now + timedelta(minutes=1), repr(exc))
                uow.commit()

    def run_jobs(self, jobs: list[Job]) -> None:
        """Run a claimed batch to the end, kind by kind."""
        by_kind: dict[str, list[Job]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, batch in by_kind.items():
            self.run_batch(kind, batch)

    def run_once(self) -> int:
        """Claim one batch and run it to the end in this thread; returns how many jobs ran."""
        jobs = self.claim()
        self.run_jobs(jobs)
        return len(jobs)

    def run_forever(self, wake: threading.Event | None = None) -> None:
        """Claim and run batches until stopped, at most ``batches_in_flight`` at once."""
        poll = self.container.settings.worker_poll_seconds
        window = threading.BoundedSemaphore(self.batches_in_flight)
        log.info("worker %s started", self.worker_id)
        while not self.stopping.is_set():
            window.acquire()
            if self.stopping.is_set():
                break
            try:
                jobs = self.claim()
            except Exception:
                log.exception("claiming jobs failed; retrying")
                jobs = []
            if jobs:
                running = self.pool.submit(self.run_jobs, jobs)
                running.add_done_callback(lambda _: window.release())
                continue
            window.release()
            self.sweep_when_due()
            if wake is not None:
                wake.wait(poll)
                wake.clear()
            else:
                self.stopping.wait(poll)
        self.pool.shutdown(wait=True)

    def sweep_when_due(self) -> None:
        """Run the collections sweep when idle, every ``collections_sweep_seconds`` (0: never).
        Any number of workers may sweep at once: they share the due work (SKIP LOCKED)."""
        every = self.container.settings.collections_sweep_seconds
        if not every or time.monotonic() - self.last_sweep < every:
            return
        self.last_sweep = time.monotonic()
        c = self.container
        letters = c.channels.get("letter")
        if isinstance(letters, LetterExport):
            letters.start_batch()  # the letters of this sweep go to the print house as one batch
        try:
            collections.sweep(
                c.uow, c.clock.now(), c.channels, links=c.links, secret=c.settings.secret_bytes
            )
        except Exception:
            log.exception("the collections sweep failed; it runs again in %g s", every)

    def stop(self) -> None:
        self.stopping.set()


class InProcessWorker:
    """A worker on a background thread of the server process, woken by commits."""

    def __init__(self, container: Container) -> None:
        self.worker = Worker(container)
        self.thread = threading.Thread(
            target=self.worker.run_forever,
            args=(container.work_available,),
            daemon=True,
            name="paydue-worker",
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.worker.container.work_available.set()
        self.thread.join(timeout=10)

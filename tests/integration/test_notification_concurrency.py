"""One notification sent 1,000 times at once to several ``paydue serve`` processes on PostgreSQL,
then processed by two workers at once: one stored notification, one transition, one credit, one
allocation, one ``payment.succeeded`` and one ``invoice.paid``. And a provider resending with
new event ids each time: every notification is stored and processed, the money still once."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydue.adapters.db.tables import jobs, provider_events
from paydue.bootstrap import Container, build
from paydue.services.payments import PAYMENT_NOTIFICATION
from paydue.worker.runner import Worker
from tests.conftest import IssuerHandle, free_port, invoice_body, make_settings
from tests.integration.helpers import count, send_concurrently
from tests.integration.processes import ChildProcesses
from tests.payflow import set_methods, simulator, start_payment, token_of

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

SENDS = 1000
SERVERS = 3
AMOUNT = 4711
PAYDUE = Path(sys.executable).with_name("paydue")


class ServerProcesses(ChildProcesses):
    """``paydue serve`` processes on the test's database, each on its own port."""

    def __init__(self, container: Container, workdir: Path) -> None:
        env = {
            "PAYDUE_DATABASE_URL": container.settings.database_url,
            "PAYDUE_SECRET_KEY": container.settings.secret_key,
            "PAYDUE_BASE_URL": container.settings.base_url,
            # A few connections each: the servers share PostgreSQL with other test runs.
            "PAYDUE_DATABASE_POOL_SIZE": "4",
            "PAYDUE_DATABASE_MAX_OVERFLOW": "4",
        }
        super().__init__(workdir, env, "serve")
        self.urls: list[str] = []

    def start(self) -> None:
        port = free_port()
        self.spawn(
            [str(PAYDUE), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
        )
        self.urls.append(f"http://127.0.0.1:{port}")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for n, (proc, url) in enumerate(zip(self.procs, self.urls, strict=True)):
            while True:
                if proc.poll() is not None:
                    log = self.log_path(n).read_text(errors="replace")
                    raise AssertionError(f"server {n} exited with {proc.returncode}:\n{log}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"server {n} did not start")
                time.sleep(0.1)


@pytest.fixture
def servers(container: Container, tmp_path: Path) -> Iterator[ServerProcesses]:
    procs = ServerProcesses(container, tmp_path)
    try:
        for _ in range(SERVERS):
            procs.start()
        procs.wait_ready()
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def charge(client: TestClient, issuer: IssuerHandle) -> tuple[str, str]:
    """A started card payment of a fresh invoice: (invoice id, simulator charge id)."""
    set_methods(client, issuer)
    r = client.post("/v1/invoices", json=invoice_body("INV-1", AMOUNT), headers=issuer.headers)
    assert r.status_code == 201, r.text
    invoice = r.json()
    return invoice["id"], start_payment(client, token_of(invoice["pay_url"]))


def send_to_all(
    servers: ServerProcesses, issuer: IssuerHandle, notes: list[tuple[bytes, dict[str, str]]]
) -> list[httpx.Response]:
    """Send every notification at once, spread over the server processes."""
    urls = [f"{u}/inbound/simulator/{issuer.id}" for u in servers.urls]
    return send_concurrently(
        [
            ("POST", urls[n % len(urls)], {"content": body, "headers": headers})
            for n, (body, headers) in enumerate(notes)
        ]
    )


def run_workers(db_url: str, n: int = 2, timeout: float = 120) -> None:
    """``n`` workers in threads, each with its own container, until no notification job is left
    to run; small batches so the workers take turns on the same payment."""
    containers = [
        build(make_settings(db_url, worker_batch_size=25, database_pool_size=2)) for _ in range(n)
    ]
    workers = [Worker(c, worker_id=f"concurrent-worker-{i}") for i, c in enumerate(containers)]
    errors: list[BaseException] = []
    deadline = time.monotonic() + timeout

    def open_jobs() -> int:
        with containers[0].engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(jobs)
                    .where(jobs.c.kind == PAYMENT_NOTIFICATION, jobs.c.status != "done")
                ).scalar_one()
            )

    def loop(worker: Worker) -> None:
        try:
            while open_jobs() and time.monotonic() < deadline:
                if not worker.run_once():
                    time.sleep(0.02)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in containers:
            c.close()
    assert not errors, errors
    with containers[0].engine.connect() as conn:
        failed = conn.execute(
            sa.select(jobs.c.status, jobs.c.last_error).where(jobs.c.status != "done")
        ).all()
    assert not failed, f"jobs left over: {failed[:5]}"


def effects(container: Container, issuer: IssuerHandle, invoice_id: str) -> dict[str, Any]:
    engine = container.engine
    with container.uow(readonly=True) as uow:
        [payment] = uow.payments.page(issuer.id, invoice_id=invoice_id, after=None, limit=10)
        invoice = uow.invoices.get(issuer.id, invoice_id)
    assert invoice is not None
    return {
        "payment": payment.status.value,
        "invoice": (invoice.status.value, invoice.amount_paid),
        "credits": count(engine, "credits", issuer_id=issuer.id),
        "allocations": count(engine, "allocations", issuer_id=issuer.id),
        "payment.succeeded": count(engine, "events", type="payment.succeeded"),
        "credit.received": count(engine, "events", type="credit.received"),
        "invoice.paid": count(engine, "events", type="invoice.paid"),
        "payment.review_required": count(engine, "events", type="payment.review_required"),
    }


ONCE = {
    "payment": "succeeded",
    "invoice": ("paid", AMOUNT),
    "credits": 1,
    "allocations": 1,
    "payment.succeeded": 1,
    "credit.received": 1,
    "invoice.paid": 1,
    "payment.review_required": 0,
}


def test_one_notification_sent_a_thousand_times_to_several_servers_takes_effect_once(
    db_url: str,
    container: Container,
    issuer: IssuerHandle,
    charge: tuple[str, str],
    servers: ServerProcesses,
) -> None:
    invoice_id, charge_id = charge
    sim = simulator(container)
    found = sim.charge(charge_id)
    assert found is not None
    note = sim.notification(found, "succeeded", event_id="evt_sent_a_thousand_times")

    responses = send_to_all(servers, issuer, [note] * SENDS)

    assert [r.status_code for r in responses] == [200] * SENDS, next(
        r.text for r in responses if r.status_code != 200
    )
    answers = [r.json() for r in responses]
    assert answers.count({"received": True, "duplicate": False}) == 1
    assert answers.count({"received": True, "duplicate": True}) == SENDS - 1
    assert count(container.engine, "provider_events") == 1
    assert count(container.engine, "jobs", kind=PAYMENT_NOTIFICATION) == 1

    run_workers(db_url)

    assert effects(container, issuer, invoice_id) == ONCE
    with container.engine.connect() as conn:
        [stored] = conn.execute(sa.select(provider_events)).all()
    assert (stored.status, stored.outcome) == ("processed", "succeeded")


def test_a_thousand_resends_with_new_event_ids_pay_the_invoice_once(
    db_url: str,
    container: Container,
    issuer: IssuerHandle,
    charge: tuple[str, str],
    servers: ServerProcesses,
) -> None:
    invoice_id, charge_id = charge
    sim = simulator(container)
    found = sim.charge(charge_id)
    assert found is not None
    # A provider that resends with a new id each time, some of them a late "pending".
    notes = [
        sim.notification(found, "pending" if n % 4 == 0 else "succeeded") for n in range(SENDS)
    ]

    responses = send_to_all(servers, issuer, notes)

    assert [r.status_code for r in responses] == [200] * SENDS, next(
        r.text for r in responses if r.status_code != 200
    )
    assert all(r.json() == {"received": True, "duplicate": False} for r in responses)
    assert count(container.engine, "provider_events") == SENDS
    assert count(container.engine, "jobs", kind=PAYMENT_NOTIFICATION) == SENDS

    run_workers(db_url)

    assert effects(container, issuer, invoice_id) == ONCE
    assert count(container.engine, "provider_events", status="processed") == SENDS
    assert count(container.engine, "events", type="payment.pending") <= 1

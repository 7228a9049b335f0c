"""A worker killed while it holds a delivery loses nothing: another worker delivers it once the
lease expires, with the same ``webhook-id``. Real worker processes, SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container, build
from paydue.web.app import create_app
from tests.conftest import TEST_SECRET, invoice_body, make_settings, new_issuer
from tests.integration.processes import ChildProcesses
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow


class WorkerProcesses(ChildProcesses):
    """``python -m paydue.worker`` processes on the test's database; all stopped at the end."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        env = {
            "PAYDUE_DATABASE_URL": db_url,
            "PAYDUE_SECRET_KEY": TEST_SECRET,
            "PAYDUE_WORKER_LEASE_SECONDS": "2",
            # A lease this short must outlive a batch: small batches, short timeouts.
            "PAYDUE_WORKER_BATCH_SIZE": "10",
            "PAYDUE_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "0.5",
            "PAYDUE_WEBHOOK_TIMEOUT_SECONDS": "1",
            "PAYDUE_WORKER_POLL_SECONDS": "0.1",
            "PAYDUE_WEBHOOK_ALLOW_PRIVATE": "true",
        }
        super().__init__(workdir, env, "worker")

    def start(self) -> subprocess.Popen[bytes]:
        return self.spawn([sys.executable, "-m", "paydue.worker"])


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(db_url, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def container(db_url: str) -> Iterator[Container]:
    """The test's own container, allowing the receiver on 127.0.0.1."""
    c = build(make_settings(db_url, webhook_allow_private=True))
    yield c
    c.close()


def _wait_for(condition: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {condition}")
        time.sleep(0.05)


def test_a_killed_workers_delivery_is_made_once_by_the_next_worker(
    container: Container, workers: WorkerProcesses
) -> None:
    issuer = new_issuer(container)
    api = TestClient(create_app(container))
    with Receiver(hold_first=True) as receiver:
        r = api.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["invoice.created"]},
            headers=issuer.headers,
        )
        endpoint = r.json()
        api.post("/v1/invoices", json=invoice_body(), headers=issuer.headers)

        first = workers.start()
        assert receiver.seen.wait(60), "the first worker never sent the delivery"
        first.send_signal(signal.SIGKILL)
        first.wait()
        with container.uow(readonly=True) as uow:
            [held] = uow.jobs.for_endpoint(issuer.id, endpoint["id"], after_id=None, limit=10)
        assert held.status == "running", "the killed worker still held it"

        workers.start()

        def delivered() -> bool:
            with container.uow(readonly=True) as uow:
                job = uow.jobs.get(issuer.id, held.id)
            return job is not None and job.status == "done"

        _wait_for("the second worker delivers", delivered)

    with container.uow(readonly=True) as uow:
        attempts = uow.webhooks.attempts(issuer.id, [held.id])[held.id]
        event = uow.events.get(issuer.id, held.event_id or "")
    assert event is not None
    assert [(a["status_code"], a["error"]) for a in attempts] == [(204, None)]
    assert receiver.ids() == [event.id, event.id], "the lost request and its one redelivery"
    assert receiver.requests[0].body == receiver.requests[1].body

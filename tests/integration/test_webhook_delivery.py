"""Webhook delivery to a real local receiver, on SQLite and PostgreSQL.

The worker runs one batch at a time (``Worker.run_once``), so every test is deterministic; the
retry schedule is walked with a simulated clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container, build
from paydue.domain.webhooks import MAX_ATTEMPTS, RETRY_SCHEDULE
from paydue.web.app import create_app
from paydue.worker.runner import Worker
from tests.conftest import IssuerHandle, invoice_body, make_settings, new_issuer
from tests.webhook_receiver import Receiver

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class Setup:
    """A container, an API client on it and an issuer."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.api = TestClient(create_app(container), raise_server_exceptions=False)
        self.issuer: IssuerHandle = new_issuer(container)
        self.worker = Worker(container)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.api.post(path, json=body or {}, headers=self.issuer.headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = self.api.get(path, headers=self.issuer.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def endpoint(self, url: str, event_types: list[str] | None = None) -> Any:
        return self.post("/v1/webhook-endpoints", {"url": url, "event_types": event_types or ["*"]})

    def drain(self) -> int:
        """Run the worker until no job is due; how many jobs ran."""
        total = 0
        for _ in range(100):
            ran = self.worker.run_once()
            if ran == 0:
                return total
            total += ran
        raise AssertionError("the worker kept finding due jobs")

    def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get(
            f"/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=100"
        )["data"]
        return data

    def feed(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get("/v1/events?limit=1000")["data"]
        return data


@contextmanager
def _setup(db_url: str, clock: SimulatedClock | None = None, **settings: Any) -> Iterator[Setup]:
    settings.setdefault("webhook_allow_private", True)
    container = build(make_settings(db_url, **settings), clock=clock)
    s = Setup(container)
    try:
        yield s
    finally:
        s.worker.pool.shutdown()
        container.close()


@pytest.fixture
def live(db_url: str) -> Iterator[Setup]:
    """System clock: signatures carry the real time, as receivers check it."""
    with _setup(db_url) as s:
        yield s


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def sim(db_url: str, clock: SimulatedClock) -> Iterator[Setup]:
    with _setup(db_url, clock=clock) as s:
        yield s


def test_each_event_of_an_invoice_lifecycle_arrives_once_signed_and_as_in_the_feed(
    live: Setup,
) -> None:
    with Receiver() as receiver:
        endpoint = live.endpoint(receiver.url)
        invoice = live.post("/v1/invoices", invoice_body(amount=10000))
        for amount in (4000, 6000):
            live.post(
                f"/v1/invoices/{invoice['id']}/external-payments",
                {"amount": amount, "date": "2026-11-20"},
            )
        live.drain()

    feed = {e["id"]: e for e in live.feed()}
    assert [e["type"] for e in feed.values()] == [
        "invoice.created",
        "credit.received",
        "invoice.partially_paid",
        "credit.received",
        "invoice.paid",
    ]
    assert sorted(receiver.ids()) == sorted(feed)
    verifier = Webhook(endpoint["secret"])
    for request in receiver.requests:
        verifier.verify(request.body, request.headers)
        assert json.loads(request.body) == feed[request.headers["webhook-id"]]
        assert request.headers["user-agent"].startswith("paydue-webhooks/")
    log = live.deliveries(endpoint["id"])
    assert {d["status"] for d in log} == {"succeeded"}
    assert all([(a["attempt"], a["status_code"]) for a in d["attempts"]] == [(1, 204)] for d in log)


def test_failures_are_retried_exactly_on_schedule_for_over_72_hours_then_given_up(
    sim: Setup, clock: SimulatedClock
) -> None:
    with Receiver(status=500) as receiver:
        receiver.response_body = b"E" * 5000
        endpoint = sim.endpoint(receiver.url, ["invoice.created"])
        sim.post("/v1/invoices", invoice_body())
        expected = [START]
        assert sim.worker.run_once() == 1
        for delay in RETRY_SCHEDULE:
            clock.advance(delay - timedelta(seconds=1))
            assert sim.worker.run_once() == 0, "an attempt came before its time"
            clock.advance(timedelta(seconds=1))
            expected.append(clock.now())
            assert sim.worker.run_once() == 1
        clock.advance(timedelta(days=30))
        assert sim.worker.run_once() == 0

    [delivery] = sim.deliveries(endpoint["id"])
    attempts = delivery["attempts"]
    assert [datetime.fromisoformat(a["attempted_at"]) for a in attempts] == expected
    assert [a["attempt"] for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))
    assert {a["status_code"] for a in attempts} == {500}
    assert attempts[0]["response_excerpt"] == "E" * 500
    assert expected[-1] - expected[0] >= timedelta(hours=72)
    assert delivery["status"] == "failed"
    assert "gave up" in delivery["last_error"]
    assert len(set(receiver.ids())) == 1
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_a_410_disables_the_endpoint_records_why_and_stops_its_deliveries(db_url: str) -> None:
    with _setup(db_url, worker_batch_size=1) as s:
        with Receiver(status=410) as gone:
            endpoint = s.endpoint(gone.url, ["invoice.*"])
            s.post("/v1/invoices", invoice_body("INV-1"))
            s.post("/v1/invoices", invoice_body("INV-2"))
            s.drain()
            s.post("/v1/invoices", invoice_body("INV-3"))
            s.drain()

        assert len(gone.requests) == 1
        current = s.get(f"/v1/webhook-endpoints/{endpoint['id']}")
        assert (current["enabled"], current["disabled_reason"]) == (
            False,
            "410 Gone from receiver",
        )
        [disabled] = [e for e in s.feed() if e["type"] == "webhook_endpoint.disabled"]
        assert disabled["data"]["endpoint_id"] == endpoint["id"]
        assert disabled["data"]["reason"] == "410 Gone from receiver"
        log = s.deliveries(endpoint["id"])
        assert len(log) == 2, "the invoice created after the 410 made no delivery"
        assert {d["status"] for d in log} == {"failed"}
        assert sorted(d["last_error"] for d in log) == [
            "endpoint disabled",
            "gone: 410 Gone from receiver",
        ]


def test_replay_delivers_the_event_again_with_the_same_webhook_id(live: Setup) -> None:
    with Receiver() as receiver:
        endpoint = live.endpoint(receiver.url, ["invoice.created"])
        live.post("/v1/invoices", invoice_body())
        live.drain()
        [first] = live.deliveries(endpoint["id"])
        base = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        replayed = live.post(f"{base}/{first['id']}/replay")
        assert (replayed["status"], replayed["event_id"]) == ("pending", first["event_id"])
        assert replayed["id"] != first["id"]
        again = live.post(f"{base}/{first['event_id']}/replay")
        live.drain()

    assert receiver.ids() == [first["event_id"]] * 3
    assert receiver.requests[0].body == receiver.requests[1].body
    statuses = {d["id"]: d["status"] for d in live.deliveries(endpoint["id"])}
    assert statuses == {
        first["id"]: "succeeded",
        replayed["id"]: "succeeded",
        again["id"]: "succeeded",
    }


def test_replay_does_not_re_enable_a_disabled_endpoint(live: Setup) -> None:
    with Receiver() as receiver:
        endpoint = live.endpoint(receiver.url)
        live.post("/v1/invoices", invoice_body())
        live.drain()
        [delivery] = live.deliveries(endpoint["id"])
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        live.api.patch(path, json={"enabled": False}, headers=live.issuer.headers)
        r = live.api.post(f"{path}/deliveries/{delivery['id']}/replay", headers=live.issuer.headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "webhook_endpoint_disabled"
        live.drain()
    assert len(receiver.requests) == 1


def test_the_connect_time_guard_refuses_a_private_address_without_connecting(
    db_url: str, live: Setup
) -> None:
    with Receiver() as receiver:
        endpoint = live.endpoint(receiver.url)  # registered while private addresses are allowed
        live.post("/v1/invoices", invoice_body())
        with _setup(db_url, webhook_allow_private=False) as strict:
            assert strict.drain() == 1
    assert receiver.requests == []
    [delivery] = live.deliveries(endpoint["id"])
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: loopback address 127.0.0.1")
    assert delivery["status"] == "pending", "retried on the schedule"


def test_a_redirect_is_not_followed(live: Setup) -> None:
    with Receiver() as private_target:
        location = f"http://127.0.0.1:{private_target.port}/internal"
        with Receiver(status=302, headers={"location": location}) as receiver:
            endpoint = live.endpoint(receiver.url)
            live.post("/v1/invoices", invoice_body())
            live.drain()
    assert len(receiver.requests) == 1
    assert private_target.requests == []
    [delivery] = live.deliveries(endpoint["id"])
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 302
    assert attempt["error"] == f"redirect not followed (302 to {location})"
    assert delivery["status"] == "pending"


def test_a_rotated_secret_signs_the_next_deliveries(live: Setup) -> None:
    with Receiver() as receiver:
        endpoint = live.endpoint(receiver.url)
        rotated = live.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
        assert rotated["secret"] != endpoint["secret"]
        live.post("/v1/invoices", invoice_body())
        live.drain()
    [request] = receiver.requests
    Webhook(rotated["secret"]).verify(request.body, request.headers)

"""``Idempotency-Key``: a retried POST has its effect once, and is answered like the first time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container
from paydue.web.app import create_app
from paydue.web.idempotency import fingerprint
from tests.conftest import IssuerHandle, LiveServer, invoice_body, new_issuer
from tests.integration.helpers import count, send_concurrently

CONCURRENT = 100


def post(
    client: TestClient, issuer: IssuerHandle, path: str, body: Any, key: str | None = None
) -> Any:
    headers = dict(issuer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def effects(container: Container) -> dict[str, int]:
    """What a retried request must not repeat: rows written and events recorded."""
    engine = container.engine
    return {
        "invoices": count(engine, "invoices"),
        "pay_links": count(engine, "pay_links"),
        "credits": count(engine, "credits"),
        "allocations": count(engine, "allocations"),
        "invoice.created": count(engine, "events", type="invoice.created"),
        "credit.received": count(engine, "events", type="credit.received"),
        "events": count(engine, "events"),
    }


def operation(
    name: str, client: TestClient, issuer: IssuerHandle
) -> tuple[str, dict[str, Any], dict[str, int]]:
    """Path, body and the effect (rows and events) that one request of ``name`` has."""
    if name == "invoice":
        one = {"invoices": 1, "pay_links": 1, "invoice.created": 1, "events": 1}
        return "/v1/invoices", invoice_body("IDEM-1"), one
    if name == "batch":
        body = {"invoices": [invoice_body(f"IDEM-B{i}") for i in range(3)]}
        three = {"invoices": 3, "pay_links": 3, "invoice.created": 3, "events": 3}
        return "/v1/invoices/batch", body, three
    assert name == "external_payment"
    invoice = post(client, issuer, "/v1/invoices", invoice_body("IDEM-P", amount=10000)).json()
    path = f"/v1/invoices/{invoice['id']}/external-payments"
    booked = {"credits": 1, "allocations": 1, "credit.received": 1, "events": 2}
    return path, {"amount": 2345, "date": "2026-11-20", "note": "cash desk"}, booked


@pytest.mark.parametrize("name", ["invoice", "batch", "external_payment"])
def test_a_hundred_concurrent_requests_with_one_key_have_their_effect_once(
    name: str, container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    path, body, effect = operation(name, client, issuer)
    before = effects(container)
    content = json.dumps(body).encode()
    headers = {
        **issuer.headers,
        "Idempotency-Key": f"concurrent-{name}",
        "Content-Type": "application/json",
    }

    with LiveServer(container) as server:
        url = server.url + path
        responses = send_concurrently(
            [("POST", url, {"content": content, "headers": headers})] * CONCURRENT
        )
        assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
        created = [r for r in responses if r.status_code == 201]
        first = [r for r in created if "idempotent-replayed" not in r.headers]
        assert len(first) == 1, "exactly one request did the work"
        assert {r.content for r in created} == {first[0].content}
        assert all(r.headers["idempotent-replayed"] == "true" for r in created if r not in first)
        for refused in (r for r in responses if r.status_code == 409):
            assert refused.json()["error"]["code"] == "idempotency_request_in_progress"

        retry = send_concurrently([("POST", url, {"content": content, "headers": headers})])[0]

    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first[0].content
    after = effects(container)
    assert {k: after[k] - before[k] for k in after} == {k: effect.get(k, 0) for k in after}


def test_a_retried_external_payment_books_the_money_once(
    client: TestClient, issuer: IssuerHandle
) -> None:
    invoice = post(client, issuer, "/v1/invoices", invoice_body(amount=10000)).json()
    path = f"/v1/invoices/{invoice['id']}/external-payments"
    body = {"amount": 4000, "date": "2026-11-20"}
    first = post(client, issuer, path, body, key="pay-1")
    again = post(client, issuer, path, body, key="pay-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    current = client.get(f"/v1/invoices/{invoice['id']}", headers=issuer.headers).json()
    assert (current["amount_paid"], current["status"]) == (4000, "partially_paid")
    # a new key is a new payment
    post(client, issuer, path, body, key="pay-2")
    current = client.get(f"/v1/invoices/{invoice['id']}", headers=issuer.headers).json()
    assert current["amount_paid"] == 8000


@pytest.mark.parametrize(
    ("path", "first", "second"),
    [
        ("/v1/invoices", invoice_body("K-1"), invoice_body("K-2")),
        ("/v1/invoices", invoice_body("K-1", amount=100), invoice_body("K-1", amount=101)),
        (
            "/v1/invoices/batch",
            {"invoices": [invoice_body("K-1")]},
            {"invoices": [invoice_body("K-1"), invoice_body("K-2")]},
        ),
    ],
)
def test_the_same_key_with_another_body_is_refused_and_creates_nothing(
    path: str,
    first: dict[str, Any],
    second: dict[str, Any],
    container: Container,
    client: TestClient,
    issuer: IssuerHandle,
) -> None:
    assert post(client, issuer, path, first, key="reused").status_code == 201
    before = effects(container)
    r = post(client, issuer, path, second, key="reused")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "different request" in error["message"]
    assert effects(container) == before


def test_the_same_key_on_another_endpoint_is_refused(
    container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    invoice = post(client, issuer, "/v1/invoices", invoice_body(), key="one-key").json()
    before = effects(container)
    r = post(client, issuer, f"/v1/invoices/{invoice['id']}/cancel", None, key="one-key")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert effects(container) == before


def request_hash(method: str, path: str, body: bytes) -> str:
    """The fingerprint the server keeps of an idempotent request."""
    return fingerprint(method, path, "", body)


def test_a_request_whose_first_attempt_is_still_running_answers_409_until_its_lock_expires(
    simulated: tuple[Container, SimulatedClock],
) -> None:
    container, clock = simulated
    issuer = new_issuer(container)
    body = json.dumps(invoice_body()).encode()
    now = clock.now()
    lock = timedelta(seconds=container.settings.idempotency_lock_seconds)
    with container.uow() as uow:
        claimed = uow.idempotency.try_lock(
            issuer.id, "in-flight", request_hash("POST", "/v1/invoices", body), now, now + lock
        )
        uow.commit()
    assert claimed is None, "the test holds the claim, as a running first attempt would"
    headers = {**issuer.headers, "Idempotency-Key": "in-flight", "Content-Type": "application/json"}

    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        r = client.post("/v1/invoices", content=body, headers=headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "idempotency_request_in_progress"
        assert "still in progress" in r.json()["error"]["message"]
        assert count(container.engine, "invoices") == 0

        clock.advance(lock - timedelta(seconds=1))
        assert client.post("/v1/invoices", content=body, headers=headers).status_code == 409

        clock.advance(timedelta(seconds=2))  # the first attempt died: its claim is taken over
        r = client.post("/v1/invoices", content=body, headers=headers)
        assert r.status_code == 201, r.text
        assert "idempotent-replayed" not in r.headers
        assert count(container.engine, "invoices") == 1


def test_keys_of_one_issuer_never_collide_with_another_issuers(
    container: Container, client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    mine = post(client, issuer, "/v1/invoices", invoice_body(), key="shared-key")
    theirs = post(client, other_issuer, "/v1/invoices", invoice_body(), key="shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert count(container.engine, "invoices", issuer_id=issuer.id) == 1
    assert count(container.engine, "invoices", issuer_id=other_issuer.id) == 1
    listed = client.get("/v1/invoices", headers=other_issuer.headers).json()["data"]
    assert [i["id"] for i in listed] == [theirs.json()["id"]]


def test_a_refused_request_is_refused_again_the_same_way_with_the_same_key(
    container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    assert post(client, issuer, "/v1/invoices", invoice_body("DUP")).status_code == 201
    first = post(client, issuer, "/v1/invoices", invoice_body("DUP"), key="dup-key")
    assert first.status_code == 409
    assert first.json()["error"]["code"] == "duplicate_number"
    before = effects(container)
    again = post(client, issuer, "/v1/invoices", invoice_body("DUP"), key="dup-key")
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert effects(container) == before


def test_a_request_refused_before_it_started_does_not_use_up_its_key(
    container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    bad = post(client, issuer, "/v1/invoices", invoice_body(amount=-5), key="fix-and-retry")
    assert bad.status_code == 422
    good = post(client, issuer, "/v1/invoices", invoice_body(), key="fix-and-retry")
    assert good.status_code == 201, good.text
    assert count(container.engine, "invoices") == 1


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_idempotency_key_has_one_to_255_characters(
    key: str, container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    r = post(client, issuer, "/v1/invoices", invoice_body(), key=key)
    assert r.status_code == 422
    assert "Idempotency-Key" in r.json()["error"]["message"]
    assert count(container.engine, "invoices") == 0


def test_a_request_that_outlived_its_lock_cannot_store_its_answer_after_a_retry_took_over(
    simulated: tuple[Container, SimulatedClock],
) -> None:
    container, clock = simulated
    issuer = new_issuer(container)
    lock = timedelta(seconds=container.settings.idempotency_lock_seconds)
    digest = request_hash("POST", "/v1/invoices", b"{}")
    with container.uow() as uow:
        now = clock.now()
        assert (
            uow.idempotency.try_lock(issuer.id, "k", digest, now, now + lock, claim="slow") is None
        )
        uow.commit()
    clock.advance(lock + timedelta(seconds=1))
    with container.uow() as uow:
        now = clock.now()
        taken = uow.idempotency.try_lock(issuer.id, "k", digest, now, now + lock, claim="retry")
        assert taken is None, "an expired claim is taken over by the retry"
        assert not uow.idempotency.complete(issuer.id, "k", "slow", 201, b"{}")
        uow.idempotency.release(issuer.id, "k", "slow")  # must not drop the retry's claim
        assert uow.idempotency.complete(issuer.id, "k", "retry", 201, b'{"ok": 1}')
        uow.commit()

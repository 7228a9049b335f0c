"""The notification pipeline through the app and the worker, on SQLite and PostgreSQL: orderings,
forged and unreadable notifications, references that are unknown or another issuer's, amounts
that do not fit, two payments for one invoice, failed-attempt limits, the pay form's CSRF and
method checks, and a worker that loses its job after storing its effects."""

from __future__ import annotations

import time
from itertools import permutations
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydue.adapters.db.jobs import JobQueue
from paydue.adapters.db.tables import jobs, payments, provider_events
from paydue.adapters.providers.simulator import SIGNATURE_HEADER, TOLERANCE_SECONDS, signature
from paydue.bootstrap import Container
from paydue.services.payments import PAYMENT_NOTIFICATION
from tests.conftest import IssuerHandle, invoice_body
from tests.integration.helpers import count, table_contents
from tests.payflow import csrf_of, drain, notify, set_methods, simulator, start_payment, token_of

AMOUNT = 4711


def new_invoice(
    client: TestClient, issuer: IssuerHandle, number: str, amount: int = AMOUNT
) -> dict[str, Any]:
    r = client.post("/v1/invoices", json=invoice_body(number, amount), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> dict[str, Any]:
    set_methods(client, issuer)
    return new_invoice(client, issuer, "INV-1")


def invoice_state(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def payments_of(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/payments?invoice_id={invoice_id}", headers=issuer.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def the_payment(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> dict[str, Any]:
    [payment] = payments_of(client, issuer, invoice_id)
    return payment


def events_of(container: Container, issuer: IssuerHandle, event_type: str) -> int:
    return count(container.engine, "events", issuer_id=issuer.id, type=event_type)


def provider_credits(container: Container, issuer: IssuerHandle) -> int:
    return count(container.engine, "credits", issuer_id=issuer.id, source="provider")


def stored_notifications(container: Container) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(provider_events).order_by(provider_events.c.received_at))
        return [dict(r._mapping) for r in rows]


# --- orderings -------------------------------------------------------------------------------

ORDERINGS = sorted(
    {
        *permutations(["pending", "succeeded"]),
        *permutations(["pending", "failed"]),
        *permutations(["pending", "pending", "succeeded"]),
        *permutations(["pending", "failed", "failed"]),
    }
)


@pytest.mark.parametrize("drain_each", [True, False], ids=["processed-one-by-one", "in-a-batch"])
def test_every_ordering_ends_in_the_providers_final_state(
    client: TestClient, container: Container, issuer: IssuerHandle, drain_each: bool
) -> None:
    set_methods(client, issuer)
    for n, ordering in enumerate(ORDERINGS):
        inv = new_invoice(client, issuer, f"ORD-{n}")
        credits_before = provider_credits(container, issuer)
        charge = start_payment(client, token_of(inv["pay_url"]))
        for status in ordering:
            code = "insufficient_funds" if status == "failed" else None
            assert notify(client, container, charge, status, code).status_code == 200
            if drain_each:
                drain(container)
        drain(container)
        final = "succeeded" if "succeeded" in ordering else "failed"
        payment = the_payment(client, issuer, inv["id"])
        state = invoice_state(client, issuer, inv["id"])
        assert payment["status"] == final, ordering
        if final == "succeeded":
            assert payment["credit_id"] is not None
            assert (state["status"], state["amount_paid"]) == ("paid", AMOUNT), ordering
            assert provider_credits(container, issuer) == credits_before + 1, ordering
        else:
            assert payment["failure_reason"] == "insufficient_funds", ordering
            assert payment["credit_id"] is None
            assert state["amount_paid"] == 0, ordering
            assert state["status"] != "paid"
            assert provider_credits(container, issuer) == credits_before, ordering
    assert events_of(container, issuer, "invoice.paid") == sum("succeeded" in o for o in ORDERINGS)
    assert events_of(container, issuer, "payment.succeeded") == sum(
        "succeeded" in o for o in ORDERINGS
    )
    assert events_of(container, issuer, "payment.failed") == sum("failed" in o for o in ORDERINGS)


def test_a_resent_notification_is_acknowledged_and_applied_once(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    first = notify(client, container, charge, "succeeded", event_id="evt_once")
    again = notify(client, container, charge, "succeeded", event_id="evt_once")
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    drain(container)
    assert notify(client, container, charge, "succeeded", event_id="evt_once").status_code == 200
    assert notify(client, container, charge, "succeeded").status_code == 200  # a new id
    drain(container)
    assert provider_credits(container, issuer) == 1
    assert count(container.engine, "allocations", issuer_id=issuer.id) == 1
    assert events_of(container, issuer, "payment.succeeded") == 1
    assert events_of(container, issuer, "invoice.paid") == 1
    assert [n["status"] for n in stored_notifications(container)] == ["processed", "processed"]


# --- refused notifications change nothing ------------------------------------------------------


def _signed(container: Container, account: str, body: bytes, **kw: Any) -> dict[str, str]:
    sim = simulator(container)
    ts = kw.get("signed_at", int(container.clock.now().timestamp()))
    secret = kw.get("secret", sim.account_secret(account))
    return {"content-type": "application/json", SIGNATURE_HEADER: signature(secret, ts, body)}


def _forgeries(
    container: Container, charge_id: str, account: str
) -> list[tuple[str, bytes, dict[str, str]]]:
    sim = simulator(container)
    charge = sim.charge(charge_id)
    assert charge is not None
    body, headers = sim.notification(charge, "succeeded")
    now = int(container.clock.now().timestamp())
    tampered = body.replace(b'"succeeded"', b'"failed"')
    assert tampered != body
    return [
        ("signed with the wrong key", body, _signed(container, account, body, secret=b"x" * 32)),
        (
            "signed with the server's own key",
            body,
            _signed(container, account, body, secret=container.settings.secret_bytes),
        ),
        ("body tampered", tampered, headers),
        ("body tampered, amount", body.replace(b"4711", b"1"), headers),
        ("header missing", body, {"content-type": "application/json"}),
        ("header empty", body, {SIGNATURE_HEADER: ""}),
        ("header malformed", body, {SIGNATURE_HEADER: "garbage"}),
        ("timestamp not a number", body, {SIGNATURE_HEADER: "t=soon,v1=00"}),
        ("signature missing", body, {SIGNATURE_HEADER: f"t={now}"}),
        ("signature not hex", body, {SIGNATURE_HEADER: f"t={now},v1=zz"}),
        ("stale", body, _signed(container, account, body, signed_at=now - TOLERANCE_SECONDS - 5)),
        (
            "from the future",
            body,
            _signed(container, account, body, signed_at=now + TOLERANCE_SECONDS + 5),
        ),
        ("a day old", body, _signed(container, account, body, signed_at=now - 86400)),
    ]


def test_forged_or_stale_notifications_are_refused_and_store_nothing(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    before = table_contents(container.engine)
    for case, body, headers in _forgeries(container, charge, issuer.id):
        r = client.post(f"/inbound/simulator/{issuer.id}", content=body, headers=headers)
        assert r.status_code == 401, (case, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_notification", case
        assert error["message"], case
    drain(container)
    assert table_contents(container.engine) == before
    assert the_payment(client, issuer, invoice["id"])["status"] == "created"


def test_a_signature_just_inside_the_tolerance_is_accepted(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    # Leave a few seconds of the window for the request itself.
    signed_at = int(time.time()) - TOLERANCE_SECONDS + 10
    assert notify(client, container, charge, "succeeded", signed_at=signed_at).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{", b"[]", b'{"id": "evt_1"}', b'{"id": 1, "charge": {}}', b"\xff\xfe"],
    ids=["empty", "text", "truncated", "list", "no charge", "no fields", "not utf-8"],
)
def test_an_unreadable_but_signed_body_is_400_and_stores_nothing(
    client: TestClient, container: Container, issuer: IssuerHandle, body: bytes
) -> None:
    before = table_contents(container.engine)
    r = client.post(
        f"/inbound/simulator/{issuer.id}", content=body, headers=_signed(container, issuer.id, body)
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"]
    assert table_contents(container.engine) == before


def test_an_unknown_provider_or_issuer_is_404_and_stores_nothing(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    sim = simulator(container)
    found = sim.charge(charge)
    assert found is not None
    body, headers = sim.notification(found, "succeeded")
    before = table_contents(container.engine)
    for url in (
        f"/inbound/stripe/{issuer.id}",
        "/inbound/simulator/iss_01JUNKNOWNISSUER00000000000",
    ):
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 404, (url, r.text)
        assert r.json()["error"]["message"]
    r = client.post(f"/inbound/bank_transfer/{issuer.id}", content=body, headers=headers)
    assert 400 <= r.status_code < 500
    drain(container)
    assert table_contents(container.engine) == before


def _all_but(container: Container, *tables: str) -> dict[str, list[str]]:
    return {k: v for k, v in table_contents(container.engine).items() if k not in tables}


def test_an_unknown_reference_is_acknowledged_stored_as_ignored_and_changes_nothing(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    before = _all_but(container, "provider_events", "jobs")
    r = notify(client, container, charge, "succeeded", reference="pay_01JNOSUCHPAYMENT0000000000")
    assert r.status_code == 200, r.text
    drain(container)
    [stored] = stored_notifications(container)
    assert stored["status"] == "ignored"
    assert "reference" in stored["outcome"]
    assert _all_but(container, "provider_events", "jobs") == before
    assert the_payment(client, issuer, invoice["id"])["status"] == "created"


def test_another_issuers_reference_changes_nothing(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    other_issuer: IssuerHandle,
    invoice: dict[str, Any],
) -> None:
    charge_id = start_payment(client, token_of(invoice["pay_url"]))
    sim = simulator(container)
    charge = sim.charge(charge_id)
    assert charge is not None
    before = _all_but(container, "provider_events", "jobs")
    # Issuer B's account notifies about issuer A's payment, correctly signed with B's key.
    for status in ("succeeded", "failed"):
        body, headers = sim.notification({**charge, "account": other_issuer.id}, status)
        r = client.post(f"/inbound/simulator/{other_issuer.id}", content=body, headers=headers)
        assert r.status_code == 200, r.text
    # And signed with B's key but posted to A's URL: refused outright.
    body, headers = sim.notification({**charge, "account": other_issuer.id}, "succeeded")
    r = client.post(f"/inbound/simulator/{issuer.id}", content=body, headers=headers)
    assert r.status_code == 401, r.text
    drain(container)
    stored = stored_notifications(container)
    assert [(n["issuer_id"], n["status"]) for n in stored] == [(other_issuer.id, "ignored")] * 2
    assert _all_but(container, "provider_events", "jobs") == before
    assert the_payment(client, issuer, invoice["id"])["status"] == "created"
    state = invoice_state(client, issuer, invoice["id"])
    assert (state["status"], state["amount_paid"]) == (invoice["status"], 0)
    assert payments_of(client, other_issuer, invoice["id"]) == []


# --- money that does not fit -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "received"),
    [
        ({"amount": 4000}, (4000, "EUR")),
        ({"amount": 9999}, (9999, "EUR")),
        (
            {"currency": "USD"},
            (AMOUNT, "USD"),
        ),
    ],
    ids=["less", "more", "other currency"],
)
def test_an_amount_mismatch_is_recorded_for_review_and_never_pays_the_invoice(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    invoice: dict[str, Any],
    override: dict[str, Any],
    received: tuple[int, str],
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    assert notify(client, container, charge, "succeeded", **override).status_code == 200
    drain(container)
    payment = the_payment(client, issuer, invoice["id"])
    assert payment["status"] == "succeeded"
    assert payment["review_reason"]
    assert (payment["received_amount"], payment["received_currency"]) == received
    assert payment["credit_id"] is None
    state = invoice_state(client, issuer, invoice["id"])
    assert state["status"] != "paid"
    assert state["amount_paid"] == 0
    assert provider_credits(container, issuer) == 0
    assert events_of(container, issuer, "payment.review_required") == 1
    assert events_of(container, issuer, "invoice.paid") == 0


def test_two_payments_for_one_invoice_both_succeed_and_overpay_it(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    token = token_of(invoice["pay_url"])
    first = start_payment(client, token)
    second = start_payment(client, token)  # a second tab, before the first one finished
    assert notify(client, container, first, "succeeded").status_code == 200
    drain(container)
    assert invoice_state(client, issuer, invoice["id"])["status"] == "paid"
    assert notify(client, container, second, "succeeded").status_code == 200
    drain(container)
    state = invoice_state(client, issuer, invoice["id"])
    assert (state["status"], state["amount_paid"]) == ("overpaid", 2 * AMOUNT)
    both = payments_of(client, issuer, invoice["id"])
    assert sorted(p["status"] for p in both) == ["succeeded", "succeeded"]
    assert all(p["credit_id"] for p in both)
    assert len({p["credit_id"] for p in both}) == 2
    assert provider_credits(container, issuer) == 2
    assert count(container.engine, "allocations", invoice_id=invoice["id"]) == 2
    assert events_of(container, issuer, "invoice.paid") == 1
    assert events_of(container, issuer, "invoice.overpaid") == 1
    assert events_of(container, issuer, "payment.succeeded") == 2


# --- failed attempts ---------------------------------------------------------------------------


def test_failed_payments_count_against_the_link_and_at_the_limit_it_refuses(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    r = client.post(
        f"/v1/invoices/{invoice['id']}/pay-links",
        json={"max_failed_attempts": 2},
        headers=issuer.headers,
    )
    assert r.status_code == 201, r.text
    link = r.json()
    token = token_of(link["url"])
    csrf = csrf_of(client.get(f"/p/{token}").text)

    def failed_attempts() -> int:
        r = client.get(f"/v1/pay-links/{link['id']}", headers=issuer.headers)
        return int(r.json()["failed_attempts"])

    first = start_payment(client, token)
    notify(client, container, first, "failed", "card_expired", event_id="evt_f1")
    notify(client, container, first, "failed", "card_expired", event_id="evt_f1")
    notify(client, container, first, "failed", "card_expired")  # resent with a new id
    drain(container)
    assert failed_attempts() == 1, "one failed payment counts once, however often it is told"
    result = client.get(f"/p/{token}/payments/{the_payment(client, issuer, invoice['id'])['id']}")
    assert result.status_code == 200

    second = start_payment(client, token)
    notify(client, container, second, "failed", "do_not_honor")
    drain(container)
    assert failed_attempts() == 2

    refused = client.get(f"/p/{token}")
    assert refused.status_code == 410, refused.text
    posted = client.post(
        f"/p/{token}/pay",
        data={"method": "simulator:card", "csrf": csrf},
        follow_redirects=False,
    )
    assert 400 <= posted.status_code < 500, posted.text
    assert len(payments_of(client, issuer, invoice["id"])) == 2
    # The invoice's other link has no such limit and still works.
    assert client.get(f"/p/{token_of(invoice['pay_url'])}").status_code == 200


def test_a_cancelled_payment_does_not_count_as_a_failed_attempt(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    notify(client, container, charge, "canceled")
    drain(container)
    payment = the_payment(client, issuer, invoice["id"])
    assert (payment["status"], payment["failure_reason"]) == ("cancelled", "cancelled_by_payer")
    [link] = client.get(f"/v1/invoices/{invoice['id']}/pay-links", headers=issuer.headers).json()[
        "data"
    ]
    assert link["failed_attempts"] == 0


# --- the pay form ------------------------------------------------------------------------------


def test_the_pay_form_without_a_valid_csrf_field_is_refused_and_creates_nothing(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    token = token_of(invoice["pay_url"])
    page = client.get(f"/p/{token}")
    good = csrf_of(page.text)
    before = table_contents(container.engine)
    for data in (
        {"method": "simulator:card"},
        {"method": "simulator:card", "csrf": ""},
        {"method": "simulator:card", "csrf": "x" * len(good)},
        {"method": "simulator:card", "csrf": good[:-1]},
    ):
        r = client.post(f"/p/{token}/pay", data=data, follow_redirects=False)
        assert r.status_code == 403, (data, r.text)
    # The right field without the cookie it belongs to.
    cookies = dict(client.cookies)
    client.cookies.clear()
    r = client.post(
        f"/p/{token}/pay", data={"method": "simulator:card", "csrf": good}, follow_redirects=False
    )
    assert r.status_code == 403, r.text
    assert table_contents(container.engine) == before
    for name, value in cookies.items():
        client.cookies.set(name, value)
    r = client.post(
        f"/p/{token}/pay", data={"method": "simulator:card", "csrf": good}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def test_a_method_that_is_not_eligible_is_not_offered_and_cannot_be_posted(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    set_methods(client, issuer)  # PayPal only up to EUR 800
    big = new_invoice(client, issuer, "BIG-1", 80001)
    small = new_invoice(client, issuer, "SMALL-1", 80000)
    small_page = client.get(f"/p/{token_of(small['pay_url'])}")
    assert 'value="simulator:paypal"' in small_page.text
    token = token_of(big["pay_url"])
    page = client.get(f"/p/{token}")
    assert page.status_code == 200
    assert 'value="simulator:card"' in page.text
    assert 'value="simulator:paypal"' not in page.text
    csrf = csrf_of(page.text)
    before = table_contents(container.engine)
    for method in ("simulator:paypal", "simulator:ideal", "bank_transfer:bank_transfer", "x:y"):
        r = client.post(
            f"/p/{token}/pay", data={"method": method, "csrf": csrf}, follow_redirects=False
        )
        assert 400 <= r.status_code < 500, (method, r.text)
    assert table_contents(container.engine) == before


# --- a worker that loses its job after storing the effects ---------------------------------------


def _notification_jobs(container: Container) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(jobs).where(jobs.c.kind == PAYMENT_NOTIFICATION))
        return [dict(r._mapping) for r in rows]


@pytest.mark.parametrize("how", ["fenced", "crashed"])
def test_a_job_lost_after_its_effects_rolls_them_back_and_a_rerun_applies_once(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    invoice: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    assert notify(client, container, charge, "succeeded").status_code == 200
    before = _all_but(container, "jobs")
    real_finish = JobQueue.finish_many

    def lost(self: JobQueue, done: Any, worker_id: str, now: Any) -> set[str]:
        if any(j.kind == PAYMENT_NOTIFICATION for j in done):
            if how == "crashed":
                raise RuntimeError("the worker died before finishing")
            return set()  # another worker took the job over: the finish is fenced out
        return real_finish(self, done, worker_id, now)

    monkeypatch.setattr(JobQueue, "finish_many", lost)
    drain(container)
    assert _all_but(container, "jobs") == before, "the effects were rolled back"
    [job] = _notification_jobs(container)
    assert job["status"] in ("running", "pending")
    assert the_payment(client, issuer, invoice["id"])["status"] == "created"

    monkeypatch.setattr(JobQueue, "finish_many", real_finish)
    # Time passes: the lease runs out (or the retry falls due) and the job is claimed again.
    past = container.clock.now().replace(year=2000)
    with container.engine.begin() as conn:
        conn.execute(
            sa.update(jobs).where(jobs.c.id == job["id"]).values(lease_expires_at=past, run_at=past)
        )
    drain(container)
    drain(container)
    [job] = _notification_jobs(container)
    assert job["status"] == "done"
    payment = the_payment(client, issuer, invoice["id"])
    assert payment["status"] == "succeeded"
    assert invoice_state(client, issuer, invoice["id"])["status"] == "paid"
    assert provider_credits(container, issuer) == 1
    assert count(container.engine, "allocations", issuer_id=issuer.id) == 1
    assert events_of(container, issuer, "payment.succeeded") == 1
    assert events_of(container, issuer, "invoice.paid") == 1
    [stored] = stored_notifications(container)
    assert stored["status"] == "processed"


def test_the_stored_raw_notification_is_the_exact_body_received(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: dict[str, Any]
) -> None:
    charge = start_payment(client, token_of(invoice["pay_url"]))
    sim = simulator(container)
    found = sim.charge(charge)
    assert found is not None
    body, headers = sim.notification(found, "pending", event_id="evt_raw")
    assert (
        client.post(f"/inbound/simulator/{issuer.id}", content=body, headers=headers).status_code
        == 200
    )
    [stored] = stored_notifications(container)
    assert bytes(stored["payload"]) == body
    assert (stored["event_id"], stored["status"]) == ("evt_raw", "received")
    assert orjson.loads(stored["payload"])["charge"]["reference"] == stored["payment_id"]
    with container.engine.connect() as conn:
        status = conn.execute(sa.select(payments.c.status)).scalar_one()
    assert status == "created", "processing waits for the worker"

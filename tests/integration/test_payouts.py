"""Provider payouts (clearing): payments booked when the provider confirms them, a payout the
provider reports, and the bank credit with its reference that closes the clearing entry — once,
and never as an invoice payment."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydue.bootstrap import Container
from paydue.cli import app
from paydue.services.ids import new_id
from tests.conftest import IssuerHandle, invoice_body
from tests.integration.helpers import count, table_contents
from tests.integration.statement_files import Entry, camt053, upload
from tests.payflow import drain, notify, set_methods, start_payment, token_of

PROVIDER_NAME = "Simulator Payments B.V."


def paid_payments(
    client: TestClient, container: Container, issuer: IssuerHandle, amounts: list[int]
) -> list[dict[str, Any]]:
    """One invoice per amount, each paid in full through the simulator; returns the payments."""
    set_methods(client, issuer)
    charges = []
    for amount in amounts:
        body = invoice_body(f"PO-{new_id('x')[-8:]}", amount)
        invoice = client.post("/v1/invoices", json=body, headers=issuer.headers).json()
        charges.append(start_payment(client, token_of(invoice["pay_url"])))
    for charge in charges:
        assert notify(client, container, charge, "succeeded").status_code == 200
    drain(container)
    payments = client.get("/v1/payments?limit=100", headers=issuer.headers).json()["data"]
    assert [p["status"] for p in payments] == ["succeeded"] * len(amounts)
    return list(payments)


def report_payout(
    client: TestClient,
    issuer: IssuerHandle,
    items: list[dict[str, Any]],
    reference: str = "PO-2026-11-19-0001",
    **headers: str,
) -> Any:
    body = {"provider": "simulator", "reference": reference, "currency": "EUR", "items": items}
    return client.post("/v1/payouts", json=body, headers={**issuer.headers, **headers})


def item(payment: dict[str, Any], fee: int) -> dict[str, Any]:
    return {"payment_id": payment["id"], "amount": payment["amount"], "fee": fee}


def invoices_state(client: TestClient, issuer: IssuerHandle) -> list[tuple[str, str, int]]:
    data = client.get("/v1/invoices?limit=100", headers=issuer.headers).json()["data"]
    return sorted((i["number"], i["status"], i["amount_paid"]) for i in data)


def journal(client: TestClient, issuer: IssuerHandle) -> list[dict[str, Any]]:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    today = container.clock.now().astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()
    r = client.get(f"/v1/reconciliation/journal?date={today}", headers=issuer.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def events(client: TestClient, issuer: IssuerHandle, event_type: str) -> list[dict[str, Any]]:
    data = client.get("/v1/events?limit=100", headers=issuer.headers).json()["data"]
    return [e for e in data if e["type"] == event_type]


@pytest.fixture
def payout(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    payments = paid_payments(client, container, issuer, [10000, 5000])
    r = report_payout(client, issuer, [item(payments[0], 165), item(payments[1], 95)])
    assert r.status_code == 201, r.text
    return r.json(), payments


def test_a_reported_payout_is_open_with_its_totals_and_items(
    client: TestClient, issuer: IssuerHandle, payout: tuple[dict[str, Any], list[Any]]
) -> None:
    created, payments = payout
    assert (created["status"], created["gross"], created["fees"], created["net"]) == (
        "open",
        15000,
        260,
        14740,
    )
    assert {i["payment_id"] for i in created["items"]} == {p["id"] for p in payments}
    assert {i["invoice_id"] for i in created["items"]} == {p["invoice_id"] for p in payments}
    got = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers)
    assert got.json() == created
    listed = client.get("/v1/payouts?status=open", headers=issuer.headers).json()
    assert [p["id"] for p in listed["data"]] == [created["id"]]
    assert client.get("/v1/payouts?status=settled", headers=issuer.headers).json()["data"] == []
    assert [e["data"]["id"] for e in events(client, issuer, "payout.created")] == [created["id"]]
    clearing = client.get("/v1/payouts/clearing", headers=issuer.headers).json()["data"]
    assert clearing == [
        {
            "provider": "simulator",
            "currency": "EUR",
            "not_paid_out": {"payments": 0, "amount": 0},
            "open_payouts": {"payouts": 1, "gross": 15000, "net": 14740},
        }
    ]


def test_the_payout_line_settles_the_payout_once_even_when_imported_twice(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    payout: tuple[dict[str, Any], list[Any]],
) -> None:
    created, _ = payout
    # an open invoice of exactly the net amount, of the same payer name: it must stay open
    client.post("/v1/invoices", json=invoice_body("DECOY-1", 14740), headers=issuer.headers)
    before = invoices_state(client, issuer)
    credits = count(container.engine, "credits")
    statement = camt053(
        [Entry(14740, name=PROVIDER_NAME, text=f"Auszahlung {created['reference']} 19.11.")]
    )

    first = upload(client, issuer, statement)

    assert first.status_code == 201, first.text
    assert (first.json()["counts"]["matched"], first.json()["counts"]["suspense"]) == (1, 0)
    settled = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers).json()
    assert (settled["status"], settled["received_amount"]) == ("settled", 14740)
    statement_id = first.json()["statements"][0]["id"]
    [line] = client.get(f"/v1/statements/{statement_id}", headers=issuer.headers).json()["lines"]
    assert settled["statement_line_id"] == line["id"]
    assert (line["outcome"], line["rule"], line["credit_id"]) == ("matched", "payout", None)
    assert invoices_state(client, issuer) == before, "a payout never pays an invoice"
    assert count(container.engine, "credits") == credits
    rows = [(r["kind"], r["amount"], r["statement_line_id"]) for r in journal(client, issuer)]
    assert rows == [("payout", 14740, line["id"]), ("payout_fee", 260, line["id"])]
    [event] = events(client, issuer, "payout.settled")
    assert event["data"]["status"] == "settled"

    again = upload(client, issuer, statement)

    assert again.status_code == 201, again.text
    assert again.json()["counts"]["duplicate"] == 1
    assert len(events(client, issuer, "payout.settled")) == 1
    assert len(journal(client, issuer)) == 2
    assert invoices_state(client, issuer) == before


def test_a_payout_line_by_end_to_end_id_settles_it(
    client: TestClient, issuer: IssuerHandle, payout: tuple[dict[str, Any], list[Any]]
) -> None:
    created, _ = payout
    upload(client, issuer, camt053([Entry(14740, name=PROVIDER_NAME, e2e=created["reference"])]))
    got = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers).json()
    assert got["status"] == "settled"


def test_a_payout_line_with_an_unexplained_difference_goes_to_suspense(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    payout: tuple[dict[str, Any], list[Any]],
) -> None:
    created, _ = payout
    decoy = client.post(
        "/v1/invoices", json=invoice_body("DECOY-2", 14700), headers=issuer.headers
    ).json()
    before = invoices_state(client, issuer)

    r = upload(
        client,
        issuer,
        camt053([Entry(14700, name="Erika Mustermann", text=created["reference"].lower())]),
    )

    assert r.status_code == 201, r.text
    [item_] = r.json()["suspense_items"]
    assert "unexplained" in item_["reason"]
    [suggestion] = item_["suggestions"]
    assert (suggestion["rule"], suggestion["payout_id"], suggestion["allocations"]) == (
        "payout",
        created["id"],
        [],
    )
    got = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers).json()
    assert (got["status"], got["received_amount"], got["difference"]) == ("difference", 14700, -40)
    assert got["statement_line_id"] == item_["line"]["id"]
    assert invoices_state(client, issuer) == before, "no allocation, not even to the decoy"
    assert [e["data"]["id"] for e in events(client, issuer, "payout.difference")] == [created["id"]]
    assert [r["kind"] for r in journal(client, issuer)] == ["suspense_opened"]

    # a person cannot book the payout's credit on an invoice either
    snapshot = table_contents(container.engine)
    assign = client.post(
        f"/v1/suspense/{item_['id']}/assign",
        json={"allocations": [{"invoice_id": decoy["id"], "amount": 14700}]},
        headers=issuer.headers,
    )
    assert assign.status_code == 409, assign.text
    assert assign.json()["error"]["code"] == "payout_line"
    assert table_contents(container.engine) == snapshot
    resolved = client.post(
        f"/v1/suspense/{item_['id']}/resolve",
        json={"status": "other_income", "note": "fee correction, asked the provider"},
        headers=issuer.headers,
    )
    assert resolved.status_code == 200, resolved.text


def test_a_line_naming_a_settled_payout_again_waits_in_suspense(
    client: TestClient, issuer: IssuerHandle, payout: tuple[dict[str, Any], list[Any]]
) -> None:
    created, _ = payout
    text = f"Payout {created['reference']}"
    upload(client, issuer, camt053([Entry(14740, name=PROVIDER_NAME, text=text)]))
    r = upload(
        client,
        issuer,
        camt053([Entry(14740, name=PROVIDER_NAME, text=text, bank_ref="B-2")], statement_id="S2"),
    )
    [item_] = r.json()["suspense_items"]
    assert "settled already" in item_["reason"]
    got = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers).json()
    assert got["status"] == "settled"


def test_registering_a_payout_twice_with_one_idempotency_key_makes_one(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    payments = paid_payments(client, container, issuer, [2500])
    first = report_payout(client, issuer, [item(payments[0], 60)], **{"Idempotency-Key": "po-1"})
    again = report_payout(client, issuer, [item(payments[0], 60)], **{"Idempotency-Key": "po-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert count(container.engine, "payouts") == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda b, p: b["items"].append(dict(b["items"][0])), 422, "payout_payment_repeated"),
        (lambda b, p: b["items"][0].update(fee=10001), 422, "payout_invalid_fee"),
        (lambda b, p: b["items"][0].update(amount=9999), 422, "payout_amount_mismatch"),
        (lambda b, p: b.update(currency="CHF"), 422, "payout_amount_mismatch"),
        (lambda b, p: b.update(provider="stripe"), 422, "payout_provider_mismatch"),
        (lambda b, p: b["items"][0].update(payment_id="pay_unknown"), 404, "payment_not_found"),
        (lambda b, p: b["items"][0].update(payment_id=p), 409, "payment_not_booked"),
        (lambda b, p: b.update(reference="PO-USED"), 409, "payout_exists"),
        (lambda b, p: b["items"][1].update(payment_id=b["items"][0]["payment_id"]), 422, None),
    ],
    ids=[
        "payment twice",
        "fee over amount",
        "other amount",
        "other currency",
        "other provider",
        "unknown payment",
        "payment not succeeded",
        "reference used",
        "same payment twice",
    ],
)
def test_a_bad_payout_is_refused_naming_the_problem_and_changes_nothing(
    change: Any,
    status: int,
    code: str | None,
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
) -> None:
    payments = paid_payments(client, container, issuer, [10000, 3000, 4000])
    assert report_payout(client, issuer, [item(payments[2], 0)], "PO-USED").status_code == 201
    invoice = client.post("/v1/invoices", json=invoice_body("OPEN-1"), headers=issuer.headers)
    start_payment(client, token_of(invoice.json()["pay_url"]))
    created = client.get("/v1/payments?limit=100", headers=issuer.headers).json()["data"][-1]
    assert created["status"] == "created"
    body = {
        "provider": "simulator",
        "reference": "PO-NEW",
        "currency": "EUR",
        "items": [item(payments[0], 150), item(payments[1], 67)],
    }
    change(body, created["id"])
    before = table_contents(container.engine)

    r = client.post("/v1/payouts", json=body, headers=issuer.headers)

    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
    assert table_contents(container.engine) == before


def test_a_payment_is_paid_out_once(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    payments = paid_payments(client, container, issuer, [1000])
    assert report_payout(client, issuer, [item(payments[0], 39)], "PO-A").status_code == 201
    r = report_payout(client, issuer, [item(payments[0], 39)], "PO-B")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "payment_paid_out"


def test_the_simulator_pays_out_succeeded_payments_with_its_fee(
    db_url: str, client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    payments = paid_payments(client, container, issuer, [10000, 2000])
    clearing = client.get("/v1/payouts/clearing", headers=issuer.headers).json()["data"]
    assert clearing[0]["not_paid_out"] == {"payments": 2, "amount": 12000}

    result = CliRunner().invoke(
        app,
        ["simulator", "payout", "--issuer", issuer.id, "--json"],
        env={"PAYDUE_DATABASE_URL": db_url},
    )

    assert result.exit_code == 0, result.output
    [created] = json.loads(result.stdout)
    # 1.4 % + 0.25: 140 + 25 and 28 + 25
    assert (created["gross"], created["fees"], created["net"]) == (12000, 218, 11782)
    assert created["reference"].startswith("SIMPO")
    assert {i["payment_id"] for i in created["items"]} == {p["id"] for p in payments}
    again = CliRunner().invoke(
        app,
        ["simulator", "payout", "--issuer", issuer.id],
        env={"PAYDUE_DATABASE_URL": db_url},
    )
    assert again.exit_code == 0, again.output
    assert "nothing to pay out" in again.stdout

    upload(client, issuer, camt053([Entry(11782, name=PROVIDER_NAME, text=created["reference"])]))
    got = client.get(f"/v1/payouts/{created['id']}", headers=issuer.headers).json()
    assert got["status"] == "settled"

"""The payment pipeline from the pay page to a paid invoice, through the simulator provider."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from tests.conftest import IssuerHandle, invoice_body
from tests.payflow import drain, notify, set_methods, start_payment, token_of


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> Any:
    set_methods(client, issuer)
    r = client.post("/v1/invoices", json=invoice_body("INV-1", 4711), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _invoice(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> Any:
    return client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers).json()


def _event_types(client: TestClient, issuer: IssuerHandle) -> list[str]:
    r = client.get("/v1/events?limit=100", headers=issuer.headers)
    return [e["type"] for e in r.json()["data"]]


def test_a_card_payment_in_the_simulator_pays_the_invoice(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: Any
) -> None:
    token = token_of(invoice["pay_url"])
    charge = start_payment(client, token)
    assert notify(client, container, charge, "succeeded").status_code == 200
    drain(container)
    paid = _invoice(client, issuer, invoice["id"])
    assert (paid["status"], paid["amount_paid"]) == ("paid", 4711)
    payments = client.get(
        f"/v1/payments?invoice_id={invoice['id']}", headers=issuer.headers
    ).json()["data"]
    assert [(p["status"], p["amount"], p["method"]) for p in payments] == [
        ("succeeded", 4711, "card")
    ]
    types = _event_types(client, issuer)
    for expected in ("payment.created", "payment.succeeded", "credit.received", "invoice.paid"):
        assert expected in types
    result = client.get(f"/p/{token}/payments/{payments[0]['id']}?lang=en")
    assert "We received" in result.text, result.text

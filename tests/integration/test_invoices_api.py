"""The invoice API on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from stdnum import iso11649

from tests.conftest import IssuerHandle, invoice_body


def test_create_invoice_returns_reference_pay_url_and_badge(
    client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.post("/v1/invoices", json=invoice_body(), headers=issuer.headers)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["status"] == "open"
    assert inv["amount_paid"] == 0
    assert iso11649.is_valid(inv["reference"])
    assert inv["pay_url"].startswith("http://testserver/p/")
    assert inv["badge_url"].startswith("http://testserver/b/")
    again = client.get(f"/v1/invoices/{inv['id']}", headers=issuer.headers).json()
    assert again == inv


def test_references_are_unique_per_issuer(client: TestClient, issuer: IssuerHandle) -> None:
    refs = {
        client.post("/v1/invoices", json=invoice_body(f"N{i}"), headers=issuer.headers).json()[
            "reference"
        ]
        for i in range(5)
    }
    assert len(refs) == 5


def test_external_payments_make_an_invoice_partially_paid_then_overpaid(
    client: TestClient, issuer: IssuerHandle
) -> None:
    inv = client.post(
        "/v1/invoices", json=invoice_body(amount=10000), headers=issuer.headers
    ).json()
    url = f"/v1/invoices/{inv['id']}/external-payments"
    r = client.post(url, json={"amount": 4000, "date": "2026-11-20"}, headers=issuer.headers)
    assert r.status_code == 201, r.text
    assert r.json()["invoice"]["status"] == "partially_paid"
    r = client.post(
        url,
        json={"amount": 7000, "date": "2026-11-21", "note": "cash desk"},
        headers=issuer.headers,
    )
    body = r.json()["invoice"]
    assert (body["status"], body["amount_paid"], body["amount_due"]) == ("overpaid", 11000, 0)
    types = [e["type"] for e in client.get("/v1/events", headers=issuer.headers).json()["data"]]
    assert types == [
        "invoice.created",
        "credit.received",
        "invoice.partially_paid",
        "credit.received",
        "invoice.overpaid",
    ]


def test_the_batch_body_is_documented_and_every_schema_reference_resolves(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/invoices/batch"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert schema["properties"]["invoices"]["items"] == {"$ref": "#/components/schemas/InvoiceIn"}
    assert schema["properties"]["invoices"]["maxItems"] == 10_000

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(spec):
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref


def test_a_batch_answers_with_the_resources_its_events_carry(
    client: TestClient, issuer: IssuerHandle
) -> None:
    items = [invoice_body(f"EV-{i}") for i in range(3)]
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    assert r.status_code == 201
    created = r.json()["data"]
    feed = client.get("/v1/events", headers=issuer.headers).json()["data"]
    by_subject = {e["data"]["id"]: e["data"] for e in feed if e["type"] == "invoice.created"}
    assert [by_subject[i["id"]] for i in created] == created
    for invoice in created:
        assert client.get(f"/v1/invoices/{invoice['id']}", headers=issuer.headers).json() == invoice

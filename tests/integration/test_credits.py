"""Booking credits: an automatic decision made on stale numbers is refused, not booked."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from paydue.domain.errors import Conflict
from paydue.services.credits import allocate_credit_split
from tests.conftest import IssuerHandle, invoice_body
from tests.integration.helpers import count


def test_a_credit_decided_on_an_amount_due_that_changed_meanwhile_is_refused_whole(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    invoice = client.post("/v1/invoices", json=invoice_body(amount=5000), headers=issuer.headers)
    invoice_id = invoice.json()["id"]
    paid = client.post(
        f"/v1/invoices/{invoice_id}/external-payments",
        json={"amount": 2000, "date": "2026-11-20"},
        headers=issuer.headers,
    )
    assert paid.status_code == 201
    credits_before = count(container.engine, "credits")

    with container.uow() as uow:
        found = uow.issuers.get(issuer.id)
        assert found is not None
        with pytest.raises(Conflict, match="changed since the decision"):
            allocate_credit_split(
                uow,
                container.links,
                found,
                [(invoice_id, 5000)],
                currency="EUR",
                received_on=date(2026, 11, 21),
                source="bank",
                note=None,
                expected_due={invoice_id: 5000},  # what it owed before the external payment
            )
    assert count(container.engine, "credits") == credits_before
    after = client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers).json()
    assert (after["status"], after["amount_paid"]) == ("partially_paid", 2000)

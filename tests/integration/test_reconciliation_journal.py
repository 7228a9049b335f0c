"""The daily reconciliation journal: every booking of the day, for the issuer's ERP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container
from paydue.web.app import create_app
from tests.conftest import IssuerHandle, new_issuer
from tests.integration.statement_files import Entry, camt053, create_invoices, upload

DAY = "2026-11-15"  # conftest.SIMULATION_START in Europe/Berlin
JOURNAL = "/v1/reconciliation/journal"


@pytest.fixture
def world(
    simulated: tuple[Container, SimulatedClock],
) -> Iterator[tuple[TestClient, IssuerHandle, IssuerHandle]]:
    container, _ = simulated
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client, new_issuer(container), new_issuer(container, "Telco Beispiel AG")


def journal(client: TestClient, issuer: IssuerHandle, **params: str) -> Any:
    return client.get(JOURNAL, params={"date": DAY, **params}, headers=issuer.headers)


def book_a_day(client: TestClient, issuer: IssuerHandle) -> dict[str, Any]:
    """A match, a suspense item assigned by hand, a return of the match and an undo."""
    a, b = create_invoices(client, issuer, [5000, 3000])
    report = upload(
        client,
        issuer,
        camt053(
            [
                Entry(5000, reference=a["reference"], e2e="E2E-A"),
                Entry(3000, text="Abschlag", name="K. Unbekannt", iban="NL91ABNA0417164300"),
            ],
            statement_id="S-1",
        ),
    ).json()
    [item] = report["suspense_items"]
    assign = {"allocations": [{"invoice_id": b["id"], "amount": 3000}]}
    r = client.post(f"/v1/suspense/{item['id']}/assign", json=assign, headers=issuer.headers)
    assert r.status_code == 200, r.text
    returned = camt053([Entry(-5000, e2e="E2E-A", return_reason="AC04")], statement_id="S-2")
    assert upload(client, issuer, returned).json()["counts"]["returned"] == 1
    r = client.post(f"/v1/suspense/{item['id']}/undo", headers=issuer.headers)
    assert r.status_code == 200, r.text
    return {"a": a, "b": b, "item": item, "actor": r.json()["audit"][-1]["actor"]}


def test_the_journal_lists_every_booking_of_the_day_in_order(
    world: tuple[TestClient, IssuerHandle, IssuerHandle],
) -> None:
    client, issuer, other = world
    booked = book_a_day(client, issuer)
    a, b, item = booked["a"], booked["b"], booked["item"]

    r = journal(client, issuer)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["date"], body["timezone"]) == (DAY, "Europe/Berlin")
    rows = [
        (e["kind"], e["amount"], e["currency"], e["invoice_number"], e["rule"], e["actor"])
        for e in body["data"]
    ]
    assert rows == [
        ("bank_credit", 5000, "EUR", a["number"], "reference", None),
        ("suspense_opened", 3000, "EUR", None, None, None),
        ("manual_assignment", 3000, "EUR", b["number"], None, booked["actor"]),
        ("return", -5000, "EUR", a["number"], "end_to_end_id", None),
        ("reversal", -3000, "EUR", b["number"], None, booked["actor"]),
    ]
    credit, opened, assigned, returned, reversal = body["data"]
    assert returned["credit_id"] == credit["credit_id"]
    assert credit["credit_id"]
    assert reversal["credit_id"] == assigned["credit_id"]
    assert assigned["credit_id"]
    assert opened["suspense_item_id"] == item["id"] == assigned["suspense_item_id"]
    assert opened["statement_line_id"] == item["line"]["id"]
    assert returned["detail"] == "AC04"
    assert all(e["statement_line_id"] for e in body["data"])
    assert journal(client, issuer).json() == body
    assert journal(client, other).json()["data"] == []
    assert journal(client, issuer, date="2026-11-16").json()["data"] == []


def test_the_csv_journal_has_a_header_row_and_the_same_entries(
    world: tuple[TestClient, IssuerHandle, IssuerHandle],
) -> None:
    client, issuer, _ = world
    book_a_day(client, issuer)
    entries = journal(client, issuer).json()["data"]

    r = journal(client, issuer, format="csv")

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    assert header[:5] == ["id", "booked_at", "kind", "amount", "currency"]
    assert len(rows) == len(entries) == 5
    for row, entry in zip(rows, entries, strict=True):
        assert row == ["" if entry[c] is None else str(entry[c]) for c in header]


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-1-5", ""])
def test_a_bad_date_is_refused_with_422(
    bad: str, world: tuple[TestClient, IssuerHandle, IssuerHandle]
) -> None:
    client, issuer, _ = world
    r = journal(client, issuer, date=bad)
    assert r.status_code == 422, r.text
    assert "YYYY-MM-DD" in r.text


def test_an_unknown_format_is_refused_with_422(
    world: tuple[TestClient, IssuerHandle, IssuerHandle],
) -> None:
    client, issuer, _ = world
    assert journal(client, issuer, format="xml").status_code == 422

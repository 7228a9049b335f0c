"""Returned payments and chargebacks on a statement reverse the credit they undo, once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from tests.conftest import IBAN, IssuerHandle
from tests.integration.helpers import count, table_contents
from tests.integration.statement_files import PAYER_IBAN, Entry, camt053, create_invoices, upload

SENDER = "NL91ABNA0417164300"


def status_of(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> tuple[str, int]:
    found = client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers).json()
    return found["status"], found["amount_paid"]


def event_types(client: TestClient, issuer: IssuerHandle) -> list[str]:
    events = client.get("/v1/events", params={"limit": 500}, headers=issuer.headers).json()
    return [e["type"] for e in events["data"]]


def lines_of(client: TestClient, issuer: IssuerHandle, report: dict[str, Any]) -> list[Any]:
    [statement] = report["statements"]
    found = client.get(f"/v1/statements/{statement['id']}", headers=issuer.headers).json()
    return found["lines"]  # type: ignore[no-any-return]


def pay(client: TestClient, issuer: IssuerHandle, *entries: Entry) -> list[Any]:
    report = upload(client, issuer, camt053(list(entries), statement_id="S-CREDITS")).json()
    assert report["counts"]["matched"] == len(entries), report
    return lines_of(client, issuer, report)


def mt940(*lines_61_86: tuple[str, str]) -> bytes:
    """An MT940 statement of the issuer's account with (``:61:``, ``:86:``) pairs."""
    body = "".join(f":61:{line}\r\n:86:{details}\r\n" for line, details in lines_61_86)
    return (
        ":20:RETURNS\r\n"
        f":25:{IBAN}\r\n"
        ":28C:1/1\r\n"
        ":60F:C261125EUR1000,00\r\n"
        f"{body}"
        ":62F:C261125EUR0,00\r\n"
        "-\r\n"
    ).encode()


def test_a_returned_direct_debit_reverses_its_credit_once_and_reopens_the_invoice(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    inv, other = create_invoices(client, issuer, [5000, 5000])
    [paid, _] = pay(
        client,
        issuer,
        Entry(5000, reference=inv["reference"], e2e="E2E-1"),
        Entry(5000, reference=other["reference"], e2e="E2E-2"),
    )
    assert status_of(client, issuer, inv["id"]) == ("paid", 5000)
    returned = camt053(
        [
            Entry(
                -5000, e2e="E2E-1", return_reason="AM04", code="PMNT-RDDT-UPDD", booked="2026-11-25"
            )
        ],
        statement_id="S-RETURNS",
    )

    r = upload(client, issuer, returned)

    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["counts"]["returned"], report["counts"]["suspense"]) == (1, 0)
    assert report["statements"][0]["counts"]["returned"] == 1
    [line] = lines_of(client, issuer, report)
    assert (line["outcome"], line["rule"], line["return_reason"]) == (
        "returned",
        "end_to_end_id",
        "AM04",
    )
    assert line["credit_id"] == paid["credit_id"]
    assert status_of(client, issuer, inv["id"]) == ("open", 0)
    assert status_of(client, issuer, other["id"]) == ("paid", 5000)
    types = event_types(client, issuer)
    assert types.count("credit.reversed") == 1
    assert types.count("invoice.open") == 1

    before = table_contents(container.engine)
    again = upload(client, issuer, returned).json()

    assert again["counts"]["duplicate"] == 1
    assert table_contents(container.engine) == before
    assert event_types(client, issuer).count("credit.reversed") == 1


def test_an_mt940_return_without_end_to_end_id_finds_the_credit_by_amount_and_iban(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    [inv] = create_invoices(client, issuer, [12345])
    pay(client, issuer, Entry(12345, reference=inv["reference"]))
    data = mt940(
        (
            "2611251125D123,45NTRFNONREF//RT-77",
            f"/RTRN/AC04//CNTP/{PAYER_IBAN}/COBADEFFXXX/Erika Mustermann///REMI/USTD//retour/",
        )
    )

    report = upload(client, issuer, data).json()

    assert report["counts"]["returned"] == 1, report
    [line] = lines_of(client, issuer, report)
    assert (line["rule"], line["return_reason"]) == ("amount_and_iban", "AC04")
    assert status_of(client, issuer, inv["id"]) == ("open", 0)
    assert count(container.engine, "allocations", invoice_id=inv["id"]) == 2


def test_a_return_that_matches_no_credit_waits_in_suspense(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    [inv] = create_invoices(client, issuer, [5000])
    pay(client, issuer, Entry(5000, reference=inv["reference"]))
    data = camt053([Entry(-7000, return_reason="MS02", e2e="UNKNOWN")], statement_id="S-R")

    report = upload(client, issuer, data).json()

    assert (report["counts"]["returned"], report["counts"]["suspense"]) == (0, 1)
    [item] = report["suspense_items"]
    assert item["line"]["amount"] == -7000
    assert item["line"]["outcome"] == "suspense"
    assert "MS02" in item["reason"]
    assert status_of(client, issuer, inv["id"]) == ("paid", 5000)
    assert "credit.reversed" not in event_types(client, issuer)


def test_a_second_return_of_a_credit_reversed_already_waits_in_suspense(
    client: TestClient, issuer: IssuerHandle
) -> None:
    [inv] = create_invoices(client, issuer, [5000])
    pay(client, issuer, Entry(5000, reference=inv["reference"], e2e="E2E-1"))
    first = camt053(
        [Entry(-5000, e2e="E2E-1", return_reason="MD06", bank_ref="R1")], statement_id="A"
    )
    second = camt053(
        [Entry(-5000, e2e="E2E-1", return_reason="MD06", bank_ref="R2")], statement_id="B"
    )

    assert upload(client, issuer, first).json()["counts"]["returned"] == 1
    report = upload(client, issuer, second).json()

    assert (report["counts"]["returned"], report["counts"]["suspense"]) == (0, 1)
    assert event_types(client, issuer).count("credit.reversed") == 1
    assert status_of(client, issuer, inv["id"]) == ("open", 0)


def test_a_returned_manual_assignment_is_reversed_and_the_reopened_invoice_can_be_paid_again(
    client: TestClient, issuer: IssuerHandle
) -> None:
    [inv] = create_invoices(client, issuer, [3000])
    report = upload(
        client,
        issuer,
        camt053([Entry(3000, text="Abschlag", name="K. Unbekannt", iban=SENDER)], statement_id="X"),
    ).json()
    [item] = report["suspense_items"]
    assigned = client.post(
        f"/v1/suspense/{item['id']}/assign",
        json={"allocations": [{"invoice_id": inv["id"], "amount": 3000}]},
        headers=issuer.headers,
    )
    assert assigned.status_code == 200, assigned.text
    data = camt053(
        [
            Entry(-3000, code="PMNT-RCDT-RRTN", iban=SENDER, booked="2026-11-21"),
            Entry(3000, reference=inv["reference"], booked="2026-11-21"),
        ],
        statement_id="Y",
    )

    report = upload(client, issuer, data).json()

    assert (report["counts"]["returned"], report["counts"]["matched"]) == (1, 1), report
    assert status_of(client, issuer, inv["id"]) == ("paid", 3000)

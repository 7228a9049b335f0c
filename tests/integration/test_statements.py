"""Bank statement import: every booked line once, certain credits booked, the rest in suspense."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydue.adapters.db.tables import allocations
from paydue.bootstrap import Container
from tests.conftest import IssuerHandle
from tests.integration.helpers import count, table_contents
from tests.integration.statement_files import PAYER_IBAN, Entry, camt053, create_invoices, upload
from tests.samples import REJECTED_STATEMENTS, SAMPLES_DIR, statement_files

REJECTED = REJECTED_STATEMENTS


SAMPLES = statement_files()


def invoice(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> dict[str, object]:
    r = client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def event_types(client: TestClient, issuer: IssuerHandle) -> list[str]:
    events = client.get("/v1/events", params={"limit": 500}, headers=issuer.headers).json()
    return [e["type"] for e in events["data"]]


# --- real files -----------------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLES, reason="shared samples folder is absent")
@pytest.mark.parametrize(("folder", "name"), SAMPLES, ids=[f"{f}/{n}" for f, n in SAMPLES])
def test_every_sample_statement_imports_with_an_outcome_for_every_line(
    folder: str, name: str, client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    data = (SAMPLES_DIR / folder / name).read_bytes()
    before = table_contents(container.engine)
    r = upload(client, issuer, data)
    if (folder, name) in REJECTED:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["where"] == "line 1"
        assert table_contents(container.engine) == before
        return
    assert r.status_code == 201, r.text
    report = r.json()
    stored = sum(s["counts"]["total"] for s in report["statements"])
    assert stored == count(container.engine, "statement_lines")
    outcomes = sum(report["counts"][k] for k in ("matched", "suspense", "debit", "ignored"))
    assert outcomes == stored
    assert len(report["suspense_items"]) == report["counts"]["suspense"]
    assert count(container.engine, "suspense_items") == report["counts"]["suspense"]
    for summary in report["statements"]:
        detail = client.get(f"/v1/statements/{summary['id']}", headers=issuer.headers).json()
        assert len(detail["lines"]) == summary["counts"]["total"]
        assert {line["outcome"] for line in detail["lines"]} <= {
            "matched",
            "suspense",
            "debit",
            "ignored",
        }

    again = upload(client, issuer, data).json()
    assert again["statements"] == []
    assert again["counts"]["duplicate"] == report["counts"]["duplicate"] + stored


# --- matching and exactly once ---------------------------------------------------------------


def test_certain_credits_are_booked_the_rest_queued_and_a_second_import_creates_nothing(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    a, b, c = create_invoices(client, issuer, [12000, 4550, 9900])
    data = camt053(
        [
            Entry(12000, reference=a["reference"]),
            Entry(4550, reference=b["reference"]),
            Entry(9900, text=f"Rechnung {c['number']} danke"),
            Entry(777, name="Unbekannt GmbH", iban="NL91ABNA0417164300", text="Spende"),
            Entry(-2500, name="Stadtwerke Einkauf", text="Lastschrift"),
        ]
    )

    r = client.post(
        "/v1/statements",
        content=data,
        headers={**issuer.headers, "Content-Type": "application/xml"},
    )

    assert r.status_code == 201, r.text
    report = r.json()
    assert report["counts"] == {
        "matched": 3,
        "suspense": 1,
        "debit": 1,
        "returned": 0,
        "ignored": 0,
        "duplicate": 0,
        "unbooked": 0,
    }
    for paid in (a, b, c):
        assert invoice(client, issuer, paid["id"])["status"] == "paid"
    [item] = report["suspense_items"]
    assert item["status"] == "open"
    assert item["line"]["amount"] == 777
    [statement] = report["statements"]
    detail = client.get(f"/v1/statements/{statement['id']}", headers=issuer.headers).json()
    lines = detail["lines"]
    assert [line["outcome"] for line in lines] == [
        "matched",
        "matched",
        "matched",
        "suspense",
        "debit",
    ]
    assert [line["rule"] for line in lines[:3]] == ["reference", "reference", "invoice_number"]
    assert all(line["credit_id"] for line in lines[:3])
    types = event_types(client, issuer)
    assert types.count("statement.imported") == 1
    assert types.count("suspense.created") == 1
    assert types.count("credit.received") == 3
    assert count(container.engine, "credits") == 3
    assert count(container.engine, "payer_ibans", iban=PAYER_IBAN) == 1
    listed = client.get("/v1/statements", headers=issuer.headers).json()
    assert [s["id"] for s in listed["data"]] == [statement["id"]]

    before = table_contents(container.engine)
    second = upload(client, issuer, data)

    assert second.status_code == 201, second.text
    assert second.json()["statements"] == []
    assert second.json()["counts"]["duplicate"] == 5
    assert table_contents(container.engine) == before


def test_an_overlapping_statement_imports_only_its_new_lines(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    first, second, third = create_invoices(client, issuer, [1000, 2000, 3000])
    entries = [Entry(inv["amount"], reference=inv["reference"]) for inv in (first, second, third)]
    assert upload(client, issuer, camt053(entries[:2], statement_id="S-1")).status_code == 201

    r = upload(client, issuer, camt053(entries[1:], statement_id="S-2"))

    assert r.status_code == 201, r.text
    counts = r.json()["counts"]
    assert (counts["matched"], counts["duplicate"]) == (1, 1)
    assert count(container.engine, "statement_lines") == 3
    assert count(container.engine, "credits") == 3
    assert [invoice(client, issuer, i["id"])["status"] for i in (first, second, third)] == [
        "paid",
        "paid",
        "paid",
    ]


@pytest.mark.parametrize(
    ("paid", "status"), [(4000, "partially_paid"), (15000, "overpaid")], ids=["partial", "over"]
)
def test_a_credit_with_the_reference_but_another_amount_is_a_partial_or_over_payment(
    paid: int, status: str, client: TestClient, issuer: IssuerHandle
) -> None:
    [inv] = create_invoices(client, issuer, [10000])
    report = upload(client, issuer, camt053([Entry(paid, reference=inv["reference"])])).json()
    assert report["counts"]["matched"] == 1
    after = invoice(client, issuer, inv["id"])
    assert (after["status"], after["amount_paid"]) == (status, paid)


def test_one_transfer_paying_two_invoices_is_one_credit_split_over_both(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    a, b = create_invoices(client, issuer, [2500, 4000])
    text = f"{a['reference']} {b['reference']}"
    report = upload(client, issuer, camt053([Entry(6500, text=text)])).json()

    assert report["counts"]["matched"] == 1
    assert {invoice(client, issuer, i["id"])["status"] for i in (a, b)} == {"paid"}
    assert count(container.engine, "credits") == 1
    with container.engine.connect() as conn:
        split = conn.execute(sa.select(allocations.c.invoice_id, allocations.c.amount)).all()
    assert sorted(split) == sorted([(a["id"], 2500), (b["id"], 4000)])


def test_the_same_invoice_paid_twice_in_one_file_sends_the_second_credit_to_suspense(
    client: TestClient, issuer: IssuerHandle
) -> None:
    [inv] = create_invoices(client, issuer, [5000])
    entries = [Entry(5000, reference=inv["reference"], bank_ref=f"R{i}") for i in range(2)]
    report = upload(client, issuer, camt053(entries)).json()
    assert (report["counts"]["matched"], report["counts"]["suspense"]) == (1, 1)
    assert invoice(client, issuer, inv["id"])["status"] == "paid"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (
            camt053([Entry(100)]).replace(b">1.00<", b">1,00<"),
            "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt",
        ),
        (b"<Document><BkToCstmrStmt><Stmt>", "line 1"),
        (b"this is not a bank statement", "line 1"),
    ],
    ids=["bad amount", "broken xml", "not a statement"],
)
def test_a_malformed_file_is_refused_naming_the_place_and_stores_nothing(
    data: bytes, where: str, client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    create_invoices(client, issuer, [100])
    before = table_contents(container.engine)
    r = upload(client, issuer, data)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_statement"
    assert error["details"]["where"].startswith(where)
    assert where in error["message"]
    assert table_contents(container.engine) == before


def test_a_file_over_the_size_limit_is_refused_with_413(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    from paydue.web.api.v1.statements import MAX_FILE_BYTES

    r = client.post(
        "/v1/statements",
        content=b" " * (MAX_FILE_BYTES + 1),
        headers={**issuer.headers, "Content-Type": "text/plain"},
    )
    assert r.status_code == 413, r.text
    assert count(container.engine, "statements") == 0


def test_an_upload_without_a_file_or_of_another_type_is_refused(
    client: TestClient, issuer: IssuerHandle
) -> None:
    no_file = client.post("/v1/statements", data={"x": "1"}, files={}, headers=issuer.headers)
    assert no_file.status_code == 422
    as_json = client.post("/v1/statements", json={"file": "x"}, headers=issuer.headers)
    assert as_json.status_code == 422
    assert as_json.json()["error"]["code"] == "unsupported_media_type"


def test_an_idempotent_retry_of_an_upload_replays_the_first_answer(
    client: TestClient, issuer: IssuerHandle
) -> None:
    [inv] = create_invoices(client, issuer, [100])
    data = camt053([Entry(100, reference=inv["reference"])])
    first = upload(client, issuer, data, **{"Idempotency-Key": "stmt-1"})
    again = upload(client, issuer, data, **{"Idempotency-Key": "stmt-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()

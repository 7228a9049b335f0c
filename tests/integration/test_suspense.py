"""The suspense queue: list, assign (split), resolve and undo, each audited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydue.bootstrap import Container
from paydue.cli import app
from tests.conftest import IssuerHandle
from tests.integration.helpers import count, table_contents
from tests.integration.statement_files import PAYER_IBAN, Entry, camt053, create_invoices, upload


def queue(client: TestClient, issuer: IssuerHandle, *entries: Entry) -> list[dict[str, Any]]:
    """Import ``entries`` that match nothing; returns their suspense items."""
    report = upload(client, issuer, camt053(list(entries))).json()
    assert report["counts"]["suspense"] == len(entries), report
    return report["suspense_items"]  # type: ignore[no-any-return]


def post(client: TestClient, issuer: IssuerHandle, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/suspense/{path}", json=body, headers=issuer.headers)


def status_of(client: TestClient, issuer: IssuerHandle, invoice_id: str) -> tuple[str, int]:
    found = client.get(f"/v1/invoices/{invoice_id}", headers=issuer.headers).json()
    return found["status"], found["amount_paid"]


def test_an_item_assigned_split_over_two_invoices_books_one_credit_and_learns_the_iban(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    a, b = create_invoices(client, issuer, [3000, 5000])
    [item] = queue(client, issuer, Entry(6000, name="E. M.", text="Abschlag"))
    listed = client.get("/v1/suspense", params={"status": "open"}, headers=issuer.headers).json()
    assert [i["id"] for i in listed["data"]] == [item["id"]]

    r = post(
        client,
        issuer,
        f"{item['id']}/assign",
        {
            "allocations": [
                {"invoice_id": a["id"], "amount": 3000},
                {"invoice_id": b["id"], "amount": 3000},
            ],
            "note": "phoned the payer",
        },
    )

    assert r.status_code == 200, r.text
    assigned = r.json()
    assert assigned["status"] == "assigned"
    assert assigned["resolved_by"].startswith("key_")
    assert status_of(client, issuer, a["id"]) == ("paid", 3000)
    assert status_of(client, issuer, b["id"]) == ("partially_paid", 3000)
    assert count(container.engine, "credits", source="bank") == 1
    assert count(container.engine, "payer_ibans", iban=PAYER_IBAN) == 1
    [audit] = assigned["audit"]
    assert (audit["action"], audit["actor"]) == ("assign", assigned["resolved_by"])
    assert audit["details"]["learned_iban"] == PAYER_IBAN
    assert client.get("/v1/suspense?status=open", headers=issuer.headers).json()["data"] == []

    again = post(
        client,
        issuer,
        f"{item['id']}/assign",
        {"allocations": [{"invoice_id": b["id"], "amount": 6000}]},
    )
    assert again.status_code == 409


def test_undo_reverses_the_assignment_reopens_the_invoices_and_forgets_the_iban(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    [inv] = create_invoices(client, issuer, [4000])
    [item] = queue(client, issuer, Entry(4000, name="Hausverwaltung Nord", text="Strom"))
    body = {"allocations": [{"invoice_id": inv["id"], "amount": 4000}]}
    assert post(client, issuer, f"{item['id']}/assign", body).status_code == 200
    assert status_of(client, issuer, inv["id"]) == ("paid", 4000)

    r = post(client, issuer, f"{item['id']}/undo", {"note": "wrong payer"})

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    assert r.json()["credit_id"] is None
    assert [a["action"] for a in r.json()["audit"]] == ["assign", "undo"]
    assert status_of(client, issuer, inv["id"]) == ("open", 0)
    assert count(container.engine, "payer_ibans") == 0
    types = [e["type"] for e in client.get("/v1/events", headers=issuer.headers).json()["data"]]
    assert {"credit.reversed", "invoice.open", "suspense.reopened"} <= set(types)
    assert post(client, issuer, f"{item['id']}/undo", {}).status_code == 409
    # the money can be assigned again, elsewhere or the same way
    assert post(client, issuer, f"{item['id']}/assign", body).status_code == 200
    assert status_of(client, issuer, inv["id"]) == ("paid", 4000)


def test_allocations_that_do_not_add_up_to_the_line_are_refused_and_change_nothing(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    [inv] = create_invoices(client, issuer, [4000])
    [item] = queue(client, issuer, Entry(4000, name="Hausverwaltung Nord", text="Strom"))
    before = table_contents(container.engine)
    r = post(
        client,
        issuer,
        f"{item['id']}/assign",
        {"allocations": [{"invoice_id": inv["id"], "amount": 3999}]},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "allocations_do_not_add_up"
    unknown = post(
        client,
        issuer,
        f"{item['id']}/assign",
        {"allocations": [{"invoice_id": "inv_01aaaaaaaaaaaaaaaaaaaaaaaa", "amount": 4000}]},
    )
    assert unknown.status_code == 404
    assert table_contents(container.engine) == before


def test_resolving_as_other_income_closes_the_item_and_undo_reopens_it(
    client: TestClient, issuer: IssuerHandle
) -> None:
    [item] = queue(client, issuer, Entry(1234, text="Zinsen"))
    body = {"status": "other_income", "note": "interest"}
    r = post(client, issuer, f"{item['id']}/resolve", body)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"]) == ("other_income", "interest")
    assert post(client, issuer, f"{item['id']}/resolve", body).json()["audit"] == r.json()["audit"]
    refund = post(client, issuer, f"{item['id']}/resolve", {"status": "refund_pending"})
    assert refund.status_code == 409
    assert post(client, issuer, f"{item['id']}/undo", {}).json()["status"] == "open"
    assert (
        post(client, issuer, f"{item['id']}/resolve", {"status": "refund_pending"}).json()["status"]
        == "refund_pending"
    )


def test_the_suspense_list_pages_with_a_cursor_and_filters_by_status(
    client: TestClient, issuer: IssuerHandle
) -> None:
    items = queue(client, issuer, *(Entry(100 + i, text=f"x{i}") for i in range(3)))
    post(client, issuer, f"{items[0]['id']}/resolve", {"status": "other_income"})
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "status": "open"}
        if cursor:
            params["cursor"] = cursor
        got = client.get("/v1/suspense", params=params, headers=issuer.headers).json()
        seen += [i["id"] for i in got["data"]]
        cursor = got["next_cursor"]
        if not got["has_more"]:
            break
    assert seen == [i["id"] for i in items[1:]]
    bad = client.get("/v1/suspense", params={"cursor": "nonsense"}, headers=issuer.headers)
    assert bad.status_code == 422
    unknown = client.get("/v1/suspense", params={"status": "lost"}, headers=issuer.headers)
    assert unknown.status_code == 422


def test_another_issuers_suspense_item_answers_404(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    [item] = queue(client, other_issuer, Entry(500, text="x"))
    assert client.get(f"/v1/suspense/{item['id']}", headers=issuer.headers).status_code == 404
    assert client.get("/v1/suspense", headers=issuer.headers).json()["data"] == []


# --- command line -----------------------------------------------------------------------------


def test_the_cli_imports_a_statement_and_lists_the_suspense_items(
    db_url: str, client: TestClient, issuer: IssuerHandle, tmp_path: Path
) -> None:
    [inv] = create_invoices(client, issuer, [2500])
    path = tmp_path / "statement.xml"
    path.write_bytes(camt053([Entry(2500, reference=inv["reference"]), Entry(99, text="?")]))
    env = {"PAYDUE_DATABASE_URL": db_url}
    args = ["statements", "import", str(path), "--issuer", issuer.id]

    text = CliRunner().invoke(app, args, env=env)
    again = CliRunner().invoke(app, [*args, "--json"], env=env)

    assert text.exit_code == 0, text.output
    assert "1 matched, 1 to suspense" in text.stdout
    assert "sus_" in text.stdout
    assert again.exit_code == 0, again.output
    assert '"duplicate": 2' in again.stdout


def test_the_cli_refuses_a_malformed_file_with_exit_code_1(
    db_url: str, issuer: IssuerHandle, tmp_path: Path, container: Container
) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<Document><BkToCstmrStmt>")
    result = CliRunner().invoke(
        app,
        ["statements", "import", str(path), "--issuer", issuer.id],
        env={"PAYDUE_DATABASE_URL": db_url},
    )
    assert result.exit_code == 1
    assert "line 1" in result.stderr
    assert count(container.engine, "statements") == 0


@pytest.mark.postgres_only
def test_two_processes_importing_the_same_file_at_once_book_every_credit_exactly_once(
    db_url: str, client: TestClient, issuer: IssuerHandle, container: Container, tmp_path: Path
) -> None:
    invoices = create_invoices(client, issuer, [1000 + i for i in range(40)])
    entries = [Entry(i["amount"], reference=i["reference"]) for i in invoices]
    path = tmp_path / "statement.xml"
    path.write_bytes(camt053([*entries, Entry(42, text="unknown")]))
    env = {**os.environ, "PAYDUE_DATABASE_URL": db_url}
    command = [str(Path(sys.executable).with_name("paydue")), "statements", "import", str(path)]
    runs = [
        subprocess.Popen(
            [*command, "--issuer", issuer.id, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], results
    assert count(container.engine, "statement_lines") == 41
    assert count(container.engine, "credits") == 40
    assert count(container.engine, "allocations") == 40
    assert count(container.engine, "suspense_items") == 1
    assert count(container.engine, "statements") == 1
    for inv in invoices:
        assert status_of(client, issuer, inv["id"]) == ("paid", inv["amount"])
    types = [
        e["type"]
        for e in client.get("/v1/events", params={"limit": 500}, headers=issuer.headers).json()[
            "data"
        ]
    ]
    assert types.count("credit.received") == 40
    assert types.count("statement.imported") == 1

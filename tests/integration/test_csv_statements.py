"""CSV bank statements go through the same import once the issuer saved its column mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydue.bootstrap import Container
from paydue.cli import app
from tests.conftest import IssuerHandle
from tests.integration.helpers import table_contents
from tests.integration.statement_files import PAYER_IBAN, create_invoices

MAPPING = {
    "booking_date": "Buchungstag",
    "amount": "Betrag",
    "fixed_currency": "EUR",
    "counterparty_name": "Name",
    "counterparty_iban": "IBAN",
    "remittance_text": "Verwendungszweck",
    "bank_reference": "Referenz",
    "thousands_separator": ".",
}


def csv_file(*rows: str) -> bytes:
    return ("Buchungstag;Name;IBAN;Verwendungszweck;Referenz;Betrag\n" + "".join(rows)).encode()


def post_csv(client: TestClient, issuer: IssuerHandle, data: bytes) -> Any:
    return client.post(
        "/v1/statements",
        files={"file": ("umsaetze.csv", data, "text/csv")},
        headers=issuer.headers,
    )


def save_mapping(client: TestClient, issuer: IssuerHandle, mapping: dict[str, Any]) -> Any:
    return client.put("/v1/statements/csv-mapping", json=mapping, headers=issuer.headers)


def test_a_csv_statement_is_matched_and_booked_once_with_the_saved_mapping(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    [inv] = create_invoices(client, issuer, [123450])
    data = csv_file(
        f"20.11.2026;Erika Mustermann;{PAYER_IBAN};{inv['reference']};B-1;1.234,50\n",
        "20.11.2026;Stadtwerke;;Lastschrift;B-2;-12,00\n",
    )
    assert post_csv(client, issuer, data).status_code == 422

    saved = save_mapping(client, issuer, MAPPING)
    r = post_csv(client, issuer, data)

    assert saved.status_code == 200, saved.text
    assert client.get("/v1/statements/csv-mapping", headers=issuer.headers).json() == saved.json()
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["counts"]["matched"], report["counts"]["debit"]) == (1, 1)
    assert report["statements"][0]["format"] == "csv"
    found = client.get(f"/v1/invoices/{inv['id']}", headers=issuer.headers).json()
    assert found["status"] == "paid"
    before = table_contents(container.engine)
    assert post_csv(client, issuer, data).json()["counts"]["duplicate"] == 2
    assert table_contents(container.engine) == before


def test_a_malformed_row_refuses_the_whole_file_naming_row_and_column(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    create_invoices(client, issuer, [1000])
    assert save_mapping(client, issuer, MAPPING).status_code == 200
    before = table_contents(container.engine)
    data = csv_file(
        "20.11.2026;A;;x;B-1;10,00\n",
        "21.11.2026;B;;y;B-2;zehn\n",
    )

    r = post_csv(client, issuer, data)

    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_statement"
    assert error["details"]["where"] == "row 3, column 'Betrag'"
    assert "zehn" in error["message"]
    assert table_contents(container.engine) == before


def test_the_cli_imports_a_csv_statement_with_the_saved_mapping(
    db_url: str, client: TestClient, issuer: IssuerHandle, tmp_path: Path
) -> None:
    [inv] = create_invoices(client, issuer, [2500])
    assert save_mapping(client, issuer, MAPPING).status_code == 200
    path = tmp_path / "umsaetze.csv"
    path.write_bytes(csv_file(f"20.11.2026;E. M.;;{inv['reference']};B-9;25,00\n"))

    result = CliRunner().invoke(
        app,
        ["statements", "import", str(path), "--issuer", issuer.id],
        env={"PAYDUE_DATABASE_URL": db_url},
    )

    assert result.exit_code == 0, result.output
    assert "1 matched" in result.stdout


def test_the_mapping_is_the_issuers_own(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    assert save_mapping(client, issuer, MAPPING).status_code == 200
    r = client.get("/v1/statements/csv-mapping", headers=other_issuer.headers)
    assert r.status_code == 404
    assert post_csv(client, other_issuer, csv_file("20.11.2026;A;;x;B;1,00\n")).status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {"amount": None},
        {"fixed_currency": None},
        {"delimiter": ";;"},
        {"decimal_separator": "'"},
        {"encoding": "klingon"},
        {"booking_date": 3},
        {"colour": "red"},
    ],
    ids=[
        "no amount",
        "no currency",
        "long delimiter",
        "bad decimal",
        "encoding",
        "number",
        "extra",
    ],
)
def test_a_mapping_that_cannot_work_is_refused_and_changes_nothing(
    change: dict[str, Any], client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    before = table_contents(container.engine)
    r = save_mapping(client, issuer, {**MAPPING, **change})
    assert r.status_code == 422, r.text
    assert table_contents(container.engine) == before

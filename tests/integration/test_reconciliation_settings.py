"""The issuer's own confidence threshold decides which bank credits are booked at once."""

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
from tests.integration.statement_files import Entry, camt053, create_invoices, upload

SETTINGS = "/v1/reconciliation/settings"


def put(client: TestClient, issuer: IssuerHandle, body: Any) -> Any:
    return client.put(SETTINGS, json=body, headers=issuer.headers)


def by_invoice_number(client: TestClient, issuer: IssuerHandle) -> bytes:
    """A credit naming an invoice number in its text: confidence 0.95, not 1."""
    [inv] = create_invoices(client, issuer, [9900])
    return camt053([Entry(9900, text=f"Rechnung {inv['number']}", name="Someone Else")])


def test_the_threshold_defaults_to_the_global_setting_and_is_the_issuers_own_once_set(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    default = client.get(SETTINGS, headers=issuer.headers).json()
    assert (default["match_threshold"], default["uses_default"]) == (0.8, True)

    r = put(client, issuer, {"match_threshold": 0.97})

    assert r.status_code == 200, r.text
    assert (r.json()["match_threshold"], r.json()["uses_default"]) == (0.97, False)
    assert client.get(SETTINGS, headers=issuer.headers).json()["match_threshold"] == 0.97
    assert client.get(SETTINGS, headers=other_issuer.headers).json()["match_threshold"] == 0.8
    reset = put(client, issuer, {"match_threshold": None}).json()
    assert (reset["match_threshold"], reset["uses_default"]) == (0.8, True)


def test_an_import_books_only_what_reaches_the_issuers_threshold(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    assert put(client, issuer, {"match_threshold": 0.97}).status_code == 200
    strict = upload(client, issuer, by_invoice_number(client, issuer)).json()
    lenient = upload(client, other_issuer, by_invoice_number(client, other_issuer)).json()

    assert (strict["counts"]["matched"], strict["counts"]["suspense"]) == (0, 1)
    [item] = strict["suspense_items"]
    assert item["suggestions"][0]["rule"] == "invoice_number"
    assert (lenient["counts"]["matched"], lenient["counts"]["suspense"]) == (1, 0)


def test_the_cli_import_uses_the_issuers_threshold(
    db_url: str, client: TestClient, issuer: IssuerHandle, tmp_path: Path
) -> None:
    assert put(client, issuer, {"match_threshold": 0.97}).status_code == 200
    path = tmp_path / "statement.xml"
    path.write_bytes(by_invoice_number(client, issuer))

    result = CliRunner().invoke(
        app,
        ["statements", "import", str(path), "--issuer", issuer.id],
        env={"PAYDUE_DATABASE_URL": db_url},
    )

    assert result.exit_code == 0, result.output
    assert "0 matched, 1 to suspense" in result.stdout


@pytest.mark.parametrize(
    "body",
    [{"match_threshold": 0.49}, {"match_threshold": 1.01}, {"match_threshold": "high"}, {}],
    ids=["too low", "too high", "not a number", "missing"],
)
def test_a_threshold_out_of_bounds_is_refused_and_changes_nothing(
    body: dict[str, Any], client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    before = table_contents(container.engine)
    r = put(client, issuer, body)
    assert r.status_code == 422, r.text
    assert "match_threshold" in r.text
    assert table_contents(container.engine) == before

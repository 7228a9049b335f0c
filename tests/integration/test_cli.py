"""The ``paydue`` command on SQLite and PostgreSQL: issuers, CSV import, demo, migrate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from paydue.adapters.db import migrate
from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.tables import invoices
from paydue.bootstrap import Container
from paydue.cli import app
from paydue.services.ids import hash_token
from tests.conftest import IBAN, IssuerHandle
from tests.integration.helpers import count

HEADER = "number,payer_ref,payer_name,payer_email,amount,currency,issue_date,due_date,description"
GOOD_ROWS = [
    "2026-001,C-1,Erika Mustermann,erika@example.org,1234.50,EUR,2026-11-01,2026-12-01,Strom",
    "2026-002,C-2,Max Mustermann,,99,EUR,2026-11-01,2026-12-01,",
    "2026-003,C-1,Erika Mustermann,erika@example.org,0.01,EUR,2026-11-01,2026-12-15,Gas",
]


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"PAYDUE_DATABASE_URL": db_url})


def write_csv(
    tmp_path: Path, lines: list[str], *, name: str = "invoices.csv", bom: bool = False
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + "\n".join(lines).encode() + b"\n")
    return path


def import_csv(db_url: str, issuer: IssuerHandle, path: Path, *options: str) -> Result:
    return run(db_url, "invoices", "import", str(path), "--issuer", issuer.id, *options)


# --- issuers -----------------------------------------------------------------------------------


def test_issuer_create_prints_the_id_and_a_key_that_is_stored_hashed(
    db_url: str, container: Container
) -> None:
    result = run(db_url, "issuer", "create", "Wasserverband Süd", "--iban", IBAN, "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["name"] == "Wasserverband Süd"
    assert (created["iban"], created["bic"]) == (IBAN, "COBADEFFXXX")
    assert created["api_key"].startswith("pd_")
    with container.uow(readonly=True) as uow:
        found = uow.issuers.issuer_for_key(hash_token(created["api_key"]))
    assert found is not None
    assert found.id == created["issuer_id"]
    stored = sa.text("select count(*) from api_keys where key_hash = :k")
    with container.engine.connect() as conn:
        assert conn.execute(stored, {"k": created["api_key"]}).scalar_one() == 0


def test_issuer_create_refuses_a_bad_iban_with_exit_code_2(
    db_url: str, container: Container
) -> None:
    result = run(db_url, "issuer", "create", "Telco AG", "--iban", "DE00123456", "--json")
    assert result.exit_code == 2
    assert "IBAN 'DE00123456' is not valid" in result.stderr
    assert result.stdout == ""
    assert count(container.engine, "issuers") == 0


def test_issuer_list_shows_every_issuer(db_url: str, issuer: IssuerHandle) -> None:
    result = run(db_url, "issuer", "list")
    assert result.exit_code == 0, result.output
    assert issuer.id in result.stdout
    assert "Stadtwerke Musterstadt" in result.stdout


def test_issuer_create_json_from_a_real_process(db_url: str, container: Container) -> None:
    paydue = Path(sys.executable).with_name("paydue")
    env = {**os.environ, "PAYDUE_DATABASE_URL": db_url}
    done = subprocess.run(
        [str(paydue), "issuer", "create", "Gemeinde Beispiel", "--iban", IBAN, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert set(created) == {"issuer_id", "api_key", "name", "iban", "bic"}
    with container.uow(readonly=True) as uow:
        found = uow.issuers.get(created["issuer_id"])
    assert found is not None
    assert found.name == "Gemeinde Beispiel"


# --- CSV import --------------------------------------------------------------------------------


def test_import_creates_invoices_with_minor_units_references_and_pay_links(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, [HEADER, *GOOD_ROWS])
    result = import_csv(db_url, issuer, path)
    assert result.exit_code == 0, result.output
    assert "imported 3 invoice(s)" in result.stdout
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(invoices.c.number, invoices.c.amount, invoices.c.reference).order_by(
                invoices.c.number
            )
        ).all()
    assert [(r.number, r.amount) for r in rows] == [
        ("2026-001", 123450),
        ("2026-002", 9900),
        ("2026-003", 1),
    ]
    assert all(r.reference.startswith("RF") for r in rows)
    assert count(container.engine, "payers") == 2
    assert count(container.engine, "pay_links") == 3
    assert count(container.engine, "events", type="invoice.created") == 3


def test_a_large_file_goes_in_chunks_in_one_transaction_with_payers_shared(
    db_url: str,
    container: Container,
    issuer: IssuerHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("paydue.cli.csv_import.IMPORT_CHUNK", 50)
    rows = [
        f"L-{i:04d},C-{i % 70},Payer {i % 70},,{i + 1}.00,EUR,2026-11-01,2026-12-01,"
        for i in range(180)
    ]
    result = import_csv(db_url, issuer, write_csv(tmp_path, [HEADER, *rows]))
    assert result.exit_code == 0, result.output
    assert count(container.engine, "invoices") == 180
    assert count(container.engine, "payers") == 70
    assert count(container.engine, "events", type="invoice.created") == 180
    with container.uow(readonly=True) as uow:
        seqs = [e.seq for e in uow.events.feed(issuer.id, after=0, limit=500)]
    assert seqs == list(range(1, 181))


def test_a_file_with_broken_rows_names_row_and_column_and_stores_nothing(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        [
            HEADER,
            GOOD_ROWS[0],
            '2026-010,C-3,Jan Kowalski,,"12,345.678",EUR,2026-11-01,2026-12-01,',
            "2026-011,C-4,,,10.00,EUR,2026-11-01,2026-12-01,",
            "2026-012,C-5,Luca Rossi,,10.00,EUR,2026-11-01,2026-12-32,",
            GOOD_ROWS[1],
        ],
    )
    result = import_csv(db_url, issuer, path)
    assert result.exit_code == 1
    assert "row 3, amount: '12,345.678' is not a decimal amount" in result.stdout
    assert "row 4, payer_name: is required" in result.stdout
    assert "row 5, due_date:" in result.stdout
    assert "3 of 5 row(s) invalid: nothing was imported" in result.stdout
    assert count(container.engine, "invoices") == 0
    assert count(container.engine, "payers") == 0


def test_a_bad_currency_is_reported_on_the_currency_column_not_on_the_amount(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    row = "2026-020,C-6,Anna Schmidt,,12.00,EURO,2026-11-01,2026-12-01,"
    result = import_csv(db_url, issuer, write_csv(tmp_path, [HEADER, row]), "--json")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["errors"]
    assert [e["column"] for e in errors] == ["currency"]
    assert "'EURO' is not an ISO 4217 currency code" in errors[0]["message"]
    assert count(container.engine, "invoices") == 0


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        [HEADER, GOOD_ROWS[0], "2026-010,C-3,Jan,,1.005,EUR,2026-11-01,2026-12-01,", GOOD_ROWS[1]],
    )
    result = import_csv(db_url, issuer, path, "--skip-invalid", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["imported"] == 2
    assert report["errors"] == [
        {"row": 3, "column": "amount", "message": "'1.005' has more than 2 decimal places for EUR"}
    ]
    assert count(container.engine, "invoices") == 2


def test_numbers_repeated_in_the_file_or_taken_already_are_row_errors(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    assert import_csv(db_url, issuer, write_csv(tmp_path, [HEADER, GOOD_ROWS[0]])).exit_code == 0
    path = write_csv(tmp_path, [HEADER, GOOD_ROWS[1], GOOD_ROWS[0], GOOD_ROWS[1]], name="b.csv")
    result = import_csv(db_url, issuer, path)
    assert result.exit_code == 1
    assert "row 3, number: an invoice numbered '2026-001' exists already" in result.stdout
    assert "row 4, number: number '2026-002' repeats row 2" in result.stdout
    assert count(container.engine, "invoices") == 1


def test_a_utf8_file_with_byte_order_mark_and_semicolons_imports(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    lines = [HEADER.replace(",", ";"), "2026-100;C-9;Jürgen Groß;;19.99;EUR;2026-11-01;2026-12-01;"]
    path = write_csv(tmp_path, lines, bom=True)
    result = import_csv(db_url, issuer, path, "--delimiter", ";")
    assert result.exit_code == 0, result.output
    with container.uow(readonly=True) as uow:
        [invoice] = uow.invoices.search(issuer.id)
    assert (invoice.number, invoice.payer.name, invoice.amount) == ("2026-100", "Jürgen Groß", 1999)


def test_unknown_and_missing_columns_are_named_and_nothing_is_read(
    db_url: str, container: Container, issuer: IssuerHandle, tmp_path: Path
) -> None:
    header = HEADER.replace("payer_name", "customer_name") + ",vat_rate"
    path = write_csv(tmp_path, [header, GOOD_ROWS[0] + ",19"])
    result = import_csv(db_url, issuer, path)
    assert result.exit_code == 1
    assert "unknown column(s) customer_name, vat_rate" in result.stderr
    assert "missing required column(s) payer_name" in result.stderr
    assert count(container.engine, "invoices") == 0


def test_import_for_an_unknown_issuer_is_a_usage_error(
    db_url: str, container: Container, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD_ROWS[0]])
    result = run(db_url, "invoices", "import", str(path), "--issuer", "iss_nope")
    assert result.exit_code == 2
    assert "no issuer 'iss_nope'" in result.stderr


# --- demo and migrate ---------------------------------------------------------------------------


def test_demo_sets_up_invoices_in_every_state_and_reuses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--db", str(db), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/docs" in result.stdout
    assert "http://127.0.0.1:8123/p/" in result.stdout
    assert "http://127.0.0.1:8123/b/" in result.stdout
    assert "Authorization: Bearer pd_" in result.stdout
    assert f"outbox    {tmp_path.resolve() / 'outbox'}  (reminders on email, " in result.stdout
    again = CliRunner().invoke(app, ["demo", "--no-serve", "--db", str(db)])
    assert again.exit_code == 0, again.output
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        grouped = sa.select(invoices.c.status, sa.func.count()).group_by(invoices.c.status)
        by_status: dict[str, int] = dict(conn.execute(grouped).all())
        overdue = conn.execute(
            sa.select(sa.func.count()).where(
                invoices.c.status == "open", invoices.c.due_date < sa.func.current_date()
            )
        ).scalar_one()
    assert by_status == {"open": 30, "partially_paid": 5, "paid": 10, "cancelled": 5}
    assert overdue == 10
    assert count(engine, "issuers") == 1
    assert count(engine, "payers") == 20
    assert count(engine, "api_keys") == 2  # each run prints a new key
    engine.dispose()


def test_migrate_brings_an_empty_database_to_head_and_unmigrated_ones_are_refused(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    refused = run(url, "issuer", "list")
    assert refused.exit_code == 1
    assert "run `paydue migrate` first" in refused.stderr
    result = run(url, "migrate")
    assert result.exit_code == 0, result.output
    assert "migrated from empty to revision" in result.stdout
    engine = make_engine(url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
    assert "already at revision" in run(url, "migrate").stdout


def test_migrate_on_a_migrated_database_changes_nothing(db_url: str, issuer: IssuerHandle) -> None:
    result = run(db_url, "migrate")
    assert result.exit_code == 0, result.output
    assert "already at revision" in result.stdout
    assert issuer.id in run(db_url, "issuer", "list").stdout

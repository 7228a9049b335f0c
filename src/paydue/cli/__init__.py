"""The ``paydue`` command: run the server and the worker, manage the schema, issuers and bulk
imports, and set up a demo.

Exit codes: 0 done, 1 the input was refused (invalid CSV rows) or the database is not ready,
2 the command was used wrongly (bad option, unknown issuer, invalid IBAN…).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paydue.adapters.db import migrate as db_migrate
from paydue.bootstrap import build
from paydue.cli import csv_import, demo, payouts, simulate, simulator, statements
from paydue.cli.common import (
    fail,
    load_settings,
    out,
    ready_container,
    run_server,
    shown_url,
)
from paydue.domain.errors import DomainError
from paydue.services import issuers as issuer_svc

app = typer.Typer(
    name="paydue",
    help="Invoice payment collection: pay links, QR codes, reminders, reconciliation.",
    no_args_is_help=True,
    add_completion=False,
)
issuer_app = typer.Typer(help="Issuers (tenants) and their API keys.", no_args_is_help=True)
invoices_app = typer.Typer(help="Invoices in bulk.", no_args_is_help=True)
app.add_typer(issuer_app, name="issuer")
app.add_typer(invoices_app, name="invoices")
statements_app = typer.Typer(help="Bank statements and reconciliation.", no_args_is_help=True)
app.add_typer(statements_app, name="statements")
simulator_app = typer.Typer(
    help="The built-in payment provider simulator (development and demos).", no_args_is_help=True
)
app.add_typer(simulator_app, name="simulator")

# --- server, worker, schema -------------------------------------------------------------------


@app.command()
def migrate() -> None:
    """Upgrade the database at PAYDUE_DATABASE_URL to the newest schema (Alembic head)."""
    settings = load_settings()
    container = build(settings)
    before = db_migrate.current_revision(container.engine)
    db_migrate.upgrade(container.engine)
    after = db_migrate.current_revision(container.engine)
    container.close()
    change = "already at" if before == after else f"migrated from {before or 'empty'} to"
    out.print(f"{shown_url(settings.database_url)}: {change} revision {after}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: PAYDUE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: PAYDUE_PORT")] = None,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="run the job worker inside the server; default on for SQLite, off for "
            "PostgreSQL (run `paydue worker` processes there)",
        ),
    ] = None,
) -> None:
    """Serve the API, the pay pages and the badges (uvicorn)."""
    container = ready_container()
    settings = container.settings
    run_worker = settings.is_sqlite if worker is None else worker
    run_server(container, host or settings.host, port or settings.port, run_worker=run_worker)


@app.command("worker")
def worker_command() -> None:
    """Run a job worker until SIGTERM or Ctrl-C (it finishes the jobs it holds, then stops).

    The same as ``python -m paydue.worker``, after checking the schema is at head."""
    from paydue.worker.__main__ import main

    ready_container().close()
    main()


# --- issuers ----------------------------------------------------------------------------------


@issuer_app.command("create")
def issuer_create(
    name: Annotated[str, typer.Argument(help="the issuer's name as payers see it")],
    iban: Annotated[str, typer.Option(help="the account payers transfer to")],
    bic: Annotated[str | None, typer.Option(help="default: derived from the IBAN")] = None,
    timezone: Annotated[str, typer.Option(help="due dates are dates here")] = "Europe/Berlin",
    currency: Annotated[str, typer.Option(help="default currency (ISO 4217)")] = "EUR",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create an issuer and print its id and API key. The key is shown only this once."""
    container = ready_container()
    try:
        with container.uow() as uow:
            created = issuer_svc.create_issuer(
                uow, name, iban=iban, bic=bic, timezone=timezone, currency=currency
            )
            uow.commit()
    except DomainError as exc:
        fail(exc.message)
    issuer = created.issuer
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "issuer_id": issuer.id,
                    "api_key": created.api_key,
                    "name": issuer.name,
                    "iban": issuer.iban,
                    "bic": issuer.bic,
                }
            )
        )
        return
    out.print(f"[green]created issuer[/] {issuer.name} ({issuer.iban}, BIC {issuer.bic or '-'})")
    out.print(f"issuer id: [bold]{issuer.id}[/]")
    out.print(f"API key:   [bold]{created.api_key}[/]  (shown once; store it now)")


@issuer_app.command("list")
def issuer_list() -> None:
    """List the issuers."""
    container = ready_container()
    with container.uow(readonly=True) as uow:
        issuers = uow.issuers.list()
    for i in issuers:
        out.print(
            f"{i.id}  [bold]{i.name}[/]  {i.iban or 'no IBAN'}  {i.default_currency}  "
            f"{i.timezone}  created {i.created_at:%Y-%m-%d}"
        )
    if not issuers:
        out.print("no issuers yet: `paydue issuer create NAME --iban IBAN`", markup=False)


invoices_app.command("import")(csv_import.invoices_import)
statements_app.command("import")(statements.statements_import)
app.command("demo")(demo.demo)
app.command("simulate")(simulate.simulate)
simulator_app.command("notify")(simulator.notify)
simulator_app.command("payout")(payouts.simulator_payout)

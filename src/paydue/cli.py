"""The ``paydue`` command: run the server and the worker, manage the schema, issuers and bulk
imports, and set up a demo.

Exit codes: 0 done, 1 the input was refused (invalid CSV rows) or the database is not ready,
2 the command was used wrongly (bad option, unknown issuer, invalid IBAN…).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pydantic
import sqlalchemy as sa
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paydue.adapters.db import migrate as db_migrate
from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.bootstrap import Container, build
from paydue.config import Settings
from paydue.domain.errors import DomainError
from paydue.domain.money import Money, MoneyError, parse_decimal
from paydue.services import invoices as invoice_svc
from paydue.services import issuers as issuer_svc
from paydue.web.api.v1.schemas import InvoiceIn

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

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_INVALID = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except pydantic.ValidationError as exc:
        _fail("; ".join(str(e["msg"]) for e in exc.errors()))


def _shown_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _container(settings: Settings | None = None) -> Container:
    """The composition root, refusing a database whose schema is not at the newest revision."""
    container = build(settings or _settings())
    current = db_migrate.current_revision(container.engine)
    head = db_migrate.head_revision()
    if current != head:
        state = "has no paydue schema" if current is None else f"is at revision {current}"
        container.close()
        _fail(
            f"the database {_shown_url(container.settings.database_url)} {state}, "
            f"the code needs {head}: run `paydue migrate` first",
            EXIT_INVALID,
        )
    return container


def _run_server(container: Container, host: str, port: int, *, run_worker: bool) -> None:
    from paydue.web.app import create_app

    uvicorn.run(create_app(container, run_worker=run_worker), host=host, port=port)


# --- server, worker, schema -------------------------------------------------------------------


@app.command()
def migrate() -> None:
    """Upgrade the database at PAYDUE_DATABASE_URL to the newest schema (Alembic head)."""
    settings = _settings()
    container = build(settings)
    before = db_migrate.current_revision(container.engine)
    db_migrate.upgrade(container.engine)
    after = db_migrate.current_revision(container.engine)
    container.close()
    change = "already at" if before == after else f"migrated from {before or 'empty'} to"
    out.print(f"{_shown_url(settings.database_url)}: {change} revision {after}")


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
    container = _container()
    settings = container.settings
    run_worker = settings.is_sqlite if worker is None else worker
    _run_server(container, host or settings.host, port or settings.port, run_worker=run_worker)


@app.command("worker")
def worker_command() -> None:
    """Run a job worker until SIGTERM or Ctrl-C (it finishes the jobs it holds, then stops).

    The same as ``python -m paydue.worker``, after checking the schema is at head."""
    from paydue.worker.__main__ import main

    _container().close()
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
    container = _container()
    try:
        with container.uow() as uow:
            created = issuer_svc.create_issuer(
                uow, name, iban=iban, bic=bic, timezone=timezone, currency=currency
            )
            uow.commit()
    except DomainError as exc:
        _fail(exc.message)
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
    container = _container()
    with container.uow(readonly=True) as uow:
        issuers = uow.issuers.list()
    for i in issuers:
        out.print(
            f"{i.id}  [bold]{i.name}[/]  {i.iban or 'no IBAN'}  {i.default_currency}  "
            f"{i.timezone}  created {i.created_at:%Y-%m-%d}"
        )
    if not issuers:
        out.print("no issuers yet: `paydue issuer create NAME --iban IBAN`", markup=False)


# --- CSV import -------------------------------------------------------------------------------

CSV_COLUMNS = (
    "number",
    "payer_ref",
    "payer_name",
    "payer_email",
    "payer_phone",
    "payer_language",
    "payer_timezone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "description",
)
REQUIRED_COLUMNS = frozenset(
    {"number", "payer_ref", "payer_name", "amount", "currency", "issue_date", "due_date"}
)
# CSV column → where it goes in the API's invoice body (web.api.v1.schemas.InvoiceIn).
_BODY_PATH: dict[str, tuple[str, ...]] = {
    "number": ("number",),
    "payer_ref": ("payer", "ref"),
    "payer_name": ("payer", "name"),
    "payer_email": ("payer", "email"),
    "payer_phone": ("payer", "phone"),
    "payer_language": ("payer", "language"),
    "payer_timezone": ("payer", "timezone"),
    "address_line1": ("payer", "address", "line1"),
    "address_line2": ("payer", "address", "line2"),
    "postal_code": ("payer", "address", "postal_code"),
    "city": ("payer", "address", "city"),
    "country": ("payer", "address", "country"),
    "currency": ("currency",),
    "issue_date": ("issue_date",),
    "due_date": ("due_date",),
    "description": ("description",),
}
_COLUMN_OF = {path: column for column, path in _BODY_PATH.items()} | {("amount",): "amount"}
IMPORT_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class CsvRow:
    row: int
    values: dict[str, str]


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[CsvRow]]:
    """The header and the non-blank records of a UTF-8 CSV file (with or without BOM)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail(f"{path}: no such file")
    except UnicodeDecodeError as exc:
        _fail(f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8", EXIT_INVALID)
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    header = [h.strip().lower() for h in next(reader, [])]
    if not any(header):
        _fail(f"{path}: empty file; the first row names the columns", EXIT_INVALID)
    _check_header(header)
    rows: list[CsvRow] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(v.strip() for v in record):
                if len(record) != len(header):
                    _fail(
                        f"row {start} has {len(record)} fields but the header has {len(header)}"
                        f" (is the delimiter {delimiter!r} right?)",
                        EXIT_INVALID,
                    )
                rows.append(CsvRow(start, dict(zip(header, record, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        _fail(f"row {start}: malformed CSV: {exc}", EXIT_INVALID)
    return header, rows


def _check_header(header: list[str]) -> None:
    problems = []
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if problems:
        _fail(
            "; ".join(problems) + f". The columns are: {', '.join(CSV_COLUMNS)}; required: "
            f"{', '.join(c for c in CSV_COLUMNS if c in REQUIRED_COLUMNS)}",
            EXIT_INVALID,
        )


def _invoice_body(values: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The API body for one CSV record (empty cells left out) and the amount's problem, if any.

    The amount is decimal text in the CSV and integer minor units in the API."""
    body: dict[str, Any] = {}
    for column, path in _BODY_PATH.items():
        value = values.get(column, "").strip()
        if value:
            target = body
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    problems: list[tuple[str, str]] = []
    amount = values.get("amount", "").strip()
    if amount and "currency" in body:
        try:
            body["amount"] = parse_decimal(amount, body["currency"])
        except MoneyError as exc:
            problems.append(("amount", str(exc)))
    return body, problems


def _validation_errors(row: int, exc: pydantic.ValidationError) -> list[RowError]:
    found = []
    for e in exc.errors():
        loc = tuple(str(p) for p in e["loc"])
        column = _COLUMN_OF.get(loc) or _COLUMN_OF.get(loc[:-1]) or ".".join(loc)
        if e["type"] == "missing" and loc == ("payer", "address", "line1"):
            message = "is required when any address column is filled"
        elif e["type"] == "missing":
            message = "is required"
        else:
            message = e["msg"]
        found.append(RowError(row, column, message))
    return found


@dataclass
class CheckedFile:
    rows: list[CsvRow]
    commands: list[invoice_svc.NewInvoice | None]  # per row; None where the row is invalid
    errors: list[RowError]

    def valid(self) -> list[tuple[int, invoice_svc.NewInvoice]]:
        """(position in ``rows``, invoice) of every valid row, in file order."""
        return [(i, c) for i, c in enumerate(self.commands) if c is not None]


def _check_rows(
    uow: UnitOfWork, issuer: Issuer, rows: list[CsvRow], progress: Progress
) -> CheckedFile:
    """Validate every row the way the API does (InvoiceIn) and the service does
    (``check_invoices``: amounts, dates, numbers repeated or taken already)."""
    task = progress.add_task("checking", total=len(rows))
    checked = CheckedFile(rows, [], [])
    first_row_of: dict[str, int] = {}
    for record in rows:
        body, problems = _invoice_body(record.values)
        row_errors = [RowError(record.row, col, msg) for col, msg in problems]
        command: invoice_svc.NewInvoice | None = None
        try:
            command = InvoiceIn.model_validate(body).command()
        except pydantic.ValidationError as exc:
            reported = {e.column for e in row_errors}
            row_errors += [
                e for e in _validation_errors(record.row, exc) if e.column not in reported
            ]
        if command is not None:
            first = first_row_of.setdefault(command.number, record.row)
            if first != record.row:
                message = f"number {command.number!r} repeats row {first}"
                row_errors.append(RowError(record.row, "number", message))
        checked.errors += row_errors
        checked.commands.append(None if row_errors else command)
        progress.advance(task)
    valid = checked.valid()
    for problem in invoice_svc.check_invoices(uow, issuer.id, [c for _, c in valid]):
        position = valid[problem.index][0]
        checked.errors.append(RowError(rows[position].row, problem.field, problem.message))
        checked.commands[position] = None
    checked.errors.sort(key=lambda e: e.row)
    return checked


def _chunks(
    items: Sequence[invoice_svc.NewInvoice], size: int
) -> Iterator[Sequence[invoice_svc.NewInvoice]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _report(errors: list[RowError], limit: int = 200) -> None:
    for e in errors[:limit]:
        out.print(f"row {e.row}, [bold]{e.column}[/]: {e.message}", markup=True)
    if len(errors) > limit:
        out.print(f"… and {len(errors) - limit} more problems")


@invoices_app.command("import")
def invoices_import(
    file: Annotated[Path, typer.Argument(help="CSV file, UTF-8, header row first")],
    issuer_id: Annotated[str, typer.Option("--issuer", help="the issuer's id")],
    skip_invalid: Annotated[
        bool, typer.Option(help="import the valid rows and report the invalid ones")
    ] = False,
    delimiter: Annotated[str, typer.Option(help="one character; 'tab' for tabs")] = ",",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Import invoices from a CSV file, all or nothing.

    Columns: number, payer_ref, payer_name, payer_email, payer_phone, payer_language,
    payer_timezone, address_line1, address_line2, postal_code, city, country, amount, currency,
    issue_date, due_date, description. Amounts are decimal text (1234.50), dates YYYY-MM-DD.
    Every row is checked first; with any invalid row nothing is imported (exit 1) unless
    --skip-invalid. The valid rows go in as one transaction: a crash imports nothing.
    """
    delimiter = "\t" if delimiter in ("tab", "\\t") else delimiter
    if len(delimiter) != 1:
        _fail(f"the delimiter is one character, got {delimiter!r}")
    container = _container()
    _header, rows = _read_csv(file, delimiter)
    if not rows:
        _fail(f"{file}: no invoices after the header row", EXIT_INVALID)
    with container.uow() as uow, _progress() as progress:
        issuer = uow.issuers.get(issuer_id)
        if issuer is None:
            _fail(f"no issuer {issuer_id!r} (see `paydue issuer list`)")
        checked = _check_rows(uow, issuer, rows, progress)
        imported: list[invoice_svc.NewInvoice] = []
        if not checked.errors or skip_invalid:
            imported = [c for _, c in checked.valid()]
            task = progress.add_task("importing", total=len(imported))
            try:
                for chunk in _chunks(imported, IMPORT_CHUNK):
                    invoice_svc.create_invoices(uow, container.links, issuer, chunk)
                    uow.flush_events()
                    progress.advance(task, len(chunk))
            except DomainError as exc:  # a number taken by a concurrent import meanwhile
                _fail(f"nothing was imported: {exc.message}", EXIT_INVALID)
            uow.commit()
    container.close()
    invalid_rows = len({e.row for e in checked.errors})
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "imported": len(imported),
                    "invalid_rows": invalid_rows,
                    "errors": [e.as_dict() for e in checked.errors],
                }
            )
        )
    else:
        _report(checked.errors)
        if imported:
            out.print(f"[green]imported {len(imported)} invoice(s)[/] for {issuer.name}")
        if invalid_rows:
            skipped = "skipped" if skip_invalid else "nothing was imported"
            out.print(f"[red]{invalid_rows} of {len(rows)} row(s) invalid[/]: {skipped}")
    if not imported:
        raise typer.Exit(EXIT_INVALID)


# --- demo -------------------------------------------------------------------------------------

DEMO_ISSUER = "Stadtwerke Musterstadt"
DEMO_IBAN = "DE89370400440532013000"
DEMO_BRANDING = {
    "display_name": DEMO_ISSUER,
    "primary_colour": "#0b6e4f",
    "support_email": "kundenservice@stadtwerke-musterstadt.example",
    "support_phone": "+49 30 1234567",
    "legal_footer": "Stadtwerke Musterstadt GmbH · Am Markt 1 · 12345 Musterstadt · "
    "Amtsgericht Musterstadt HRB 4711 · USt-IdNr. DE123456789",
}
DEMO_PAYERS = (
    ("Erika Mustermann", "de"),
    ("Max Mustermann", "de"),
    ("Ayşe Kaya", "tr"),
    ("Jan Kowalski", "pl"),
    ("Sophie Martin", "fr"),
    ("Luca Rossi", "it"),
    ("Anna Schmidt", "de"),
    ("John Smith", "en"),
    ("Fatima Haddad", "ar"),
    ("Lena Becker", "de"),
    ("Olena Kovalenko", "uk"),
    ("Paul Wagner", "de"),
    ("Maria García", "es"),
    ("Jonas Hoffmann", "de"),
    ("Nguyen Van An", "vi"),
    ("Klara Schulz", "de"),
    ("Mehmet Demir", "tr"),
    ("Hanna Koch", "de"),
    ("Emma Richter", "de"),
    ("Felix Wolf", "de"),
)
DEMO_SERVICES = ("Strom", "Gas", "Wasser", "Fernwärme", "Abwasser")
# The states the demo invoices end up in, one per invoice in turn (50 invoices, 10 per round).
DEMO_STATES = (
    "open",
    "open",
    "due_soon",
    "overdue",
    "overdue",
    "partially_paid",
    "paid",
    "paid",
    "cancelled",
    "open",
)
DEMO_INVOICES = 50


def _demo_invoice(index: int, today: date) -> invoice_svc.NewInvoice:
    """Invoice ``index`` of the demo: its due date places it in ``DEMO_STATES[index % 10]``."""
    name, language = DEMO_PAYERS[index % len(DEMO_PAYERS)]
    state = DEMO_STATES[index % len(DEMO_STATES)]
    due_in = {"due_soon": 3, "overdue": -12 - index}.get(state, 14 + index)
    due = today + timedelta(days=due_in)
    service = DEMO_SERVICES[index % len(DEMO_SERVICES)]
    return invoice_svc.NewInvoice(
        number=f"SWM-{today.year}-{index + 1:04d}",
        payer=invoice_svc.NewPayer(
            ref=f"K-{10001 + index % len(DEMO_PAYERS)}",
            name=name,
            email=f"kunde{10001 + index % len(DEMO_PAYERS)}@example.org",
            phone=f"+49151{5550100 + index % len(DEMO_PAYERS)}",
            language=language,
            timezone="Europe/Berlin",
            address={
                "line1": f"Lindenallee {index % len(DEMO_PAYERS) + 1}",
                "postal_code": "12345",
                "city": "Musterstadt",
                "country": "DE",
            },
        ),
        amount=2_000 + (index * 7_919) % 48_000,
        currency="EUR",
        issue_date=due - timedelta(days=30),
        due_date=due,
        description=f"{service} {due:%m/%Y}",
    )


def _create_demo_invoices(uow: UnitOfWork, container: Container, issuer: Issuer) -> None:
    """About fifty invoices to twenty payers: open, due soon, overdue, partially paid, paid
    (payments recorded as made outside paydue) and cancelled."""
    today = invoice_svc.issuer_today(issuer, uow.now())
    items = [_demo_invoice(i, today) for i in range(DEMO_INVOICES)]
    created = invoice_svc.create_invoices(uow, container.links, issuer, items)
    for index, invoice in enumerate(created):
        state = DEMO_STATES[index % len(DEMO_STATES)]
        if state == "cancelled":
            invoice_svc.cancel_invoice(uow, container.links, issuer, invoice.id)
        elif state in ("partially_paid", "paid"):
            invoice_svc.allocate_credit(
                uow,
                container.links,
                issuer,
                invoice.id,
                amount=invoice.amount // 2 if state == "partially_paid" else invoice.amount,
                currency=invoice.currency,
                received_on=today,
                source="external",
                note="cash desk" if state == "paid" else "first instalment",
            )


def _demo_issuer(uow: UnitOfWork, container: Container) -> tuple[Issuer, str]:
    """The demo issuer with a new API key: created with its invoices, or found again."""
    found = next((i for i in uow.issuers.list() if i.name == DEMO_ISSUER), None)
    if found is not None:
        return found, issuer_svc.add_api_key(uow, found.id)
    created = issuer_svc.create_issuer(
        uow, DEMO_ISSUER, iban=DEMO_IBAN, branding=dict(DEMO_BRANDING)
    )
    _create_demo_invoices(uow, container, created.issuer)
    return created.issuer, created.api_key


def _print_demo(container: Container, issuer: Issuer, api_key: str) -> None:
    base = container.settings.base_url.rstrip("/")
    with container.uow(readonly=True) as uow:
        today = invoice_svc.issuer_today(issuer, uow.now())
        invoices = uow.invoices.search(issuer.id, limit=DEMO_INVOICES)
    out.rule(f"[bold]paydue demo[/] · {issuer.name}")
    out.print(f"API key   [bold]{api_key}[/]  (a new one on every run)")
    out.print(f"API docs  {base}/docs")
    out.print(f"database  {_shown_url(container.settings.database_url)}")
    shown: set[str] = set()
    for invoice in invoices:
        resource = invoice_svc.invoice_resource(invoice, container.links, today)
        state = resource["status"]
        if resource["overdue"]:
            state = "overdue"
        elif resource["amount_due"] and invoice.due_date <= today + timedelta(days=7):
            state = "due soon"
        if state in shown:
            continue
        shown.add(state)
        out.print(
            f"[bold]{state:<15}[/] {invoice.number}  {invoice.payer.name}, "
            f"{Money(resource['amount_due'], invoice.currency)} due {invoice.due_date}"
        )
        out.print(f"  pay link  {resource['pay_url']}", markup=False)
        out.print(f"  badge     {resource['badge_url']}", markup=False)
    out.print("Try the API:")
    out.print(
        f'  curl -s "{base}/v1/invoices?status=overdue" -H "Authorization: Bearer {api_key}"',
        markup=False,
    )


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
    db: Annotated[Path, typer.Option(help="SQLite file for the demo")] = Path("paydue-demo.db"),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve after setting up")
    ] = True,
) -> None:
    """Set up a demo issuer with invoices in every state on SQLite, print how to try it, serve.

    Running it again reuses the issuer and its invoices and prints a new API key."""
    overrides: dict[str, Any] = {"database_url": f"sqlite:///{db}"}
    if "base_url" not in _settings().model_fields_set:
        overrides["base_url"] = f"http://127.0.0.1:{port}"
    settings = _settings(**overrides)
    container = build(settings)
    db_migrate.upgrade(container.engine)
    with container.uow() as uow:
        issuer, api_key = _demo_issuer(uow, container)
        uow.commit()
    _print_demo(container, issuer, api_key)
    if serve_after:
        out.print(f"serving on {settings.base_url} with the worker in-process; Ctrl-C stops")
        _run_server(container, "127.0.0.1", port, run_worker=True)
    container.close()

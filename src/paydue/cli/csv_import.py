"""``paydue invoices import``: invoices from a CSV file, validated row by row, all or nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.progress import Progress
from sqlalchemy.exc import IntegrityError

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.cli.common import EXIT_INVALID, fail, out, progress_bar, ready_container
from paydue.domain.errors import DomainError
from paydue.domain.money import MoneyError, check_currency, parse_decimal
from paydue.services import invoices as invoice_svc
from paydue.web.api.v1.schemas import InvoiceIn

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
        fail(f"{path}: no such file")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8", EXIT_INVALID)
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    header = [h.strip().lower() for h in next(reader, [])]
    if not any(header):
        fail(f"{path}: empty file; the first row names the columns", EXIT_INVALID)
    _check_header(header)
    rows: list[CsvRow] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(v.strip() for v in record):
                if len(record) != len(header):
                    fail(
                        f"row {start} has {len(record)} fields but the header has {len(header)}"
                        f" (is the delimiter {delimiter!r} right?)",
                        EXIT_INVALID,
                    )
                rows.append(CsvRow(start, dict(zip(header, record, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        fail(f"row {start}: malformed CSV: {exc}", EXIT_INVALID)
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
        fail(
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
            check_currency(body["currency"])
        except MoneyError as exc:
            # The amount cannot be read without its currency: report the currency alone.
            problems += [("currency", str(exc)), ("amount", "")]
            return body, problems
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
        row_errors = [RowError(record.row, col, msg) for col, msg in problems if msg]
        silenced = {col for col, msg in problems if not msg}
        command: invoice_svc.NewInvoice | None = None
        try:
            command = InvoiceIn.model_validate(body).command()
        except pydantic.ValidationError as exc:
            reported = {e.column for e in row_errors} | silenced
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


def _report(errors: list[RowError], limit: int = 200) -> None:
    for e in errors[:limit]:
        out.print(f"row {e.row}, [bold]{e.column}[/]: {e.message}", markup=True)
    if len(errors) > limit:
        out.print(f"… and {len(errors) - limit} more problems")


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
        fail(f"the delimiter is one character, got {delimiter!r}")
    container = ready_container()
    _header, rows = _read_csv(file, delimiter)
    if not rows:
        fail(f"{file}: no invoices after the header row", EXIT_INVALID)
    with container.uow() as uow, progress_bar() as progress:
        issuer = uow.issuers.get(issuer_id)
        if issuer is None:
            fail(f"no issuer {issuer_id!r} (see `paydue issuer list`)")
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
            except DomainError as exc:
                fail(f"nothing was imported: {exc.message}", EXIT_INVALID)
            except IntegrityError:  # a number taken by a concurrent import meanwhile
                fail(
                    "nothing was imported: an invoice number of this file was created by "
                    "another import at the same time; run the import again",
                    EXIT_INVALID,
                )
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

"""CSV bank statements, read with the column mapping the issuer saved for its bank.

Banks export CSV in as many layouts as there are banks, so nothing is guessed: a
:class:`CsvMapping` names the columns (by header name, or by 1-based position without a header
row), the delimiter, decimal separator, date format and encoding. :func:`parse` is pure; a value
that cannot be read refuses the whole file naming the row (the file's line) and the column.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from .amounts import check_currency, to_minor
from .errors import StatementFormatError
from .model import LineFields, Statement, build_lines

Column = str | int
_TEXT_FIELDS = (
    "counterparty_name",
    "counterparty_iban",
    "counterparty_bic",
    "remittance_text",
    "structured_reference",
    "end_to_end_id",
    "bank_reference",
)


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """How one bank writes its CSV statements.

    Columns are header names when ``header_row`` is true, else 1-based positions. Give either
    ``amount`` (signed) or ``credit`` and ``debit`` (one of them filled per row), and either a
    ``currency`` column or a fixed ``fixed_currency``. ``skip_rows`` lines before the header
    (or the first row) are ignored, as are empty rows.
    """

    booking_date: Column
    amount: Column | None = None
    credit: Column | None = None
    debit: Column | None = None
    currency: Column | None = None
    fixed_currency: str | None = None
    value_date: Column | None = None
    counterparty_name: Column | None = None
    counterparty_iban: Column | None = None
    counterparty_bic: Column | None = None
    remittance_text: Column | None = None
    structured_reference: Column | None = None
    end_to_end_id: Column | None = None
    bank_reference: Column | None = None
    delimiter: str = ";"
    decimal_separator: str = ","
    thousands_separator: str | None = None
    date_format: str = "%d.%m.%Y"
    encoding: str = "utf-8"
    header_row: bool = True
    skip_rows: int = 0
    account: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CsvMapping:
        """A mapping from its JSON form; ``ValueError`` naming what does not fit."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown mapping field(s) {unknown}")
        mapping = cls(**{k: v for k, v in data.items() if v is not None})
        mapping.check()
        return mapping

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def columns(self) -> dict[str, Column]:
        """The mapped columns by field name."""
        names = ("booking_date", "value_date", "amount", "credit", "debit", "currency")
        return {
            name: getattr(self, name)
            for name in (*names, *_TEXT_FIELDS)
            if getattr(self, name) is not None
        }

    def check(self) -> None:
        """Raise ``ValueError`` for a mapping that cannot read any file."""
        if (self.amount is None) == (self.credit is None and self.debit is None):
            raise ValueError("map either 'amount' or 'credit' and 'debit'")
        if self.amount is None and (self.credit is None or self.debit is None):
            raise ValueError("map both 'credit' and 'debit' (or 'amount')")
        if (self.currency is None) == (self.fixed_currency is None):
            raise ValueError("give either a 'currency' column or a 'fixed_currency'")
        if self.fixed_currency is not None:
            try:
                check_currency(self.fixed_currency, "fixed_currency")
            except StatementFormatError as exc:
                raise ValueError(exc.reason) from None
        for name, column in self.columns().items():
            if self.header_row and not (isinstance(column, str) and column.strip()):
                raise ValueError(f"'{name}' must be a header name (the file has a header row)")
            if not self.header_row and not (isinstance(column, int) and column >= 1):
                raise ValueError(f"'{name}' must be a column number from 1 (no header row)")
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ValueError("'delimiter' must be one character such as ';', ',' or a tab")
        if self.decimal_separator not in (",", "."):
            raise ValueError("'decimal_separator' must be ',' or '.'")
        if self.thousands_separator in (self.decimal_separator, self.delimiter):
            raise ValueError("'thousands_separator' must differ from the decimal separator")
        if "%" not in self.date_format:
            raise ValueError("'date_format' must be a strftime format such as '%d.%m.%Y'")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {self.encoding!r}") from None
        if self.skip_rows < 0:
            raise ValueError("'skip_rows' must not be negative")


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementFormatError(f"line {line}", f"not valid {encoding} text") from None
    return text.removeprefix("\ufeff")


class _Row:
    """One CSV row and where it is, for reading values with errors that name the place."""

    def __init__(self, cells: list[str], line: int, positions: dict[str, tuple[int, str]]):
        self.cells, self.line, self.positions = cells, line, positions

    def where(self, name: str) -> str:
        return f"row {self.line}, column {self.positions[name][1]!r}"

    def text(self, name: str) -> str | None:
        if name not in self.positions:
            return None
        index = self.positions[name][0]
        value = self.cells[index].strip() if index < len(self.cells) else ""
        return value or None

    def fail(self, name: str, reason: str) -> StatementFormatError:
        return StatementFormatError(self.where(name), reason)


def _positions(
    mapping: CsvMapping, header: list[str] | None, line: int
) -> dict[str, tuple[int, str]]:
    """Field name → (0-based index, column label) of every mapped column."""
    found: dict[str, tuple[int, str]] = {}
    names = [cell.strip() for cell in header] if header is not None else []
    for name, column in mapping.columns().items():
        if isinstance(column, int):
            found[name] = (column - 1, str(column))
        elif column.strip() in names:
            found[name] = (names.index(column.strip()), column.strip())
        else:
            raise StatementFormatError(
                f"line {line}", f"the header has no column {column!r} (mapped as {name})"
            )
    return found


def _date(row: _Row, name: str, mapping: CsvMapping, required: bool) -> date | None:
    value = row.text(name)
    if value is None:
        if required:
            raise row.fail(name, "the date is missing")
        return None
    try:
        return datetime.strptime(value, mapping.date_format).date()
    except ValueError:
        raise row.fail(name, f"{value!r} is not a date as {mapping.date_format!r}") from None


def _amount(row: _Row, name: str, mapping: CsvMapping, currency: str) -> int | None:
    """The signed minor units in the cell, ``None`` for an empty one."""
    value = row.text(name)
    if value is None:
        return None
    text = value.replace(" ", "").replace("\u00a0", "")
    if mapping.thousands_separator:
        text = text.replace(mapping.thousands_separator, "")
    sign = 1
    if text.startswith(("+", "-")):
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    elif text.endswith("-"):  # '123,45-' as some German banks write debits
        sign, text = -1, text[:-1]
    if mapping.decimal_separator == ",":
        if "." in text:
            raise row.fail(name, f"{value!r} is not an amount such as 1234,56")
        text = text.replace(",", ".")
    elif "," in text:
        raise row.fail(name, f"{value!r} is not an amount such as 1234.56")
    return sign * to_minor(text, currency, row.where(name))


def _signed_amount(row: _Row, mapping: CsvMapping, currency: str) -> int:
    if mapping.amount is not None:
        amount = _amount(row, "amount", mapping, currency)
        if amount is None:
            raise row.fail("amount", "the amount is missing")
        return amount
    credit = _amount(row, "credit", mapping, currency)
    debit = _amount(row, "debit", mapping, currency)
    if bool(credit) == bool(debit):
        raise row.fail("credit", "give the amount in exactly one of the credit and debit columns")
    return abs(credit) if credit else -abs(debit or 0)


def _line(row: _Row, mapping: CsvMapping) -> LineFields:
    if mapping.fixed_currency is not None:
        currency = mapping.fixed_currency
    else:
        currency = (row.text("currency") or "").upper()
        check_currency(currency, row.where("currency"))
    booking_date = _date(row, "booking_date", mapping, required=True)
    assert booking_date is not None
    line = LineFields(
        booking_date=booking_date,
        value_date=_date(row, "value_date", mapping, required=False),
        amount=_signed_amount(row, mapping, currency),
        currency=currency,
        status="BOOK",
    )
    for name in _TEXT_FIELDS:
        line[name] = row.text(name)  # type: ignore[literal-required]
    return line


def parse(data: bytes, mapping: CsvMapping) -> Statement:
    """The one statement of a CSV export read with ``mapping``; refuses the whole file with
    the row and column of the first value it cannot read."""
    reader = csv.reader(
        io.StringIO(_decode(data, mapping.encoding), newline=""), delimiter=mapping.delimiter
    )
    positions: dict[str, tuple[int, str]] | None = None
    lines: list[LineFields] = []
    try:
        for _ in range(mapping.skip_rows):
            next(reader, None)
        if mapping.header_row:
            header = next(reader, None)
            if header is None:
                raise StatementFormatError("line 1", "the file has no header row")
            positions = _positions(mapping, header, reader.line_num)
        else:
            positions = _positions(mapping, None, 1)
        for cells in reader:
            if any(cell.strip() for cell in cells):
                lines.append(_line(_Row(cells, reader.line_num, positions), mapping))
    except csv.Error as exc:
        raise StatementFormatError(f"line {reader.line_num}", f"not CSV: {exc}") from None
    currencies = {line["currency"] for line in lines}
    return Statement(
        format="csv",
        account=mapping.account,
        currency=currencies.pop() if len(currencies) == 1 else None,
        statement_id=None,
        sequence_number=None,
        created_at=None,
        period_from=None,
        period_to=None,
        opening_balance=None,
        closing_balance=None,
        lines=build_lines(mapping.account, lines),
    )

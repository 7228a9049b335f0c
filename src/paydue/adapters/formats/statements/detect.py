"""Which statement format a file is in, from its content; and one entry point for all."""

from __future__ import annotations

import re

from . import camt, csv, mt940
from .csv import CsvMapping
from .errors import StatementFormatError
from .model import Statement

_XML_START = re.compile(rb"\s*(?:<\?xml|<!--|<[A-Za-z_])")
_MT940_FIELD = re.compile(rb"(?m)^[\x01\s]*(?:\{[^\n]*\{4:\s*)?:(?:20|25|28C?|60[FM]|61|940):")
_CSV_LINE = re.compile(rb"[^\n]*[;,\t][^\n]*\n[^\n]*[;,\t]")


def detect_format(data: bytes) -> str:
    """``"camt"``, ``"mt940"`` or ``"csv"``, judged from the first few kilobytes.

    Raises ``StatementFormatError`` when the content looks like none of them.
    """
    kind = _structured_format(data)
    if kind is not None:
        return kind
    if _CSV_LINE.match(data[:4096].removeprefix(b"\xef\xbb\xbf")):
        return "csv"
    raise StatementFormatError("line 1", "not a camt (XML), MT940 or CSV bank statement")


def _structured_format(data: bytes) -> str | None:
    """``"camt"`` or ``"mt940"`` when the file starts like one, else ``None``."""
    head = data[:4096].removeprefix(b"\xef\xbb\xbf")
    if _XML_START.match(head):
        return "camt"
    if _MT940_FIELD.search(head):
        return "mt940"
    return None


def parse_statement(data: bytes, csv_mapping: CsvMapping | None = None) -> list[Statement]:
    """Parse a camt or MT940 file, whichever it is, into its statements; any other file is read
    as CSV with ``csv_mapping`` when the issuer saved one."""
    kind = detect_format(data) if csv_mapping is None else _structured_format(data)
    if kind == "camt":
        return camt.parse(data)
    if kind == "mt940":
        return mt940.parse(data)
    if csv_mapping is not None:
        return [csv.parse(data, csv_mapping)]
    raise StatementFormatError(
        "line 1",
        "CSV bank statements need the issuer's column mapping (PUT /v1/statements/csv-mapping)"
        " and cannot be read without one",
    )

"""Which statement format a file is in, from its content; and one entry point for all."""

from __future__ import annotations

import re

from . import camt, mt940
from .errors import StatementFormatError
from .model import Statement

_XML_START = re.compile(rb"\s*(?:<\?xml|<!--|<[A-Za-z_])")
_MT940_FIELD = re.compile(rb"(?m)^[\x01\s]*(?:\{[^\n]*\{4:\s*)?:(?:20|25|28C?|60[FM]|61|940):")
_CSV_LINE = re.compile(rb"[^\n]*[;,\t][^\n]*\n[^\n]*[;,\t]")


def detect_format(data: bytes) -> str:
    """``"camt"``, ``"mt940"`` or ``"csv"``, judged from the first few kilobytes.

    Raises ``StatementFormatError`` when the content looks like none of them.
    """
    head = data[:4096].removeprefix(b"\xef\xbb\xbf")
    if _XML_START.match(head):
        return "camt"
    if _MT940_FIELD.search(head):
        return "mt940"
    if _CSV_LINE.match(head):
        return "csv"
    raise StatementFormatError("line 1", "not a camt (XML), MT940 or CSV bank statement")


def parse_statement(data: bytes) -> list[Statement]:
    """Parse a camt or MT940 file, whichever it is, into its statements."""
    kind = detect_format(data)
    if kind == "camt":
        return camt.parse(data)
    if kind == "mt940":
        return mt940.parse(data)
    raise StatementFormatError(
        "line 1",
        "CSV bank statements need the issuer's column mapping and cannot be read without one",
    )

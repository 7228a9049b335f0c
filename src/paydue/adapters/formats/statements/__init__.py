"""Pure bank statement parsers: bytes in, :class:`Statement` values out, no I/O.

``parse_statement(data)`` reads camt.052/053/054 and MT940/MT942, and CSV with the issuer's
:class:`CsvMapping` (``parse_statement(data, mapping)``); every parser raises
:class:`StatementFormatError` (a ``ValueError``) naming the place for input it cannot accept.
"""

from .csv import CsvMapping
from .detect import detect_format, parse_statement
from .errors import StatementFormatError
from .model import Balance, Statement, StatementLine

__all__ = [
    "Balance",
    "CsvMapping",
    "Statement",
    "StatementFormatError",
    "StatementLine",
    "detect_format",
    "parse_statement",
]

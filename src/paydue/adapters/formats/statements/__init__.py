"""Pure bank statement parsers: bytes in, :class:`Statement` values out, no I/O.

``parse_statement(data)`` reads camt.052/053/054 and MT940/MT942; every parser raises
:class:`StatementFormatError` (a ``ValueError``) naming the place for input it cannot accept.
"""

from .detect import detect_format, parse_statement
from .errors import StatementFormatError
from .model import Balance, Statement, StatementLine

__all__ = [
    "Balance",
    "Statement",
    "StatementFormatError",
    "StatementLine",
    "detect_format",
    "parse_statement",
]

"""The one error every statement parser raises for input it cannot accept."""

from __future__ import annotations


class StatementFormatError(ValueError):
    """A statement file that cannot be read, with the place where reading stopped.

    ``where`` is an XPath-like element path for XML
    (``/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt``), ``line N`` for line-based formats and for
    XML that is not well-formed; ``reason`` names what is wrong there.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason

"""Decimal amount text to integer minor units, for statement parsers.

The rule is that of :func:`paydue.domain.money.parse_decimal` (dot as decimal separator, never
round: more significant decimals than the currency has is an error), done with integer
arithmetic because statement files carry tens of thousands of amounts. Currency codes that are
well-formed but no longer in ISO 4217 (``DEM`` in old German statements) get two decimals.
"""

from __future__ import annotations

import re
from functools import lru_cache

from paydue.domain.money import MoneyError, currency_exponent

from .errors import StatementFormatError

_AMOUNT = re.compile(r"(\d{1,18})(?:\.(\d{0,18}))?")
_CURRENCY = re.compile(r"[A-Z]{3}")


@lru_cache(maxsize=256)
def _exponent(currency: str) -> int | None:
    try:
        return currency_exponent(currency)
    except MoneyError:
        return 2 if _CURRENCY.fullmatch(currency) else None


def check_currency(currency: str, where: str) -> str:
    """Return ``currency`` if it is a three-letter code, else raise ``StatementFormatError``."""
    if _exponent(currency) is None:
        raise StatementFormatError(where, f"{currency!r} is not a currency code such as 'EUR'")
    return currency


def to_minor(text: str, currency: str, where: str) -> int:
    """Unsigned decimal ``text`` (``"1234.5"``) as minor units of ``currency``."""
    exponent = _exponent(currency)
    if exponent is None:
        raise StatementFormatError(where, f"{currency!r} is not a currency code such as 'EUR'")
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise StatementFormatError(where, f"{text!r} is not an amount such as 1234.50")
    whole, fraction = match.groups()
    fraction = (fraction or "").rstrip("0")
    if len(fraction) > exponent:
        raise StatementFormatError(
            where, f"{text!r} has more than {exponent} decimal places for {currency}"
        )
    scale: int = 10**exponent
    return int(whole) * scale + int(fraction.ljust(exponent, "0") or "0")

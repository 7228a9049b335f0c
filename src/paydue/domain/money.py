"""Money: an integer number of minor units and an ISO 4217 currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, is_currency

MAX_AMOUNT = 10**15  # minor units; far beyond any invoice, well inside BIGINT


class MoneyError(ValueError):
    """An amount or currency that cannot be accepted."""


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Number of decimal places of ``currency`` (EUR 2, JPY 0, KWD 3)."""
    check_currency(currency)
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _known(currency: str) -> bool:
    return (
        len(currency) == 3 and currency.isalpha() and currency.isupper() and is_currency(currency)
    )


def check_currency(currency: str) -> str:
    """Return ``currency`` if it is an ISO 4217 code, else raise ``MoneyError``."""
    if not isinstance(currency, str) or not _known(currency):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code (such as 'EUR')")
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError("amounts are integers in minor units (cents), not decimals")
        check_currency(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        exp = currency_exponent(self.currency)
        return f"{self.to_decimal():.{exp}f} {self.currency}"


def describe(amount: int, currency: str) -> str:
    """Human text for an amount; a code that is no known currency (bank files carry odd ones) is
    shown in minor units rather than refused."""
    try:
        return str(Money(amount, currency))
    except MoneyError:
        return f"{amount} {currency} (minor units)"


def parse_decimal(text: str, currency: str) -> int:
    """Convert decimal text such as ``"1234.50"`` into minor units of ``currency``.

    Accepts a dot as decimal separator only (CSV and UI convert locale formats at the edge);
    refuses more decimals than the currency has, rather than rounding money silently.
    """
    exp = currency_exponent(currency)
    cleaned = text.strip().replace("_", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a decimal amount such as 123.45") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a decimal amount such as 123.45")
    minor = value.scaleb(exp)
    if minor != minor.to_integral_value():
        raise MoneyError(f"{text!r} has more than {exp} decimal places for {currency}")
    return int(minor)


def check_amount(amount: int, *, allow_zero: bool = False) -> int:
    """Validate a positive amount in minor units."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError("amounts are integers in minor units (cents), not decimals")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("amount must be a positive number of minor units")
    if amount > MAX_AMOUNT:
        raise MoneyError(f"amount must not exceed {MAX_AMOUNT} minor units")
    return amount

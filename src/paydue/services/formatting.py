"""Amounts and dates as a payer's language writes them (Babel), for messages.

The pay page has its own copy in ``web.pay.i18n``; this one is for the layers below the web.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from paydue.domain.money import Money


@cache
def _locale(language: str) -> Locale:
    """Parsed once per language: Babel would parse the identifier on every call."""
    return Locale.parse(language)


def money(value: Money, language: str) -> str:
    """``Money(123450, "EUR")`` in German: ``1.234,50 €``."""
    return str(format_currency(value.to_decimal(), value.currency, locale=_locale(language)))


def long_date(value: date, language: str) -> str:
    """``2026-11-30`` in French: ``30 novembre 2026``."""
    return str(format_date(value, format="long", locale=_locale(language)))

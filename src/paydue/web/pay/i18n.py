"""The payer's language: catalogs, choice and locale formatting.

Messages are written in English in the templates (``{{ _("…") }}``) and in Python (marked with
``N_``); ``locale/<lang>.po`` holds each language's translations, read with Babel and compiled
in memory at start-up, so no compiled files are kept in the repository. The language is the
one the payer picked on the page (``?lang=``), else the invoice's payer language, else the
best match of the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from paydue.domain.money import Money

LANGUAGES = ("en", "de", "fr", "nl", "it", "ro")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).with_name("locale")


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; it is translated where shown."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English is the source text)."""
    path = LOCALE_DIR / f"{language}.po"
    if language == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    mo = BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo)


def _primary(tag: str) -> str:
    return tag.replace("_", "-").split("-", 1)[0].strip().lower()


def choose(requested: str | None, payer_language: str | None, accept_language: str | None) -> str:
    """The page's language from, in order: the payer's explicit pick, the invoice's payer
    language, the browser's ``Accept-Language`` (by quality), English."""
    for candidate in (requested, payer_language):
        if candidate and _primary(candidate) in LANGUAGES:
            return _primary(candidate)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, position, _primary(tag)))
    for _, _, language in sorted(ranked):
        if language in LANGUAGES:
            return language
    return DEFAULT


@cache
def _locale(language: str) -> Locale:
    """Parsed once per language: Babel would parse the identifier on every call."""
    return Locale.parse(language)


@lru_cache(maxsize=4096)
def money(amount: int, currency: str, language: str) -> str:
    """An amount in minor units as the payer's locale writes it (``1.234,50 €``)."""
    value: Decimal = Money(amount, currency).to_decimal()
    return format_currency(value, currency, locale=_locale(language))


@lru_cache(maxsize=4096)
def long_date(value: date, language: str) -> str:
    return format_date(value, format="long", locale=_locale(language))


@cache
def language_name(language: str) -> str:
    """A language's name in itself, for the switcher (``Deutsch``)."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]

"""The pay page's catalogs are complete and correct, the page's language is chosen in the
documented order, and amounts and dates are written the way each language writes them.

The messages are extracted here from the sources themselves (with the same ``babel.cfg`` as
``pybabel extract``), so a message added to a template or to ``routes.py`` without running the
update fails these tests until every language has it.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from paydue.web.pay import i18n

PAY_DIR = Path(i18n.__file__).parent
LOCALE_DIR = i18n.LOCALE_DIR
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%])")

MessageId = str | tuple[str, ...]


def _extracted() -> dict[MessageId, list[str]]:
    """Every message marked in the pay page's sources, with the files it is in."""
    with (LOCALE_DIR / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[MessageId, list[str]] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(PAY_DIR), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None}
    ):
        assert context is None, f"{filename}: message contexts are not used: {message!r}"
        key = message if isinstance(message, str) else tuple(message)
        found.setdefault(key, []).append(filename)
    return found


EXTRACTED = _extracted()


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language)


def _messages(catalog: Catalog) -> dict[MessageId, Message]:
    return {m.id: m for m in catalog if m.id}


CATALOGS = {language: _read(LOCALE_DIR / f"{language}.po", language) for language in TRANSLATED}


def _placeholders(text: str) -> Counter[str]:
    return Counter(
        f"%({name}){conv}" if name else f"%{conv}" for name, conv in PLACEHOLDER.findall(text)
    )


def _forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def _sources(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def test_the_sources_have_the_messages_the_pages_show() -> None:
    """A guard for the extraction itself: Python's N_, plain, formatted and plural template
    messages are all found."""
    assert "This payment link has expired." in EXTRACTED  # N_ in routes.py
    assert "Amount due" in EXTRACTED  # {{ _("…") }}
    assert "Please contact %(issuer)s for help." in EXTRACTED  # {{ _("…") % {…} }}
    assert ("%(num)d try left", "%(num)d tries left") in EXTRACTED  # ngettext in tan.html
    assert not any("simulator.html" in f for files in EXTRACTED.values() for f in files)
    assert len(EXTRACTED) > 40


def test_the_template_is_up_to_date_with_the_sources() -> None:
    template = _messages(_read(LOCALE_DIR / "messages.pot"))
    missing = set(EXTRACTED) - set(template)
    stale = set(template) - set(EXTRACTED)
    assert not missing, f"run pybabel extract (locale/README.md); not in messages.pot: {missing}"
    assert not stale, f"run pybabel extract (locale/README.md); no longer in the sources: {stale}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    catalog = CATALOGS[language]
    messages = _messages(catalog)
    assert not catalog.fuzzy, f"{language}.po: the header is marked fuzzy"
    assert set(messages) == set(EXTRACTED), (
        f"{language}.po is not up to date (pybabel update, locale/README.md): "
        f"missing {set(EXTRACTED) - set(messages)}, stale {set(messages) - set(EXTRACTED)}"
    )
    problems = []
    for key, message in messages.items():
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        forms = _forms(message)
        if isinstance(key, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"{len(forms)} plural forms, wanted {catalog.num_plurals}: {key!r}")
        if not all(form.strip() for form in forms):
            problems.append(f"untranslated: {key!r}")
    assert not problems, f"{language}.po:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_header_names_the_language_and_its_plural_forms(language: str) -> None:
    catalog = CATALOGS[language]
    assert str(catalog.locale) == language
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == language
    assert headers["Plural-Forms"] == get_plural(language).plural_forms
    assert "charset=utf-8" in headers["Content-Type"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_in_every_translation_are_those_of_the_source(language: str) -> None:
    catalog = CATALOGS[language]
    problems = []
    for key, message in _messages(catalog).items():
        wanted = _placeholders(_sources(message)[-1])
        values = {name: 1 for name, _ in PLACEHOLDER.findall(_sources(message)[-1]) if name}
        for form in _forms(message):
            if _placeholders(form) != wanted:
                problems.append(f"{key!r}: {form!r} has {dict(_placeholders(form))}")
            elif values:
                form % values  # a stray % would raise here, on the payer's page
    for message, errors in catalog.check():
        problems.extend(f"{message.id!r}: {error}" for error in errors)
    assert not problems, f"{language}.po:\n" + "\n".join(problems)


def _text(language: str) -> str:
    return " ".join(form for m in _messages(CATALOGS[language]).values() for form in _forms(m))


def test_romanian_is_written_with_comma_below_letters() -> None:
    romanian = _text("ro")
    assert not set("şţŞŢ") & set(romanian), "Romanian is written with ș and ț (comma below)"
    assert set("șț") <= set(romanian)


def test_german_addresses_the_payer_as_sie() -> None:
    informal = re.findall(r"\b(?:du|dich|dir|dein\w*)\b", _text("de"), flags=re.IGNORECASE)
    assert not informal, f"German addresses the payer as Sie: {informal}"


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("de", 1, "Noch 1 Versuch"),
        ("de", 4, "Noch 4 Versuche"),
        ("fr", 0, "Il vous reste 0 essai"),
        ("fr", 2, "Il vous reste 2 essais"),
        ("ro", 1, "1 încercare rămasă"),
        ("ro", 3, "3 încercări rămase"),
        ("ro", 20, "20 de încercări rămase"),
        ("en", 1, "1 try left"),
        ("en", 5, "5 tries left"),
    ],
)
def test_the_compiled_catalogs_translate_plurals(language: str, count: int, expected: str) -> None:
    t = i18n.translations(language)
    assert t.ngettext("%(num)d try left", "%(num)d tries left", count) % {"num": count} == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Pay now"),
        ("de", "Jetzt bezahlen"),
        ("fr", "Payer maintenant"),
        ("nl", "Nu betalen"),
        ("it", "Paga ora"),
        ("ro", "Plătiți acum"),
    ],
)
def test_the_compiled_catalogs_translate(language: str, expected: str) -> None:
    assert i18n.translations(language).gettext("Pay now") == expected


@pytest.mark.parametrize(
    ("requested", "payer", "accept", "expected"),
    [
        # the payer's pick wins over everything
        ("fr", "de", "it", "fr"),
        ("nl-BE", None, None, "nl"),
        ("RO", None, None, "ro"),
        ("en", "de", "de-DE", "en"),
        # a pick that is not offered falls through to the payer's language
        ("es", "it", "de", "it"),
        ("", "it", "de", "it"),
        # the invoice's payer language wins over the browser
        (None, "de", "fr-FR,fr;q=0.9", "de"),
        (None, "de_AT", None, "de"),
        # an unknown payer language falls through to the browser
        (None, "pl", "fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        # Accept-Language by quality, not by position
        (None, None, "en;q=0.3, it;q=0.9, de;q=0.5", "it"),
        (None, None, "es, ro;q=0.2, nl;q=0.4", "nl"),
        # equal quality: the first listed
        (None, None, "nl, de", "nl"),
        (None, None, "de;q=0.8, nl;q=0.8", "de"),
        # q=0 means "not this one"; a bad q is ignored
        (None, None, "de;q=0, fr;q=0.1", "fr"),
        (None, None, "de;q=abc, it;q=0.2", "it"),
        # wildcards and unknown languages only: English
        (None, None, "*", "en"),
        (None, None, "es-ES, pt;q=0.9", "en"),
        (None, None, "", "en"),
        (None, None, None, "en"),
    ],
)
def test_the_language_is_chosen_in_order(
    requested: str | None, payer: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.choose(requested, payer, accept) == expected


NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", 123450, "EUR", "€1,234.50"),
        ("de", 123450, "EUR", f"1.234,50{NBSP}€"),
        ("fr", 123450, "EUR", f"1{NNBSP}234,50{NBSP}€"),
        ("nl", 123450, "EUR", f"€{NBSP}1.234,50"),
        ("it", 123450, "EUR", f"1.234,50{NBSP}€"),
        ("ro", 123450, "EUR", f"1.234,50{NBSP}EUR"),
        ("de", 5, "EUR", f"0,05{NBSP}€"),
        ("de", 1234, "JPY", f"1.234{NBSP}¥"),  # no minor unit
        ("en", 4711, "CHF", "CHF47.11"),
    ],
)
def test_amounts_are_written_as_the_language_writes_them(
    language: str, amount: int, currency: str, expected: str
) -> None:
    assert i18n.money(amount, currency, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "December 1, 2026"),
        ("de", "1. Dezember 2026"),
        ("fr", "1 décembre 2026"),
        ("nl", "1 december 2026"),
        ("it", "1 dicembre 2026"),
        ("ro", "1 decembrie 2026"),
    ],
)
def test_dates_are_written_as_the_language_writes_them(language: str, expected: str) -> None:
    assert i18n.long_date(date(2026, 12, 1), language) == expected


def test_the_switcher_names_each_language_in_itself() -> None:
    names = [i18n.language_name(language) for language in i18n.LANGUAGES]
    assert names == ["English", "Deutsch", "Français", "Nederlands", "Italiano", "Română"]

"""Every payer page, rendered through the app in each of its six languages: the document says
which language it is in, the page's texts are translated, and none of the page's English texts
is left over in another language.

"Left over" is checked two ways on the visible text (text nodes and ``alt``/``aria-label``/
``title`` attributes): no text is one of the English messages of the catalog (placeholders
matching anything), and no text of the English page appears unchanged in the other language
unless it is data or a name (the issuer, the invoice's description, PayPal, the languages'
names) or a code (IBAN, BIC, reference) — which also catches text that was never marked for
translation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container
from paydue.web.app import create_app
from paydue.web.pay import i18n
from tests.conftest import IBAN, IssuerHandle, invoice_body, new_issuer
from tests.payflow import csrf_of, drain, notify, set_methods, start_payment, token_of

LANGUAGES = i18n.LANGUAGES
ISSUER = "Stadtwerke Musterstadt"
DESCRIPTION = "Electricity November"
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
ATTRIBUTES = ("alt", "aria-label", "title", "placeholder")

# One text per page and language, written out here rather than read from the catalogs.
EXPECTED = {
    "pay": {
        "en": "Pay your invoice",
        "de": "Ihre Rechnung bezahlen",
        "fr": "Payer votre facture",
        "nl": "Uw factuur betalen",
        "it": "Paga la tua fattura",
        "ro": "Plătiți factura",
    },
    "expired": {
        "en": "This payment link has expired.",
        "de": "Dieser Zahlungslink ist abgelaufen.",
        "fr": "Ce lien de paiement a expiré.",
        "nl": "Deze betaallink is verlopen.",
        "it": "Questo link di pagamento è scaduto.",
        "ro": "Acest link de plată a expirat.",
    },
    "tan": {
        "en": "Enter the TAN you received",
        "de": "Geben Sie die TAN ein, die Sie erhalten haben",
        "fr": "Saisissez le code TAN que vous avez reçu",
        "nl": "Voer de TAN-code in die u heeft ontvangen",
        "it": "Inserisci il codice TAN che hai ricevuto",
        "ro": "Introduceți codul TAN primit",
    },
    "wrong_tan": {
        "en": "The TAN is not correct.",
        "de": "Die TAN ist nicht korrekt.",
        "fr": "Le code TAN est incorrect.",
        "nl": "De TAN-code is onjuist.",
        "it": "Il codice TAN non è corretto.",
        "ro": "Codul TAN nu este corect.",
    },
    "failed": {
        "en": "Your card has expired.",
        "de": "Ihre Karte ist abgelaufen.",
        "fr": "Votre carte a expiré.",
        "nl": "Uw kaart is verlopen.",
        "it": "La tua carta è scaduta.",
        "ro": "Cardul dumneavoastră a expirat.",
    },
    "paid": {
        "en": "Already paid",
        "de": "Bereits bezahlt",
        "fr": "Facture déjà payée",
        "nl": "Al betaald",
        "it": "Fattura già pagata",
        "ro": "Factură deja plătită",
    },
    "unknown": {
        "en": "This payment link does not exist. Please check the address.",
        "de": "Diesen Zahlungslink gibt es nicht. Bitte prüfen Sie die Adresse.",
        "fr": "Ce lien de paiement n'existe pas. Veuillez vérifier l'adresse.",
        "nl": "Deze betaallink bestaat niet. Controleer het adres.",
        "it": "Questo link di pagamento non esiste. Controlla l'indirizzo.",
        "ro": "Acest link de plată nu există. Vă rugăm să verificați adresa.",
    },
}

TRIES_LEFT = {  # after one wrong TAN of five
    "en": "4 tries left",
    "de": "Noch 4 Versuche",
    "fr": "Il vous reste 4 essais",
    "nl": "Nog 4 pogingen over",
    "it": "4 tentativi rimasti",
    "ro": "4 încercări rămase",
}


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("style", "script"):
            self._skip += 1
        for name in ATTRIBUTES:
            self._add(values.get(name))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._add(data)

    def _add(self, text: str | None) -> None:
        text = re.sub(r"[ \t\r\n]+", " ", text or "").strip()  # keeps no-break spaces
        if text:
            self.texts.append(text)


def texts_of(html: str) -> tuple[str | None, list[str]]:
    """The ``<html lang>`` and the visible texts of a page, whitespace collapsed."""
    parser = _Texts()
    parser.feed(html)
    return parser.lang, parser.texts


def _pattern(message: str) -> re.Pattern[str]:
    parts = PLACEHOLDER.split(message)
    # split gives text, name, conversion, text, name, conversion, …, text
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            out.append(re.escape(part))
        elif i % 3 == 2:
            out.append(r"\d+" if part == "d" else ".+")
    return re.compile("".join(out))


def _english_messages() -> list[tuple[str, re.Pattern[str]]]:
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    sources: list[str] = []
    for message in template:
        if message.id:
            sources.extend(message.id if isinstance(message.id, tuple) else [message.id])
    return [(source, _pattern(source)) for source in sources]


ENGLISH = _english_messages()
NAMES = {i18n.language_name(code) for code in LANGUAGES}
SAME_IN_EVERY_LANGUAGE = {ISSUER, DESCRIPTION, IBAN, "IBAN", "BIC", "PayPal", *NAMES}


def check_page(
    pages: dict[str, str], page: str, *, also_same: frozenset[str] = frozenset()
) -> None:
    """``pages`` maps each language to its rendering of one page."""
    english_lang, english = texts_of(pages["en"])
    assert english_lang == "en"
    assert EXPECTED[page]["en"] in english, english
    messages_shown = {s for s, p in ENGLISH if any(p.fullmatch(text) for text in english)}
    assert messages_shown, "the English page shows no message of the catalog"
    allowed = SAME_IN_EVERY_LANGUAGE | also_same
    for language, html in pages.items():
        if language == "en":
            continue
        lang, texts = texts_of(html)
        assert lang == language
        assert EXPECTED[page][language] in texts, f"{language}: {texts}"
        leaked = [
            f"{text!r} is the English {source!r}"
            for text in texts
            for source, pattern in ENGLISH
            if pattern.fullmatch(text)
        ]
        leaked += [
            f"{text!r} is as on the English page"
            for text in sorted(set(texts) & set(english) - allowed)
            if re.search(r"[a-z]{2}", text)  # words, not codes (BIC, reference) or numbers
        ]
        assert not leaked, f"{language}:\n" + "\n".join(leaked)


def _render_all(client: TestClient, path: str, status: int) -> dict[str, str]:
    pages = {}
    for language in LANGUAGES:
        r = client.get(path, params={"lang": language})
        assert r.status_code == status, (language, r.status_code, r.text)
        pages[language] = r.text
    return pages


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> Any:
    set_methods(client, issuer)
    r = client.post("/v1/invoices", json=invoice_body("INV-1", 4711), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_pay_page_in_every_language(client: TestClient, invoice: Any) -> None:
    pages = _render_all(client, f"/p/{token_of(invoice['pay_url'])}", 200)
    check_page(pages, "pay", also_same=frozenset({invoice["number"]}))
    for language, html in pages.items():
        # the amount and the due date in the language's own way
        texts = texts_of(html)[1]
        assert i18n.money(4711, "EUR", language) in texts
        assert i18n.long_date(date.fromisoformat(invoice["due_date"]), language) in texts


@pytest.fixture
def simulated_client(
    simulated: tuple[Container, SimulatedClock],
) -> Iterator[tuple[TestClient, Container, SimulatedClock]]:
    container, clock = simulated
    with TestClient(create_app(container), raise_server_exceptions=False) as tc:
        yield tc, container, clock


def test_the_expired_link_page_in_every_language(
    simulated_client: tuple[TestClient, Container, SimulatedClock],
) -> None:
    client, container, clock = simulated_client
    issuer = new_issuer(container)
    r = client.post("/v1/invoices", json=invoice_body("INV-1", 4711), headers=issuer.headers)
    assert r.status_code == 201, r.text
    invoice = r.json()
    r = client.post(
        f"/v1/invoices/{invoice['id']}/pay-links",
        json={"expires_in_hours": 1},
        headers=issuer.headers,
    )
    assert r.status_code == 201, r.text
    clock.advance(timedelta(hours=2))
    pages = _render_all(client, f"/p/{token_of(r.json()['url'])}", 410)
    check_page(pages, "expired")


def test_the_tan_page_in_every_language(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    pages, answers = {}, {}
    for language in LANGUAGES:  # a link each: wrong TANs count per link
        r = client.post(
            f"/v1/invoices/{invoice['id']}/pay-links",
            json={"require_tan": True},
            headers=issuer.headers,
        )
        assert r.status_code == 201, r.text
        link = r.json()
        path = f"/p/{token_of(link['url'])}"
        page = client.get(path, params={"lang": language})
        assert page.status_code == 200, (language, page.text)
        pages[language] = page.text
        wrong = f"{(int(link['tan']) + 1) % 1_000_000:06d}"
        answer = client.post(
            f"{path}/tan",
            params={"lang": language},
            data={"tan": wrong, "csrf": csrf_of(page.text)},
        )
        assert answer.status_code == 401, (language, answer.text)
        answers[language] = answer.text
        assert TRIES_LEFT[language] in texts_of(answer.text)[1], language
    check_page(pages, "tan")
    check_page(answers, "wrong_tan")


def test_the_result_page_of_a_failed_payment_in_every_language(
    client: TestClient, container: Container, issuer: IssuerHandle, invoice: Any
) -> None:
    token = token_of(invoice["pay_url"])
    charge = start_payment(client, token)
    assert notify(client, container, charge, "failed", "card_expired").status_code == 200
    drain(container)
    payments = client.get(
        f"/v1/payments?invoice_id={invoice['id']}", headers=issuer.headers
    ).json()["data"]
    assert [p["status"] for p in payments] == ["failed"]
    pages = _render_all(client, f"/p/{token}/payments/{payments[0]['id']}", 200)
    check_page(pages, "failed")
    assert 'value="simulator:card"' in pages["ro"], "a failed payment may be tried again"


def test_the_already_paid_page_in_every_language(
    client: TestClient, container: Container, invoice: Any
) -> None:
    token = token_of(invoice["pay_url"])
    charge = start_payment(client, token)
    assert notify(client, container, charge, "succeeded").status_code == 200
    drain(container)
    pages = _render_all(client, f"/p/{token}", 200)
    check_page(pages, "paid", also_same=frozenset({invoice["number"]}))


def test_the_unknown_link_page_in_every_language(client: TestClient) -> None:
    pages = _render_all(client, "/p/no-such-token-at-all", 404)
    check_page(pages, "unknown")

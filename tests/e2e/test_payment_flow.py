"""The whole pay flow in a real browser, against a live server with its in-process worker:
a pay link opened on a phone, a payment in the simulator's checkout, the result page, the
invoice in the API and the issuer's signed webhook. Also the decline and retry path, "pending
then success", expired and TAN links, and the page's script-free, keyboard-usable security.

The pages are opened with ``?lang=en`` so their texts do not depend on the payer's language.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from paydue.adapters.clock import Clock, SimulatedClock
from paydue.bootstrap import Container, build
from tests.conftest import (
    IssuerHandle,
    LiveServer,
    free_port,
    invoice_body,
    make_settings,
    new_issuer,
)
from tests.payflow import METHODS
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.e2e

WAIT_MS = 15_000
PAID = "Thank you, your payment was received"
PROCESSING = "Your payment is being processed"
FAILED = "The payment did not go through"
FOCUSED = (
    "() => { const e = document.activeElement;"
    " return e && e.name === 'method' ? e.textContent.trim() : null }"
)


@dataclass
class Shop:
    """A live server (with its worker) whose base URL is its own, an issuer with simulator
    methods, and a local webhook receiver subscribed to every event."""

    live: LiveServer
    container: Container
    issuer: IssuerHandle
    receiver: Receiver
    secret: str

    def api(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(
            method, f"{self.live.url}{path}", json=body, headers=self.issuer.headers, timeout=10
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    def invoice(self, amount: int = 4711) -> dict[str, Any]:
        invoice: dict[str, Any] = self.api("POST", "/v1/invoices", invoice_body(amount=amount))
        return invoice

    def pay_link(self, invoice_id: str, **options: Any) -> dict[str, Any]:
        link: dict[str, Any] = self.api("POST", f"/v1/invoices/{invoice_id}/pay-links", options)
        return link

    def webhook(self, event_type: str, invoice_id: str) -> Received:
        """The first delivery of ``event_type`` about ``invoice_id``; waits for it."""

        def found() -> Received | None:
            for request in list(self.receiver.requests):
                event = json.loads(request.body)
                if event["type"] == event_type and invoice_id in request.body.decode():
                    return request
            return None

        return eventually(found, f"a {event_type} webhook for {invoice_id}")


@pytest.fixture
def shop(db_url: str) -> Callable[[Clock | None], Any]:
    """``with shop(clock) as s:`` starts a :class:`Shop`, on the system clock by default."""

    @contextmanager
    def start(clock: Clock | None = None) -> Iterator[Shop]:
        port = free_port()
        settings = make_settings(
            db_url, base_url=f"http://127.0.0.1:{port}", webhook_allow_private=True
        )
        container = build(settings, clock=clock)
        try:
            with Receiver() as receiver, LiveServer(container, run_worker=True, port=port) as live:
                issuer = new_issuer(container)
                s = Shop(live, container, issuer, receiver, secret="")
                s.api("PUT", "/v1/payment-methods", {"methods": METHODS})
                endpoint = s.api(
                    "POST", "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]}
                )
                s.secret = endpoint["secret"]
                yield s
        finally:
            container.close()

    return start


def eventually(probe: Callable[[], Any], what: str, timeout: float = WAIT_MS / 1000) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def english(url: str) -> str:
    return f"{url}?lang=en"


def wait_for_text(page: Any, text: str) -> str:
    """Wait (through the result page's own reloads) until ``main`` contains ``text``."""
    page.wait_for_function(
        "text => !!document.querySelector('main') && "
        "document.querySelector('main').innerText.includes(text)",
        arg=text,
        timeout=WAIT_MS,
        polling=100,
    )
    return str(page.inner_text("main"))


def choose(page: Any, button: str) -> None:
    """Click the button named ``button`` and wait for the page it leads to."""
    with page.expect_navigation(timeout=WAIT_MS):
        page.get_by_role("button", name=button, exact=True).click()


def pay_in_simulator(page: Any, method: str, outcome: str) -> None:
    """From a page with method buttons: pick ``method``, then ``outcome`` in the checkout."""
    choose(page, method)
    assert "/simulator/checkout/" in page.url, page.url
    with page.expect_navigation(timeout=WAIT_MS):
        page.locator(f"button[name=outcome][value='{outcome}']").click()
    assert re.search(r"/p/[^/]+/payments/pay_", page.url), page.url


def invoice_status(s: Shop, invoice_id: str) -> str:
    return str(s.api("GET", f"/v1/invoices/{invoice_id}")["status"])


def test_a_card_payment_on_a_phone_marks_the_invoice_paid_and_sends_a_signed_webhook(
    shop: Callable[[Clock | None], Any], phone: Any, artifacts: Path, db_url: str
) -> None:
    with shop(None) as s:
        invoice = s.invoice()
        phone.goto(english(invoice["pay_url"]))
        text = phone.inner_text("main")
        assert "INV-1" in text
        assert "€47.11" in text
        assert phone.get_by_role("button", name="Card", exact=True).is_visible()
        backend = db_url.split(":", 1)[0].split("+", 1)[0]
        phone.screenshot(path=str(artifacts / f"pay-page-phone-{backend}.png"), full_page=True)

        pay_in_simulator(phone, "Card", "success")
        text = wait_for_text(phone, PAID)
        assert "We received €47.11 for invoice INV-1" in text
        assert phone.locator("meta[http-equiv=refresh]").count() == 0

        assert invoice_status(s, invoice["id"]) == "paid"
        delivery = s.webhook("invoice.paid", invoice["id"])
        Webhook(s.secret).verify(delivery.body, delivery.headers)
        event = json.loads(delivery.body)
        assert event["type"] == "invoice.paid"
        assert delivery.headers["webhook-id"] == event["id"]
        succeeded = s.webhook("payment.succeeded", invoice["id"])
        Webhook(s.secret).verify(succeeded.body, succeeded.headers)

        # Opening the link again after paying says so rather than offering to pay.
        phone.goto(english(invoice["pay_url"]))
        assert "Already paid" in phone.inner_text("main")


def test_a_declined_card_names_the_reason_and_a_retry_pays(
    shop: Callable[[Clock | None], Any], phone: Any
) -> None:
    with shop(None) as s:
        invoice = s.invoice()
        phone.goto(english(invoice["pay_url"]))
        pay_in_simulator(phone, "Card", "decline:card_expired")
        text = wait_for_text(phone, "Your card has expired.")
        assert FAILED in text
        assert "Try again" in text
        assert phone.get_by_role("alert").inner_text() == "Your card has expired."
        for name in ("Card", "PayPal"):
            assert phone.get_by_role("button", name=name, exact=True).is_visible()
        assert invoice_status(s, invoice["id"]) == "open"
        failed = s.webhook("payment.failed", invoice["id"])
        Webhook(s.secret).verify(failed.body, failed.headers)

        pay_in_simulator(phone, "Card", "success")
        wait_for_text(phone, PAID)
        assert invoice_status(s, invoice["id"]) == "paid"
        s.webhook("invoice.paid", invoice["id"])


def test_pending_then_success_shows_processing_first_then_paid(
    shop: Callable[[Clock | None], Any], phone: Any
) -> None:
    with shop(None) as s:
        invoice = s.invoice()
        phone.goto(english(invoice["pay_url"]))
        pay_in_simulator(phone, "Card", "pending_then_success")
        # The simulator holds the charge pending for two seconds: the first result page
        # cannot be final yet, and it reloads itself.
        assert PROCESSING in phone.inner_text("main")
        assert phone.locator("meta[http-equiv=refresh]").count() == 1
        assert invoice_status(s, invoice["id"]) != "paid"
        wait_for_text(phone, PAID)
        assert invoice_status(s, invoice["id"]) == "paid"
        s.webhook("invoice.paid", invoice["id"])


def test_an_expired_link_says_so_and_a_tan_link_pays_after_its_tan(
    shop: Callable[[Clock | None], Any], phone: Any
) -> None:
    clock = SimulatedClock(datetime.now(UTC))
    with shop(clock) as s:
        invoice = s.invoice()
        expiring = s.pay_link(invoice["id"], expires_in_hours=1)
        with_tan = s.pay_link(invoice["id"], require_tan=True)

        phone.goto(english(expiring["url"]))
        assert "€47.11" in phone.inner_text("main")
        clock.advance(timedelta(hours=1))
        response = phone.goto(english(expiring["url"]))
        assert response.status == 410
        text = phone.inner_text("main")
        assert "This payment link has expired." in text
        assert "INV-1" not in text
        assert phone.locator("button[name=method]").count() == 0

        phone.goto(english(with_tan["url"]))
        text = phone.inner_text("main")
        assert "Enter your TAN" in text
        assert "INV-1" not in text
        assert phone.locator("form.tan input[name=csrf]").count() == 1
        wrong = "000000" if with_tan["tan"] != "000000" else "111111"
        phone.get_by_label("Enter the TAN you received").fill(wrong)
        with phone.expect_navigation(timeout=WAIT_MS):
            phone.get_by_role("button", name="Continue").click()
        assert "The TAN is not correct." in phone.inner_text("main")
        phone.get_by_label("Enter the TAN you received").fill(with_tan["tan"])
        with phone.expect_navigation(timeout=WAIT_MS):
            phone.get_by_role("button", name="Continue").click()
        assert "€47.11" in phone.inner_text("main")

        pay_in_simulator(phone, "Card", "success")
        wait_for_text(phone, PAID)
        assert invoice_status(s, invoice["id"]) == "paid"


def test_the_pay_page_runs_no_script_cannot_be_framed_and_works_by_keyboard(
    shop: Callable[[Clock | None], Any], phone: Any
) -> None:
    with shop(None) as s:
        invoice = s.invoice()
        response = phone.goto(english(invoice["pay_url"]))
        csp = {
            name: value.strip()
            for name, _, value in (
                part.strip().partition(" ")
                for part in response.headers["content-security-policy"].split(";")
            )
        }
        assert "unsafe-inline" not in csp.get("script-src", csp.get("default-src", ""))
        assert "unsafe-eval" not in csp.get("script-src", "")
        assert csp["frame-ancestors"] == "'none'"
        assert "form-action" in csp
        assert phone.locator("script").count() == 0
        handlers = phone.evaluate(
            "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
            ".filter(a => a.name.startsWith('on') || a.value.trim().startsWith('javascript:'))"
            ".map(a => a.name))"
        )
        assert handlers == []

        # Every pay button has an accessible name, and Tab reaches each of them.
        buttons = phone.locator("button[name=method]")
        names = [n.strip() for n in buttons.all_inner_texts()]
        assert names == ["Card", "PayPal"]
        for name in names:
            assert phone.get_by_role("button", name=name, exact=True).count() == 1
        focused = ""
        for _ in range(40):
            phone.keyboard.press("Tab")
            focused = phone.evaluate(FOCUSED)
            if focused == "Card":
                break
        assert focused == "Card", "Tab must reach the first pay button"
        phone.keyboard.press("Tab")
        assert phone.evaluate(FOCUSED) == "PayPal"
        phone.keyboard.press("Shift+Tab")
        assert phone.evaluate(FOCUSED) == "Card"

        # Pay by keyboard only: Enter on the focused button, then in the checkout.
        with phone.expect_navigation(timeout=WAIT_MS):
            phone.keyboard.press("Enter")
        assert "/simulator/checkout/" in phone.url
        for _ in range(40):
            phone.keyboard.press("Tab")
            if phone.evaluate("() => document.activeElement.value") == "success":
                break
        else:
            raise AssertionError("Tab never reached the simulator's success button")
        with phone.expect_navigation(timeout=WAIT_MS):
            phone.keyboard.press("Enter")
        wait_for_text(phone, PAID)
        assert invoice_status(s, invoice["id"]) == "paid"

"""The push subscription page in a real browser: its script runs under the page's CSP with no
violation, registers the service worker at the root scope and asks for permission.

The permission is granted with ``context.grant_permissions(["notifications"])``, but
``pushManager.subscribe`` cannot succeed in Playwright's Chromium ("Chrome currently does not
support the Push API in incognito mode", and there is no push service to reach): the first test
goes up to that call, the second runs the rest of the path (the POST of the subscription, what
it stores, the stop form) with a stand-in for ``PushManager.subscribe`` that returns a
subscription of the shape browsers give.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from py_vapid import Vapid02

from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db.tables import payer_channels
from paydue.bootstrap import Container, build
from tests.conftest import LiveServer, free_port, invoice_body, make_settings, new_issuer

pytestmark = pytest.mark.e2e

# Init scripts run before the page's own and are not subject to its CSP: they report
# violations to the console, where the test collects them.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")
FAKE_SUBSCRIBE = """
PushManager.prototype.subscribe = function (options) {
  window.__subscribedWith = options;
  const json = {endpoint: "https://push.example/e2e", expirationTime: null,
                keys: {p256dh: "P256DH", auth: "AUTH"}};
  return Promise.resolve({toJSON: () => json, unsubscribe: () => Promise.resolve(true)});
};
PushManager.prototype.getSubscription = function () { return Promise.resolve(null); };
""".replace("P256DH", P256DH).replace("AUTH", AUTH)


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[LiveServer, Container]]:
    vapid = Vapid02()
    vapid.generate_keys()
    port = free_port()
    settings = make_settings(
        db_url,
        base_url=f"http://127.0.0.1:{port}",
        vapid_private_key=vapid.private_pem().decode(),
        vapid_subject="mailto:ops@paydue.example",
    )
    clock = SimulatedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    container = build(settings, clock=clock)
    with LiveServer(container, port=port) as live:
        yield live, container
    container.close()


def _pay_url(live: LiveServer, container: Container) -> str:
    issuer = new_issuer(container)
    r = httpx.post(f"{live.url}/v1/invoices", json=invoice_body(), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["pay_url"])


def _open(browser: Any, live: LiveServer) -> tuple[Any, Any, list[str]]:
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=live.url)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.add_init_script(REPORT_VIOLATIONS)
    return context, page, console


def test_the_page_runs_its_script_with_no_csp_violation_up_to_the_push_service(
    server: tuple[LiveServer, Container], browser: Any
) -> None:
    live, container = server
    context, page, console = _open(browser, live)
    try:
        page.goto(f"{_pay_url(live, container)}?lang=en")
        page.click("text=Get reminders on this device")
        page.wait_for_url("**/notifications?lang=en")
        button = page.locator("#push-subscribe")
        button.wait_for(state="visible")  # the script ran: it shows the button
        assert page.evaluate("Notification.permission") == "granted"

        button.click()
        status = page.locator("#push-status")
        # no push service in headless Chromium: subscribe fails after the worker is active
        expect(status).to_have_text(re.compile("did not work|Done"), timeout=15_000)
        scope = page.evaluate(
            "navigator.serviceWorker.getRegistration('/').then(r => r && r.scope)"
        )
        assert scope == f"{live.url}/"
        assert status.inner_text() in (
            "That did not work. Please try again later.",  # today: no push service here
            "Done: reminders will come to this device.",
        )
        assert [m for m in console if "CSP" in m or "Content Security" in m] == []
        assert [m for m in console if m.startswith("pageerror")] == []
    finally:
        context.close()


def test_the_subscription_the_browser_gives_is_posted_and_stored(
    server: tuple[LiveServer, Container], browser: Any
) -> None:
    live, container = server
    context, page, console = _open(browser, live)
    page.add_init_script(FAKE_SUBSCRIBE)
    try:
        page.goto(f"{_pay_url(live, container)}/notifications?lang=en")
        page.click("#push-subscribe")
        expect(page.locator("#push-status")).to_have_text(
            "Done: reminders will come to this device.", timeout=15_000
        )
        options = page.evaluate(
            "({visible: window.__subscribedWith.userVisibleOnly,"
            " keyLength: window.__subscribedWith.applicationServerKey.length})"
        )
        assert options == {"visible": True, "keyLength": 65}
        with container.engine.connect() as conn:
            row = conn.execute(
                sa.select(payer_channels.c.address, payer_channels.c.consent).where(
                    payer_channels.c.channel == "push"
                )
            ).one()
        assert '"endpoint":"https://push.example/e2e"' in row.address
        assert row.consent is True

        page.reload()
        page.click("text=Stop reminders by notification")
        page.wait_for_url("**stopped=true")
        assert "Reminders by notification are stopped." in page.inner_text("main")
        assert [m for m in console if "CSP" in m or "Content Security" in m] == []
        assert [m for m in console if m.startswith("pageerror")] == []
    finally:
        context.close()

"""Reminders by Web Push, subscribed on the pay page: the notifications page and its script
policy, storing the subscription as the payer's push address with consent (the engine then
chooses push), refusals of bad subscriptions and forged requests, TAN links, and opting out."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from py_vapid import Vapid02

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.channels.push import application_server_key
from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db.tables import payer_channels, payers
from paydue.bootstrap import Container, build
from paydue.services.collections import sweep
from paydue.web.app import create_app
from paydue.worker.runner import Worker
from tests.conftest import IssuerHandle, invoice_body, make_settings, new_issuer
from tests.payflow import csrf_form, token_of

VAPID = Vapid02()
VAPID.generate_keys()
VAPID_PEM = VAPID.private_pem().decode()
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")
ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc123"
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def subscription(**changes: Any) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "expirationTime": None,
        "keys": {"p256dh": P256DH, "auth": AUTH},
    }
    sub.update(changes)
    return sub


@dataclass
class RecordingChannel:
    name: str
    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(True, provider_id=f"{self.name}-{len(self.sent)}")


@dataclass
class Site:
    container: Container
    clock: SimulatedClock
    client: TestClient
    issuer: IssuerHandle
    channels: dict[str, RecordingChannel]

    def invoice(self, number: str, payer: dict[str, Any]) -> dict[str, Any]:
        body = invoice_body(number, due_date="2026-12-01", issue_date="2026-11-01")
        body["payer"] = payer
        r = self.client.post("/v1/invoices", json=body, headers=self.issuer.headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def subscribe(self, token: str, body: Any, csrf: str | None = "form") -> Any:
        headers = {"Content-Type": "application/json"}
        if csrf == "form":
            headers["X-CSRF-Token"] = csrf_form(self.client)
        elif csrf is not None:
            csrf_form(self.client)
            headers["X-CSRF-Token"] = csrf
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(f"/p/{token}/push-subscription", content=content, headers=headers)

    def push_rows(self) -> dict[str, Any]:
        """The stored push channel per payer ref."""
        c, p = payer_channels.c, payers.c
        query = (
            sa.select(p.ref, c.address, c.consent, c.opted_out)
            .join(payers, sa.and_(p.issuer_id == c.issuer_id, p.id == c.payer_id))
            .where(c.channel == "push")
        )
        with self.container.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {r.ref: r for r in rows}

    def events(self) -> list[dict[str, Any]]:
        r = self.client.get("/v1/events?limit=100", headers=self.issuer.headers)
        assert r.status_code == 200, r.text
        return [e for e in r.json()["data"] if e["type"].startswith("payer.")]

    def run(self, day: int, hour: int = 9) -> None:
        self.clock.set(datetime(2026, 12, day, hour, 0, tzinfo=UTC))
        c = self.container
        sweep(c.uow, self.clock.now(), c.channels, links=c.links, secret=c.settings.secret_bytes)
        worker = Worker(c)
        while worker.run_once():
            pass


def payer(ref: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ref": ref,
        "name": f"Payer {ref}",
        "phone": "+4915100000009",
        "language": "en",
        "timezone": "Europe/Berlin",
    }
    base.update(fields)
    return base


def _site(db_url: str, **settings: Any) -> Iterator[Site]:
    clock = SimulatedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    container = build(make_settings(db_url, **settings), clock=clock)
    channels = {name: RecordingChannel(name) for name in ("email", "push", "sms")}
    container.channels = channels  # type: ignore[misc]
    issuer = new_issuer(container)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield Site(container, clock, client, issuer, channels)
    container.close()


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    yield from _site(db_url, vapid_private_key=VAPID_PEM, vapid_subject="mailto:ops@paydue.example")


@pytest.fixture
def site_without_push(db_url: str) -> Iterator[Site]:
    yield from _site(db_url)


def test_the_page_runs_only_our_own_script_with_the_vapid_key(site: Site) -> None:
    token = token_of(site.invoice("P-1", payer("P"))["pay_url"])

    pay_page = site.client.get(f"/p/{token}?lang=en")
    assert "script-src 'none'" in pay_page.headers["content-security-policy"]
    assert f'href="/p/{token}/notifications?lang=en"' in pay_page.text
    assert "Get reminders on this device" in pay_page.text
    assert "<script" not in pay_page.text

    r = site.client.get(f"/p/{token}/notifications?lang=en")
    assert r.status_code == 200, r.text
    csp = r.headers["content-security-policy"]
    for rule in (
        "default-src 'none'",
        "script-src 'self'",
        "worker-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ):
        assert rule in csp, rule
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    scripts = SCRIPT.findall(r.text)
    assert scripts == [(' src="/assets/push.js" defer', "")]  # no inline script at all
    assert f'data-key="{application_server_key(VAPID_PEM)}"' in r.text
    assert f'data-action="/p/{token}/push-subscription"' in r.text
    assert "Get reminders on this device" in r.text

    german = site.client.get(f"/p/{token}/notifications?lang=de")
    assert "Erinnerungen auf diesem Gerät erhalten" in german.text

    js = site.client.get("/assets/push.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "pushManager.subscribe" in js.text
    sw = site.client.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/"
    assert "showNotification" in sw.text
    assert "openWindow" in sw.text


def test_without_vapid_settings_the_page_says_push_is_not_available(
    site_without_push: Site,
) -> None:
    site = site_without_push
    token = token_of(site.invoice("N-1", payer("N"))["pay_url"])
    r = site.client.get(f"/p/{token}/notifications?lang=en")
    assert r.status_code == 200
    assert "not available" in r.text
    assert "<script" not in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]

    refused = site.subscribe(token, subscription())
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "push_unavailable"
    assert site.push_rows() == {}


def test_subscribing_stores_push_with_consent_and_the_next_reminder_goes_by_push(
    site: Site,
) -> None:
    invoice = site.invoice("S-1", payer("S"))
    token = token_of(invoice["pay_url"])

    page = site.client.get(f"/p/{token}/notifications?lang=en")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf is not None
    r = site.client.post(
        f"/p/{token}/push-subscription",
        json=subscription(),
        headers={"X-CSRF-Token": csrf[1]},
    )
    assert r.status_code == 204, r.text

    row = site.push_rows()["S"]
    assert (row.consent, row.opted_out) == (True, False)
    assert json.loads(row.address) == {
        "endpoint": ENDPOINT,
        "keys": {"p256dh": P256DH, "auth": AUTH},
    }
    [event] = site.events()
    assert event["type"] == "payer.push_subscribed"
    assert event["data"] == {"payer_ref": "S", "channel": "push", "invoice_id": invoice["id"]}
    again = site.client.get(f"/p/{token}/notifications?lang=en")
    assert "Reminders are sent as notifications to a device of yours." in again.text
    assert f'action="/p/{token}/push-subscription/stop"' in again.text

    # no e-mail address: the cheapest reachable channel is push now, not sms
    site.run(day=1)
    [sent] = site.channels["push"].sent
    assert json.loads(sent.to)["endpoint"] == ENDPOINT
    assert sent.pay_url
    assert site.channels["sms"].sent == []
    messages = site.client.get(
        f"/v1/messages?invoice_id={invoice['id']}", headers=site.issuer.headers
    ).json()["data"]
    assert [(m["channel"], m["status"]) for m in messages] == [("push", "sent")]

    # the stop form opts out; the next step goes by sms
    stop = site.client.post(
        f"/p/{token}/push-subscription/stop",
        data={"csrf": csrf_form(site.client), "lang": "en"},
        follow_redirects=False,
    )
    assert stop.status_code == 303
    assert stop.headers["location"] == f"/p/{token}/notifications?lang=en&stopped=true"
    row = site.push_rows()["S"]
    assert (row.address, row.opted_out) == (None, True)
    assert [e["type"] for e in site.events()] == [
        "payer.push_subscribed",
        "payer.push_unsubscribed",
    ]
    stopped = site.client.get(stop.headers["location"])
    assert "Reminders by notification are stopped." in stopped.text
    site.run(day=4)
    assert len(site.channels["push"].sent) == 1
    assert len(site.channels["sms"].sent) == 1


def test_delete_opts_out_and_a_new_subscription_opts_in_again(site: Site) -> None:
    token = token_of(site.invoice("D-1", payer("D"))["pay_url"])
    assert site.subscribe(token, subscription()).status_code == 204
    r = site.client.delete(
        f"/p/{token}/push-subscription", headers={"X-CSRF-Token": csrf_form(site.client)}
    )
    assert r.status_code == 204, r.text
    assert site.push_rows()["D"].opted_out is True
    assert site.client.delete(f"/p/{token}/push-subscription").status_code == 403

    other = subscription(endpoint="https://updates.push.services.mozilla.com/wpush/v2/xyz")
    assert site.subscribe(token, other).status_code == 204
    row = site.push_rows()["D"]
    assert (row.opted_out, row.consent) == (False, True)
    assert json.loads(row.address)["endpoint"].startswith("https://updates.push")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{not json", "body"),
        (b"[]", "subscription"),
        (subscription(endpoint="http://push.example/abc"), "endpoint"),
        (subscription(endpoint="https://user:pw@push.example/abc"), "endpoint"),
        (subscription(endpoint=None), "endpoint"),
        (subscription(keys=None), "keys"),
        (subscription(keys={"p256dh": P256DH}), "keys.auth"),
        (subscription(keys={"p256dh": "not+base64/url", "auth": AUTH}), "keys.p256dh"),
        (subscription(keys={"p256dh": AUTH, "auth": AUTH}), "keys.p256dh"),
        (subscription(keys={"p256dh": P256DH, "auth": P256DH}), "keys.auth"),
    ],
)
def test_a_bad_subscription_is_refused_naming_what_is_wrong_and_nothing_is_stored(
    site: Site, body: Any, where: str
) -> None:
    token = token_of(site.invoice("B-1", payer("B"))["pay_url"])
    r = site.subscribe(token, body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"]["where"] == where
    assert error["message"].startswith(where) or where in ("body", "subscription")
    assert site.push_rows() == {}
    assert site.events() == []


def test_a_request_without_the_csrf_field_is_forbidden(site: Site) -> None:
    token = token_of(site.invoice("C-1", payer("C"))["pay_url"])
    missing = site.subscribe(token, subscription(), csrf=None)
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    forged = site.subscribe(token, subscription(), csrf="0" * 64)
    assert forged.status_code == 403
    stop = site.client.post(f"/p/{token}/push-subscription/stop", data={"lang": "en"})
    assert stop.status_code == 403
    assert site.push_rows() == {}


def test_another_invoices_token_cannot_change_this_payer(site: Site) -> None:
    mine = token_of(site.invoice("M-1", payer("MINE"))["pay_url"])
    theirs = token_of(site.invoice("T-1", payer("THEIRS"))["pay_url"])
    assert site.subscribe(mine, subscription()).status_code == 204

    other = subscription(endpoint="https://push.example/theirs")
    assert site.subscribe(theirs, other).status_code == 204
    r = site.client.delete(
        f"/p/{theirs}/push-subscription", headers={"X-CSRF-Token": csrf_form(site.client)}
    )
    assert r.status_code == 204

    rows = site.push_rows()
    assert json.loads(rows["MINE"].address)["endpoint"] == ENDPOINT
    assert rows["MINE"].opted_out is False
    assert rows["THEIRS"].opted_out is True
    assert site.subscribe("no-such-token", subscription()).status_code == 404


def test_a_tan_link_needs_its_tan_pass_and_a_revoked_link_is_refused(site: Site) -> None:
    invoice = site.invoice("K-1", payer("K"))
    r = site.client.post(
        f"/v1/invoices/{invoice['id']}/pay-links",
        json={"require_tan": True},
        headers=site.issuer.headers,
    )
    assert r.status_code == 201, r.text
    link = r.json()
    token = token_of(link["url"])

    assert site.client.get(f"/p/{token}/notifications?lang=en").status_code == 404
    assert site.subscribe(token, subscription()).status_code == 404
    assert site.push_rows() == {}

    tan = site.client.post(
        f"/p/{token}/tan?lang=en", data={"tan": link["tan"], "csrf": csrf_form(site.client)}
    )
    assert tan.status_code == 200, tan.text
    assert site.client.get(f"/p/{token}/notifications?lang=en").status_code == 200
    assert site.subscribe(token, subscription()).status_code == 204
    assert site.push_rows()["K"].consent is True

    revoked = site.client.post(f"/v1/pay-links/{link['id']}/revoke", headers=site.issuer.headers)
    assert revoked.status_code == 200, revoked.text
    page = site.client.get(f"/p/{token}/notifications?lang=en")
    assert page.status_code == 410
    assert "withdrawn" in page.text
    assert site.subscribe(token, subscription()).status_code == 410

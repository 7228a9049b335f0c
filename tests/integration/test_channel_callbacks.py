"""Channel callbacks through the app: Twilio statuses and "press 1", the SMS gateway's reports and
e-mail bounces (DSN) from a mail relay. Signed correctly they change the message (and the next
sweep's channel); unsigned or forged they are refused and change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response

from paydue.adapters.channels import twilio
from paydue.adapters.channels.email import message_id_header
from paydue.adapters.channels.sms import gateway_signature
from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db.tables import messages, payer_channels
from paydue.bootstrap import build
from paydue.web.app import create_app
from paydue.worker.runner import Worker
from tests.conftest import SIMULATION_START, make_settings, new_issuer
from tests.integration.test_collections import Engine, RecordingChannel, payer

TOKEN = "twilio-auth-token-for-tests"
GATEWAY_SECRET = "gateway-callback-secret"
BOUNCE_TOKEN = "relay-bounce-token"
PHONE = "+4915100000042"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    clock = SimulatedClock(SIMULATION_START)
    settings = make_settings(
        db_url,
        twilio_auth_token=TOKEN,
        sms_gateway_callback_secret=GATEWAY_SECRET,
        email_bounce_token=BOUNCE_TOKEN,
    )
    container = build(settings, clock=clock)
    channels = {name: RecordingChannel(name) for name in ("email", "sms", "voice")}
    container.channels = channels  # type: ignore[misc]
    issuer = new_issuer(container)
    with TestClient(create_app(container), raise_server_exceptions=False) as api:
        yield Engine(container, clock, api, issuer, channels)
    container.close()


def documented_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm as documented: the URL, then each parameter's name and value sorted
    by name, HMAC-SHA1 with the auth token, base64."""
    content = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(
        hmac.new(token.encode(), content.encode(), hashlib.sha1).digest()
    ).decode()


def twilio_post(
    engine: Engine, path: str, params: dict[str, str], *, signature: str | None = "right"
) -> Response:
    url = f"http://testserver{path}"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature == "right":
        headers["x-twilio-signature"] = twilio.signature(TOKEN, url, params)
        assert headers["x-twilio-signature"] == documented_signature(TOKEN, url, params)
    elif signature is not None:
        headers["x-twilio-signature"] = signature
    return engine.api.post(path, content=urlencode(params), headers=headers)


def statuses(engine: Engine) -> dict[str, str]:
    with engine.container.engine.connect() as conn:
        return {row.id: row.status for row in conn.execute(sa.select(messages))}


def event_types(engine: Engine) -> list[str]:
    r = engine.api.get("/v1/events?limit=100", headers=engine.issuer.headers)
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["data"] if e["type"].startswith("message.")]


def only_message(engine: Engine, invoice_id: str) -> dict[str, Any]:
    [message] = engine.messages(invoice_id)
    return message


def test_a_twilio_sms_status_is_verified_then_recorded(engine: Engine) -> None:
    invoice_id = engine.invoice("S-1", "2026-12-01", payer("S", email=None, phone=PHONE))
    engine.at(date(2026, 12, 1))
    engine.run()
    sms = only_message(engine, invoice_id)
    assert (sms["channel"], sms["status"]) == ("sms", "sent")
    path = f"{twilio.STATUS_CALLBACK_PATH}?message={sms['id']}"
    delivered = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": PHONE}
    before = statuses(engine)

    assert twilio_post(engine, path, delivered, signature=None).status_code == 401
    assert twilio_post(engine, path, delivered, signature="Zm9yZ2Vk").status_code == 403
    forged = twilio.signature("another-token", f"http://testserver{path}", delivered)
    assert twilio_post(engine, path, delivered, signature=forged).status_code == 403
    other_message = f"{twilio.STATUS_CALLBACK_PATH}?message=msg_someoneelse"
    signed_elsewhere = twilio.signature(TOKEN, f"http://testserver{other_message}", delivered)
    assert twilio_post(engine, path, delivered, signature=signed_elsewhere).status_code == 403
    assert statuses(engine) == before

    unknown = twilio_post(engine, other_message, delivered)
    assert unknown.status_code == 200
    assert unknown.json() == {"received": True, "recorded": False}
    sending = twilio_post(engine, path, {**delivered, "MessageStatus": "sent"})
    assert sending.json()["recorded"] is False
    assert statuses(engine) == before

    r = twilio_post(engine, path, delivered)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "recorded": True}
    assert only_message(engine, invoice_id)["status"] == "delivered"
    assert event_types(engine) == ["message.queued", "message.sent", "message.delivered"]


def test_an_undelivered_call_is_a_failure_and_the_next_sweep_tries_another_channel(
    engine: Engine,
) -> None:
    policy = {
        "name": "calls",
        "default": True,
        "steps": [{"offset_days": 0, "template": "due_today", "channels": ["voice", "sms"]}],
    }
    assert engine.api.post("/v1/policies", json=policy, headers=engine.issuer.headers).is_success
    invoice_id = engine.invoice("V-1", "2026-12-01", payer("V", phone=PHONE))
    engine.at(date(2026, 12, 1))
    engine.run()
    call = only_message(engine, invoice_id)
    assert call["channel"] == "voice"

    path = f"{twilio.STATUS_CALLBACK_PATH}?message={call['id']}"
    r = twilio_post(engine, path, {"CallSid": "CA1", "CallStatus": "no-answer"})
    assert r.json()["recorded"] is True
    engine.at(date(2026, 12, 1), hour=11)
    engine.run()

    first, second = engine.messages(invoice_id)
    assert first["status"] == "failed"
    assert (second["channel"], second["attempt"]) == ("sms", 2)
    assert "voice failed" in second["explanation"]


def test_press_1_in_a_call_queues_the_pay_link_by_sms_within_the_contact_rules(
    engine: Engine,
) -> None:
    invoice_id = engine.invoice("P-1", "2026-12-20", payer("P", phone=PHONE, language="de"))
    engine.at(date(2026, 12, 2), hour=9)
    h = engine.issuer.headers
    r = engine.api.post(
        f"/v1/invoices/{invoice_id}/send-link", json={"channel": "voice"}, headers=h
    )
    assert r.status_code == 201, r.text
    call_id = r.json()["id"]
    Worker(engine.container).run_once()
    path = f"{twilio.GATHER_PATH}?message={call_id}"

    forged = twilio_post(engine, path, {"CallSid": "CA1", "Digits": "1"}, signature="Zm9yZ2Vk")
    assert forged.status_code == 403
    declined = twilio_post(engine, path, {"CallSid": "CA1", "Digits": "2"})
    assert declined.status_code == 200
    assert "Auf Wiederhören" in declined.text
    assert "Vielen Dank" not in declined.text
    assert len(engine.messages(invoice_id)) == 1

    pressed = twilio_post(engine, path, {"CallSid": "CA1", "Digits": "1"})
    assert pressed.status_code == 200, pressed.text
    assert pressed.headers["content-type"].startswith("application/xml")
    assert "Vielen Dank" in pressed.text
    Worker(engine.container).run_once()
    [sms] = engine.channels["sms"].sent
    assert sms.to == PHONE
    assert sms.pay_url is not None
    assert sms.pay_url in sms.text
    assert sms.language == "de"
    assert [(m["kind"], m["channel"]) for m in engine.messages(invoice_id)] == [
        ("link", "voice"),
        ("link", "sms"),
    ]

    # the payer opted out of SMS: pressing 1 again sends nothing
    engine.api.put(
        "/v1/payers/P/channels", json={"channels": {"sms": {"opted_out": True}}}, headers=h
    )
    again = twilio_post(engine, path, {"CallSid": "CA1", "Digits": "1"})
    assert again.status_code == 200
    assert "Vielen Dank" not in again.text
    assert len(engine.messages(invoice_id)) == 2


def gateway_post(engine: Engine, report: object, signature: str | None) -> Response:
    body = json.dumps(report).encode()
    headers = {"content-type": "application/json"}
    if signature == "right":
        headers["x-signature"] = "sha256=" + gateway_signature(GATEWAY_SECRET, body)
    elif signature is not None:
        headers["x-signature"] = signature
    return engine.api.post("/inbound/channels/gateway/status", content=body, headers=headers)


def test_a_gateway_report_is_verified_by_its_hmac(engine: Engine) -> None:
    invoice_id = engine.invoice("G-1", "2026-12-01", payer("G", email=None, phone=PHONE))
    engine.at(date(2026, 12, 1))
    engine.run()
    sms = only_message(engine, invoice_id)
    report = {"reference": sms["id"], "status": "undelivered"}
    before = statuses(engine)

    assert gateway_post(engine, report, None).status_code == 401
    assert gateway_post(engine, report, "sha256=" + "0" * 64).status_code == 403
    body = json.dumps({**report, "status": "delivered"}).encode()
    other = gateway_signature(GATEWAY_SECRET, body)  # signs another body
    assert gateway_post(engine, report, other).status_code == 403
    assert statuses(engine) == before
    unknown = gateway_post(engine, {"reference": "msg_nothere", "status": "failed"}, "right")
    assert unknown.json()["recorded"] is False
    bad = gateway_post(engine, {"status": "failed"}, "right")
    assert bad.status_code == 400
    assert statuses(engine) == before

    assert gateway_post(engine, report, "right").json()["recorded"] is True
    assert only_message(engine, invoice_id)["status"] == "failed"
    assert event_types(engine)[-1] == "message.failed"


def dsn(message_id: str, *, headers: bool = True) -> bytes:
    """A Postfix-style hard bounce quoting the headers of the message paydue sent."""
    top = (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        "To: noreply@localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"\r\n'
        "\r\n"
    )
    body = (
        "--B0UND\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B0UND\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; f@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B0UND\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id_header(message_id, 'localhost')}\r\nSubject: Reminder\r\n\r\n"
        "--B0UND--\r\n"
    )
    return ((top if headers else "") + body).encode()


def bounce_post(engine: Engine, raw: bytes, token: str | None, kind: str) -> Response:
    headers = {"content-type": kind}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return engine.api.post("/inbound/channels/email/bounce", content=raw, headers=headers)


def test_a_bounce_from_the_relay_makes_the_next_sweep_fall_back_to_sms(engine: Engine) -> None:
    invoice_id = engine.invoice("F-1", "2026-12-01", payer("F", phone=PHONE))
    engine.at(date(2026, 12, 1))
    engine.run()
    email = only_message(engine, invoice_id)
    assert (email["channel"], email["status"]) == ("email", "sent")
    raw = dsn(email["id"])
    before = statuses(engine)

    assert bounce_post(engine, raw, None, "message/rfc822").status_code == 401
    assert bounce_post(engine, raw, "guessed", "message/rfc822").status_code == 403
    garbage = bounce_post(engine, b"hello", BOUNCE_TOKEN, "message/rfc822")
    assert garbage.status_code == 422
    assert "multipart/report" in garbage.json()["error"]["message"]
    unknown = bounce_post(
        engine,
        dsn("msg_notours", headers=False),
        BOUNCE_TOKEN,
        ('multipart/report; report-type=delivery-status; boundary="B0UND"'),
    )
    assert unknown.json() == {"received": True, "recorded": False}
    assert statuses(engine) == before

    r = bounce_post(engine, raw, BOUNCE_TOKEN, "message/rfc822")
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] is True
    assert only_message(engine, invoice_id)["status"] == "bounced"
    assert event_types(engine)[-1] == "message.bounced"

    engine.at(date(2026, 12, 1), hour=11)
    engine.run()
    _, second = engine.messages(invoice_id)
    assert (second["channel"], second["step_offset"], second["attempt"]) == ("sms", 0, 2)
    assert second["explanation"] == "email bounced on 2026-12-01 → sms"
    with engine.container.engine.connect() as conn:
        bounced = conn.execute(
            sa.select(payer_channels.c.hard_bounced_on).where(payer_channels.c.channel == "email")
        ).scalar_one()
    assert bounced == date(2026, 12, 1)

"""What channel callbacks say, read by the adapters: Twilio's signature against Twilio's own
published vectors, Twilio and gateway statuses, and a DSN's outcome."""

from __future__ import annotations

import pytest

from paydue.adapters.channels.sms import gateway_report
from paydue.adapters.channels.twilio import delivery_outcome, signature, verify_signature
from paydue.adapters.formats.dsn import parse_dsn
from tests.unit.formats.test_dsn import POSTFIX_HARD_BOUNCE

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_the_signature_is_twilios_on_its_published_vectors() -> None:
    assert signature("12345", URL, PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_signature("12345", URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    repeated = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signature("12345", URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("changed", "value"),
    [("token", "54321"), ("url", URL + "&x=1"), ("Digits", "9999"), ("header", "")],
)
def test_any_change_breaks_the_signature(changed: str, value: str) -> None:
    token, url, params = "12345", URL, dict(PARAMS)
    header = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    if changed == "token":
        token = value
    elif changed == "url":
        url = value
    elif changed == "header":
        header = value
    else:
        params[changed] = value
    assert not verify_signature(token, url, params, header)


@pytest.mark.parametrize(
    ("params", "outcome"),
    [
        ({"MessageStatus": "delivered"}, "delivered"),
        ({"MessageStatus": "undelivered", "ErrorCode": "30003"}, "failed"),
        ({"MessageStatus": "failed", "ErrorCode": "30006"}, "bounced"),
        ({"MessageStatus": "sent"}, None),
        ({"CallStatus": "completed"}, "delivered"),
        ({"CallStatus": "no-answer"}, "failed"),
        ({"CallStatus": "ringing"}, None),
        ({}, None),
    ],
)
def test_twilio_statuses_in_paydues_words(params: dict[str, str], outcome: str | None) -> None:
    assert delivery_outcome(params) == outcome


def test_a_gateway_report_names_its_message_and_a_final_status() -> None:
    assert gateway_report({"reference": "msg_1", "status": "DELIVERED"}) == ("msg_1", "delivered")
    assert gateway_report({"message_id": "msg_1", "status": "accepted"}) == ("msg_1", None)
    with pytest.raises(ValueError, match="reference"):
        gateway_report({"status": "failed"})
    with pytest.raises(ValueError, match="JSON object"):
        gateway_report(["msg_1"])


def test_a_permanent_dsn_is_a_bounce() -> None:
    assert parse_dsn(POSTFIX_HARD_BOUNCE).outcome == "bounced"
    delayed = POSTFIX_HARD_BOUNCE.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1"
    )
    assert parse_dsn(delayed).outcome is None

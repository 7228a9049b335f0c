"""Webhook signatures, checked with the independent ``standardwebhooks`` implementation."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paydue.domain.webhooks import headers, sign
from paydue.services.ids import new_webhook_secret

Tamper = Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]
BODY = b'{"id":"evt_1","object":"event","type":"invoice.paid","data":{"amount":12345}}'


@pytest.fixture
def secret() -> str:
    return new_webhook_secret()


def test_a_signed_message_verifies(secret: str) -> None:
    sent = headers(secret, "evt_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, sent)["type"] == "invoice.paid"
    assert sent["content-type"] == "application/json"


def test_the_signature_is_the_one_the_reference_implementation_makes(secret: str) -> None:
    stamp = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    expected = Webhook(secret).sign("evt_1", stamp, BODY.decode())
    assert sign(secret, "evt_1", int(stamp.timestamp()), BODY) == expected


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b, h: (b.replace(b"12345", b"12346"), h), id="body"),
        pytest.param(
            lambda b, h: (b, {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}),
            id="timestamp",
        ),
        pytest.param(lambda b, h: (b, {**h, "webhook-id": "evt_2"}), id="id"),
    ],
)
def test_a_tampered_message_fails(secret: str, tamper: Tamper) -> None:
    body, sent = tamper(BODY, headers(secret, "evt_1", int(time.time()), BODY))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, sent)


def test_another_secret_fails(secret: str) -> None:
    sent = headers(secret, "evt_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, sent)


def test_an_old_timestamp_fails(secret: str) -> None:
    sent = headers(secret, "evt_1", int(time.time()) - 3600, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, sent)

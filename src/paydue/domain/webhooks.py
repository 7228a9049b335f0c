"""Outbound webhook rules: the retry schedule and the Standard Webhooks signature.

Signature scheme (https://www.standardwebhooks.com): the signed content is
``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 with the endpoint secret (the base64 part
of ``whsec_…``), sent as ``webhook-signature: v1,<base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret

# Delay before attempt n+1 after attempt n failed. The total spans more than 72 hours, so an
# issuer's billing system can be down over a long weekend without losing an event.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1


def retry_delay(attempts_made: int) -> timedelta | None:
    """Delay before the next attempt after ``attempts_made`` failed ones; None: give up."""
    if attempts_made < 1:
        raise ValueError("attempts_made starts at 1")
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts_made - 1]


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secrets start with 'whsec_'")
    return base64.b64decode(secret[len(SECRET_PREFIX) :])


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }

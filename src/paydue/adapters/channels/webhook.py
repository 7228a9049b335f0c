"""Any other channel through the issuer's own endpoint: a signed POST per message.

``message.to`` is the endpoint URL. The body is JSON ``{"type": "message.send", "data": {…}}``
with the rendered message; the headers are Standard Webhooks' (``webhook-id`` is the message
id, so a repeat carries the same id; ``webhook-timestamp``; ``webhook-signature`` by
``domain.webhooks.sign``), exactly as event webhooks are signed. The POST goes through the
shared ``adapters.http.HttpClient``: SSRF guard, no redirects, timeouts.

The signing secret is the issuer's: ``secret_for(issuer_id)`` gives it (``whsec_…``). The
default derives one per issuer from the server secret, so it is stable without storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import orjson

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.clock import Clock, SystemClock
from paydue.adapters.http import HttpClient
from paydue.domain import webhooks as wh

EVENT_TYPE = "message.send"


def derived_secret(server_secret: bytes) -> Callable[[str], str]:
    """Per-issuer channel webhook secrets derived from the server secret."""

    def secret_for(issuer_id: str) -> str:
        key = hmac.new(server_secret, f"channel-webhook:{issuer_id}".encode(), hashlib.sha256)
        return wh.SECRET_PREFIX + base64.b64encode(key.digest()).decode()

    return secret_for


def body_of(message: OutboundMessage) -> bytes:
    return orjson.dumps(
        {
            "type": EVENT_TYPE,
            "data": {
                "id": message.id,
                "issuer_id": message.issuer_id,
                "channel": message.channel,
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "language": message.language,
                "pay_url": message.pay_url,
                "headers": dict(message.headers),
                "attachments": [
                    {"filename": a.filename, "media_type": a.media_type, "size": len(a.content)}
                    for a in message.attachments
                ],
            },
        }
    )


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        http: HttpClient,
        secret_for: Callable[[str], str],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.http = http
        self.secret_for = secret_for
        self.clock = clock or SystemClock()

    def send(self, message: OutboundMessage) -> SendResult:
        body = body_of(message)
        timestamp = int(self.clock.now().timestamp())
        try:
            headers = wh.headers(self.secret_for(message.issuer_id), message.id, timestamp, body)
        except ValueError as exc:
            return SendResult(accepted=False, error=f"webhook secret: {exc}", retryable=True)
        outcome = self.http.post(message.to, body, headers)
        if outcome.ok:
            return SendResult(accepted=True, provider_id=message.id)
        if outcome.status_code is None or outcome.error is not None:
            error = outcome.error or "no answer"
            if outcome.status_code is not None:
                error = f"HTTP {outcome.status_code}: {error}"
            # an unsafe URL and a redirect will not change by themselves; anything else might
            permanent = error.startswith("refused:") or "redirect not followed" in error
            return SendResult(accepted=False, error=error[:500], retryable=not permanent)
        status = outcome.status_code
        detail = f"HTTP {status}" + (f": {outcome.excerpt.strip()}" if outcome.excerpt else "")
        retryable = status in (408, 425, 429) or status >= 500
        return SendResult(accepted=False, error=detail[:500], retryable=retryable)

"""Web Push with VAPID (pywebpush) to subscriptions made on the pay page.

``message.to`` is the browser's subscription as JSON (``{"endpoint": …, "keys": {"p256dh": …,
"auth": …}}``). The payload, encrypted for the subscription (aes128gcm), is JSON:
``{"id", "title", "body", "url"}``; the pay page's service worker shows it as a notification
that opens ``url``. The endpoint is a URL the payer's browser chose, so it passes the same
address check as webhook URLs (``adapters.http.check_url``) before anything is sent to it.

Answers: 201 accepted (the push service's ``Location`` names the message); 404 and 410 mean
the subscription is gone for good (not retryable: the payer must subscribe again); 429 and
5xx are retryable; other 4xx are refusals of this message.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

from paydue.adapters.channels import _http
from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.http import UnsafeURL, check_url

GONE = frozenset({404, 410})


def load_vapid_key(private_key: str) -> Vapid02:
    """A VAPID key from PEM text or the base64url raw/DER form ``vapid --gen`` prints."""
    text = private_key.strip()
    if text.startswith("-----BEGIN"):
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_string(private_key=text)


def application_server_key(private_key: str) -> str:
    """The VAPID public key a browser subscribes with (``applicationServerKey``): the
    uncompressed P-256 point, base64url without padding."""
    public = load_vapid_key(private_key).public_key
    assert public is not None
    raw = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return str(b64urlencode(raw))


def _subscription(to: str) -> dict[str, Any]:
    try:
        subscription = json.loads(to)
    except ValueError as exc:
        raise ValueError(f"the push subscription is not JSON: {exc}") from exc
    if not isinstance(subscription, dict) or not isinstance(subscription.get("endpoint"), str):
        raise ValueError("the push subscription has no endpoint")
    keys = subscription.get("keys")
    if not isinstance(keys, dict) or not keys.get("p256dh") or not keys.get("auth"):
        raise ValueError("the push subscription has no p256dh and auth keys")
    return subscription


class WebPush:
    name = "push"

    def __init__(
        self,
        vapid_private_key: str,
        vapid_subject: str,
        *,
        ttl_seconds: int = 24 * 3600,
        timeout: float = 10.0,
        allow_private: bool = False,
    ) -> None:
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject is a mailto: or https: URL")
        self.vapid = load_vapid_key(vapid_private_key)
        self.subject = vapid_subject
        self.ttl = ttl_seconds
        self.timeout = timeout
        self.allow_private = allow_private
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.max_redirects = 0  # a redirect could lead past the address check

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            subscription = _subscription(message.to)
            check_url(subscription["endpoint"], allow_private=self.allow_private)
        except (ValueError, UnsafeURL) as exc:
            return SendResult(accepted=False, error=str(exc))
        payload = json.dumps(
            {
                "id": message.id,
                "title": message.subject or "",
                "body": message.text,
                "url": message.pay_url,
            }
        )
        try:
            response = webpush(
                subscription,
                payload,
                vapid_private_key=self.vapid,
                vapid_claims={"sub": self.subject},
                ttl=self.ttl,
                timeout=self.timeout,
                requests_session=self._session,
            )
        except WebPushException as exc:
            if exc.response is None:
                return SendResult(accepted=False, error=f"web push: {exc}"[:500], retryable=True)
            return _refused(exc.response)
        except requests.TooManyRedirects:
            return SendResult(accepted=False, error="web push: redirect not followed")
        except requests.RequestException as exc:
            return SendResult(
                accepted=False, error=f"web push: {type(exc).__name__}: {exc}"[:500], retryable=True
            )
        assert isinstance(response, requests.Response)
        return SendResult(accepted=True, provider_id=response.headers.get("location") or message.id)

    def close(self) -> None:
        self._session.close()


def _refused(response: requests.Response) -> SendResult:
    status = response.status_code
    if status in GONE:
        return SendResult(
            accepted=False,
            error=f"HTTP {status}: the push subscription is gone",
            retryable=False,
        )
    return _http.refusal(status, response.text.strip())

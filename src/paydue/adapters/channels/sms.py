"""SMS through an HTTP API: Twilio's Messages API, or a generic JSON gateway.

**Twilio** (:class:`TwilioSms`): ``POST …/Accounts/{sid}/Messages.json`` with ``To``,
``From`` or ``MessagingServiceSid``, ``Body`` and ``StatusCallback`` (the message id is added to
the callback URL as ``?message=…``, so a delivery status names it even before the SID is
stored). The answer's ``sid`` is the provider id. Status callbacks are verified with
:func:`paydue.adapters.channels.twilio.verify_signature`.

**Generic gateway** (:class:`GatewaySms`): ``POST`` of a JSON body made from a template in which
the string placeholders ``{to}``, ``{text}``, ``{id}`` and ``{pay_url}`` are replaced (inside
JSON strings, so the values are always escaped correctly), with ``Authorization: Bearer``. The
provider id is read from the answer's ``id_field`` (default ``id``), else the message id.
Delivery callbacks of such a gateway are verified with :func:`verify_gateway_signature`: a
hex HMAC-SHA256 of the raw body in a header (``X-Signature``, optionally ``sha256=``-prefixed).
The callback is a JSON object naming the message (``reference``, the ``{id}`` sent) and its
``status``, read by :func:`gateway_report`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from paydue.adapters.channels import _http
from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.channels.twilio import DEFAULT_BASE_URL, TwilioApi

DEFAULT_GATEWAY_TEMPLATE = '{"to": "{to}", "text": "{text}", "reference": "{id}"}'
GATEWAY_SIGNATURE_HEADER = "X-Signature"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class TwilioSms:
    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio SMS needs a From number or a MessagingServiceSid")
        self.api = TwilioApi(account_sid, auth_token, base_url=base_url, timeout=timeout)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def send(self, message: OutboundMessage) -> SendResult:
        form = {"To": message.to, "Body": message.text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            assert self.from_number is not None
            form["From"] = self.from_number
        if self.status_callback:
            form["StatusCallback"] = with_query(self.status_callback, message=message.id)
        return self.api.create("Messages", form)


def fill_template(template: Any, values: dict[str, str]) -> Any:
    """``template`` (parsed JSON) with every ``{name}`` inside its strings replaced."""
    if isinstance(template, str):
        # one pass: a value that itself contains "{id}" is not filled in again
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, list):
        return [fill_template(item, values) for item in template]
    if isinstance(template, dict):
        return {fill_template(k, values): fill_template(v, values) for k, v in template.items()}
    return template


class GatewaySms:
    name = "sms"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        body_template: str = DEFAULT_GATEWAY_TEMPLATE,
        id_field: str = "id",
        timeout: float = 10.0,
    ) -> None:
        try:
            self.template = json.loads(body_template)
        except ValueError as exc:
            raise ValueError(f"the SMS gateway body template is not JSON: {exc}") from exc
        self.url = url
        self.token = token
        self.id_field = id_field
        self._client = _http.make_client(timeout=timeout)

    def send(self, message: OutboundMessage) -> SendResult:
        values = {
            "to": message.to,
            "text": message.text,
            "id": message.id,
            "pay_url": message.pay_url or "",
        }
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        answer = _http.post(
            self._client, self.url, json=fill_template(self.template, values), headers=headers
        )
        if isinstance(answer, SendResult):
            return answer
        provider_id = message.id
        try:
            found = answer.json().get(self.id_field)
            if isinstance(found, str | int) and str(found):
                provider_id = str(found)
        except (ValueError, AttributeError):
            pass
        return SendResult(accepted=True, provider_id=provider_id)

    def close(self) -> None:
        self._client.close()


def gateway_signature(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` a gateway sends with its delivery callbacks."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_gateway_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (hex, optionally ``sha256=``-prefixed) signs the raw ``body``."""
    if not header:
        return False
    given = header.strip().removeprefix("sha256=").lower()
    return hmac.compare_digest(gateway_signature(secret, body), given)


GATEWAY_OUTCOMES = {
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "expired": "failed",
    "rejected": "failed",
    "bounced": "bounced",
    "invalid_number": "bounced",
}


def gateway_report(report: object) -> tuple[str, str | None]:
    """A gateway's delivery callback (``{"reference": "<message id>", "status": "delivered"}``)
    as (message id, outcome); the outcome is None for a status that is not final (accepted,
    sent…). ``ValueError`` names what is missing."""
    if not isinstance(report, dict):
        raise ValueError("the report is not a JSON object")
    reference = report.get("reference") or report.get("message_id")
    if not isinstance(reference, str) or not reference:
        raise ValueError("reference: the message id is missing")
    status = report.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError("status: missing")
    return reference, GATEWAY_OUTCOMES.get(status.strip().lower())

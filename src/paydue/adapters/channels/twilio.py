"""Twilio's REST API, shared by the sms and voice channels, and its callback signature.

Requests go to ``{base_url}/2010-04-01/Accounts/{AccountSid}/{Resource}.json``, form-encoded,
with HTTP basic auth (account SID and auth token). ``base_url`` is configurable so tests (and a
Twilio-compatible service) can stand in for ``https://api.twilio.com``.

Twilio signs the callbacks it sends (status callbacks, ``<Gather>`` actions) with
``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the auth token, over the full callback
URL followed by every POST parameter's name and value, parameters sorted by name (the values of
a repeated name sorted too, each distinct value once). :func:`verify_signature` checks one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit

import httpx

from paydue.adapters.channels import _http
from paydue.adapters.channels.base import SendResult

DEFAULT_BASE_URL = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/inbound/channels/twilio/status"
"""Where paydue takes Twilio's message and call statuses (under ``PAYDUE_BASE_URL``)."""
GATHER_PATH = "/inbound/channels/twilio/gather"
"""Where paydue takes a reminder call's "press 1" (under ``PAYDUE_BASE_URL``)."""
API_VERSION = "2010-04-01"
MINOR_UNIT_DIGITS = {"JPY": 0, "KRW": 0}

Params = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


class TwilioApi:
    """Creates resources (Messages, Calls) of one Twilio account."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self.base_url = base_url.rstrip("/")
        self._client = _http.make_client(timeout=timeout, auth=(account_sid, auth_token))

    def create(self, resource: str, form: Mapping[str, str]) -> SendResult:
        """POST ``form`` to the resource list (``Messages``, ``Calls``); the result names the
        created resource's SID and, when Twilio already knows it, its price."""
        url = f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/{resource}.json"
        answer = _http.post(self._client, url, data=dict(form), describe=_error_of)
        if isinstance(answer, SendResult):
            return answer
        try:
            created = answer.json()
            sid = str(created["sid"])
        except (ValueError, KeyError, TypeError):
            return SendResult(
                accepted=False, error="Twilio answered 2xx without a sid", retryable=True
            )
        cost, currency = _price(created.get("price"), created.get("price_unit"))
        return SendResult(accepted=True, provider_id=sid, cost_minor=cost, cost_currency=currency)

    def close(self) -> None:
        self._client.close()


def _error_of(response: httpx.Response) -> str:
    """Twilio's error answer (``{"code": 21211, "message": "…"}``) as one line."""
    try:
        error = response.json()
        return f"Twilio {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text.strip()


def _price(price: object, unit: object) -> tuple[int | None, str | None]:
    """Twilio's price (a negative decimal string such as ``"-0.00750"``, in ``price_unit``) in
    whole minor units, rounded up: a message that costs 0.75 cents is counted as 1 cent."""
    if price in (None, "") or not isinstance(unit, str) or len(unit) != 3:
        return None, None
    try:
        amount = abs(Decimal(str(price)))
    except InvalidOperation:
        return None, None
    currency = unit.upper()
    scale = Decimal(10) ** MINOR_UNIT_DIGITS.get(currency, 2)
    return int((amount * scale).to_integral_value(ROUND_CEILING)), currency


def _pairs(params: Params) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs.extend((name, v) for v in values)
        return pairs
    return list(params)


def signature(auth_token: str, url: str, params: Params) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``."""
    pairs = sorted(set(_pairs(params)))  # Twilio's libraries sign a repeated value once
    content = url + "".join(name + value for name, value in pairs)
    digest = hmac.new(auth_token.encode(), content.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """``url`` as given, and with its default port added or removed: Twilio signs the URL it
    was configured with, which a proxy in front of paydue may have rewritten either way."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    if parts.port is None:
        other = parts._replace(netloc=f"{parts.netloc}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])
    else:
        return [url]
    return [url, urlunsplit(other)]


def verify_signature(auth_token: str, url: str, params: Params, header: str | None) -> bool:
    """Whether ``header`` (``X-Twilio-Signature``) is Twilio's signature of this callback."""
    if not header:
        return False
    return any(
        hmac.compare_digest(signature(auth_token, variant, params), header)
        for variant in _url_variants(url)
    )


HARD_ERRORS = frozenset({"21211", "21614", "30005", "30006"})
"""Twilio error codes that say the number will not work: invalid or not a mobile number,
unknown handset, landline or unreachable carrier."""
_CALL_FAILED = frozenset({"busy", "no-answer", "failed", "canceled"})


def delivery_outcome(params: Params) -> str | None:
    """What a status callback says about delivery, in paydue's words: ``delivered``, ``failed``
    (undelivered or not answered), ``bounced`` (a number that will not work), or None for an
    intermediate status (queued, sent, ringing…). SMS callbacks carry ``MessageStatus``, call
    callbacks ``CallStatus``."""
    values = dict(_pairs(params))
    status = (values.get("MessageStatus") or values.get("SmsStatus") or "").lower()
    if status:
        if status in ("delivered", "read"):
            return "delivered"
        if status in ("undelivered", "failed"):
            return "bounced" if values.get("ErrorCode", "") in HARD_ERRORS else "failed"
        return None
    call = (values.get("CallStatus") or "").lower()
    if call == "completed":
        return "delivered"
    return "failed" if call in _CALL_FAILED else None

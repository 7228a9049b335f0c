"""The simulator: a payment provider built in, for development, demos and tests.

It behaves like a hosted-checkout card provider and goes through the same pipeline as any
other: ``start`` opens a charge in the simulator's own books and sends the payer to its checkout
page (``/simulator/checkout/{charge}``), where the payer picks an outcome — success, a decline
with a reason, a cancel, or "pending, then success". The simulator then sends HMAC-signed
notifications to paydue's inbound endpoint, in the background, and sends the payer back.

Its notifications speak the simulator's own words (``card_expired``, ``canceled``…), which this
adapter translates, as a real adapter would. Tests and ``paydue simulator notify`` use
``notification`` and ``send`` to post duplicates, delays and out-of-order notifications.

Wire format: a JSON body ``{"id", "type": "charge.updated", "created", "charge": {"id",
"reference", "amount", "currency", "status", "failure_code"}}`` signed in the header
``Simulator-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from paydue.adapters.clock import Clock
from paydue.adapters.db.payments import PaymentRepository
from paydue.adapters.providers.base import (
    Instructions,
    Notification,
    NotificationError,
    PaymentRequest,
    Redirect,
)
from paydue.domain.payments import FailureReason, PaymentStatus
from paydue.services.ids import new_id

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "simulator-signature"
TOLERANCE_SECONDS = 300
"""Notifications signed longer ago than this (or as far in the future) are refused."""
PENDING_DELAY_SECONDS = 2.0
"""How long "pending, then success" stays pending."""

DECLINE_CODES: dict[str, FailureReason] = {
    "card_expired": FailureReason.EXPIRED_CARD,
    "card_stolen": FailureReason.STOLEN_CARD,
    "card_invalid": FailureReason.INVALID_CARD,
    "card_not_activated": FailureReason.INACTIVE_CARD,
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
    "do_not_honor": FailureReason.DECLINED,
}
"""The simulator's decline codes and paydue's reasons for them."""

STATUSES: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELLED,
}

OUTCOMES = ("success", "pending_then_success", "cancel", *(f"decline:{c}" for c in DECLINE_CODES))
"""What the payer can pick on the checkout page."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Simulator:
    name = "simulator"
    methods = frozenset({"card", "paypal", "bank_payment", "ideal", "bancontact", "revolut"})
    notifies = True
    redirect_origins: frozenset[str] = frozenset()  # its checkout is on paydue's own origin

    def __init__(self, engine: sa.Engine, clock: Clock, secret: bytes, base_url: str) -> None:
        self.engine = engine
        self.clock = clock
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    # --- the provider port ----------------------------------------------------------------------

    def start(self, request: PaymentRequest) -> Redirect | Instructions:
        now = self.clock.now()
        with self.engine.begin() as conn:
            charge = PaymentRepository(conn).add_charge(
                {
                    "id": new_id("ch"),
                    "account": request.account,
                    "reference": request.reference,
                    "amount": request.amount,
                    "currency": request.currency,
                    "status": "open",
                    "return_url": request.return_url,
                    "notify_url": request.notify_url,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        return Redirect(f"{self.base_url}/simulator/checkout/{charge['id']}", charge["id"])

    def account_secret(self, account: str) -> bytes:
        """Each merchant account (issuer) signs with its own key."""
        return hmac.new(self.secret, account.encode(), hashlib.sha256).digest()

    def verify_notification(
        self, account: str, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> None:
        header = headers.get(SIGNATURE_HEADER)
        if not header:
            raise NotificationError(f"missing {SIGNATURE_HEADER} header", status=401)
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            timestamp = int(parts["t"])
            given = parts["v1"]
        except (KeyError, ValueError):
            raise NotificationError(f"malformed {SIGNATURE_HEADER} header", status=401) from None
        if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise NotificationError(
                f"stale notification: signed at {timestamp}, more than "
                f"{TOLERANCE_SECONDS} s from now",
                status=401,
            )
        expected = signature(self.account_secret(account), timestamp, body).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, given):
            raise NotificationError("the signature does not match the body", status=401)

    def parse_notification(self, body: bytes) -> Notification:
        try:
            doc = orjson.loads(body)
            charge = doc["charge"]
            status = STATUSES[charge["status"]]
            code = charge.get("failure_code")
            reason = _reason(status, code)
            return Notification(
                event_id=_text(doc["id"]),
                reference=_text(charge["reference"]),
                status=status,
                amount=_amount(charge["amount"]),
                currency=_text(charge["currency"]),
                provider_payment_id=_text(charge["id"]),
                failure_reason=reason,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise NotificationError(f"unreadable simulator notification: {exc!r}") from None

    def fetch_status(self, provider_payment_id: str) -> Notification | None:
        with self.engine.connect() as conn:
            charge = PaymentRepository(conn).charge(provider_payment_id)
        if charge is None or charge["status"] not in STATUSES:
            return None
        body, _ = self.notification(charge, charge["status"], charge["failure_reason"])
        return self.parse_notification(body)

    # --- the simulator's own side -----------------------------------------------------------

    def charge(self, charge_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return PaymentRepository(conn).charge(charge_id)

    def charge_for(self, reference: str) -> dict[str, Any] | None:
        """The charge opened for paydue's payment ``reference``."""
        with self.engine.connect() as conn:
            return PaymentRepository(conn).charge_for(reference)

    def complete(self, charge_id: str, outcome: str) -> dict[str, Any]:
        """The payer picked ``outcome`` on the checkout page: book it and notify paydue in the
        background. Returns the charge. A charge is completed once; a second submit (back
        button, double click) changes nothing and sends nothing."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        status, code = {
            "success": ("succeeded", None),
            "pending_then_success": ("pending", None),
            "cancel": ("canceled", None),
        }.get(outcome, ("failed", outcome.partition(":")[2]))
        with self.engine.begin() as conn:
            books = PaymentRepository(conn)
            charge = books.charge(charge_id, for_update=True)
            if charge is None:
                raise LookupError(f"no charge {charge_id!r}")
            if charge["status"] != "open":
                return charge
            books.update_charge(
                charge_id,
                {"status": status, "failure_reason": code, "updated_at": self.clock.now()},
            )
            charge = {**charge, "status": status, "failure_reason": code}
        self._notify_later(charge, status, code, 0.0)
        if outcome == "pending_then_success":
            self._settle_later(charge_id, PENDING_DELAY_SECONDS)
        return charge

    def notification(
        self,
        charge: Mapping[str, Any],
        status: str,
        failure_code: str | None = None,
        *,
        event_id: str | None = None,
        signed_at: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed notification about ``charge`` (body, headers)."""
        timestamp = int(self.clock.now().timestamp()) if signed_at is None else signed_at
        body = orjson.dumps(
            {
                "id": event_id or new_id("evt"),
                "type": "charge.updated",
                "created": timestamp,
                "charge": {
                    "id": charge["id"],
                    "reference": charge["reference"],
                    "amount": charge["amount"],
                    "currency": charge["currency"],
                    "status": status,
                    "failure_code": failure_code,
                },
            }
        )
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature(self.account_secret(charge["account"]), timestamp, body),
        }
        return body, headers

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """Post one notification; returns the HTTP status paydue answered."""
        return httpx.post(url, content=body, headers=dict(headers), timeout=10).status_code

    def _notify_later(
        self, charge: Mapping[str, Any], status: str, code: str | None, delay: float
    ) -> None:
        def run() -> None:
            body, headers = self.notification(charge, status, code)
            try:
                answer = self.send(str(charge["notify_url"]), body, headers)
                if answer >= 300:
                    log.warning("simulator notification answered %s", answer)
            except httpx.HTTPError:
                log.exception("simulator notification to %s failed", charge["notify_url"])

        timer = threading.Timer(delay, run)
        timer.daemon = True
        timer.start()

    def _settle_later(self, charge_id: str, delay: float) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                books = PaymentRepository(conn)
                charge = books.charge(charge_id, for_update=True)
                if charge is None or charge["status"] != "pending":
                    return
                books.update_charge(
                    charge_id, {"status": "succeeded", "updated_at": self.clock.now()}
                )
            self._notify_later({**charge, "status": "succeeded"}, "succeeded", None, 0.0)

        timer = threading.Timer(delay, run)
        timer.daemon = True
        timer.start()


def _reason(status: PaymentStatus, code: Any) -> FailureReason | None:
    if status == PaymentStatus.CANCELLED:
        return FailureReason.CANCELLED_BY_PAYER
    if status != PaymentStatus.FAILED:
        return None
    return DECLINE_CODES.get(str(code), FailureReason.DECLINED)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise ValueError(f"expected a short text, got {value!r}")
    return value


def _amount(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected an amount in minor units, got {value!r}")
    return value

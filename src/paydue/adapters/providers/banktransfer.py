"""Bank transfer: instructions (IBAN, BIC, amount, RF reference) and the EPC QR code on the pay
page. No notifications: the money is matched later from the bank statement (reconciliation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from paydue.adapters.providers.base import (
    Instructions,
    Notification,
    NotificationError,
    PaymentRequest,
    Redirect,
)


class BankTransfer:
    name = "bank_transfer"
    methods = frozenset({"bank_transfer"})
    notifies = False
    redirect_origins: frozenset[str] = frozenset()

    def __init__(self, iban: str | None = None, bic: str | None = None) -> None:
        self.iban = iban
        self.bic = bic

    def start(self, request: PaymentRequest) -> Redirect | Instructions:
        details = {
            "amount": str(request.amount),
            "currency": request.currency,
            "reference": request.reference,
        }
        if self.iban:
            details["iban"] = self.iban
        if self.bic:
            details["bic"] = self.bic
        return Instructions(details)

    def verify_notification(
        self, account: str, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> None:
        raise NotificationError("bank transfers send no notifications", status=404)

    def parse_notification(self, body: bytes) -> Notification:
        raise NotificationError("bank transfers send no notifications", status=404)

    def fetch_status(self, provider_payment_id: str) -> Notification | None:
        return None

"""The port every payment provider implements.

A provider adapter only translates: it starts a payment on the provider's side (a redirect to
its hosted checkout, or instructions such as bank details), verifies a notification's signature
on the raw bytes, reads a notification into paydue's words (``Notification``), and can fetch a
payment's current state. Everything else — finding the payment, checking amount and currency,
the state machine, credits, events — is the one pipeline in ``services.payments`` that all
providers share.

A new provider is one module here, one line in ``providers.registry``, and passing the contract
tests in ``tests/contract/test_providers.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from paydue.domain.payments import FailureReason, PaymentStatus


class NotificationError(Exception):
    """A notification that must be refused as a whole: bad signature, stale timestamp,
    unreadable body. ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a provider needs to start taking one payment."""

    account: str
    """The merchant account at the provider: the issuer's."""
    reference: str
    """paydue's payment id; the provider echoes it in every notification."""
    amount: int
    currency: str
    method: str
    description: str
    locale: str
    return_url: str
    """Where the payer's browser comes back to (always on paydue's own origin)."""
    notify_url: str
    """Where the provider posts its notifications."""


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the payer to the provider's hosted checkout."""

    url: str
    provider_payment_id: str


@dataclass(frozen=True, slots=True)
class Instructions:
    """Nothing to redirect to: the payer acts on their own (e.g. a bank transfer)."""

    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Notification:
    """A provider's notification in paydue's words."""

    event_id: str
    """Unique per provider: the same notification sent twice carries the same id."""
    reference: str
    status: PaymentStatus
    amount: int
    currency: str
    provider_payment_id: str
    failure_reason: FailureReason | None = None


class Provider(Protocol):
    name: str
    methods: frozenset[str]
    """The payment methods this provider can take (``domain.routing.METHODS``)."""
    notifies: bool
    """Whether it sends notifications (bank transfers arrive by statement instead)."""
    redirect_origins: frozenset[str]
    """Origins the pay page's form may lead to (the ``form-action`` of its CSP)."""

    def start(self, request: PaymentRequest) -> Redirect | Instructions: ...

    def verify_notification(
        self, account: str, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> None:
        """Raise ``NotificationError`` unless ``body`` was signed recently by this provider for
        ``account`` (each issuer's account has its own signing key)."""

    def parse_notification(self, body: bytes) -> Notification:
        """Read a verified notification; ``NotificationError`` when it cannot be read."""

    def fetch_status(self, provider_payment_id: str) -> Notification | None:
        """The payment's current state at the provider, or None when it knows none."""

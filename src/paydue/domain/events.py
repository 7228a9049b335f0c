"""Event types: append-only records of what happened, past tense.

They feed outbound webhooks, the polling feed and analytics. An endpoint subscribes to exact
types or to a family with a wildcard (``invoice.*``), or to everything (``*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

INVOICE_CREATED = "invoice.created"
INVOICE_CANCELLED = "invoice.cancelled"
INVOICE_PARTIALLY_PAID = "invoice.partially_paid"
INVOICE_PAID = "invoice.paid"
INVOICE_OVERPAID = "invoice.overpaid"
INVOICE_OPEN = "invoice.open"  # reopened after a returned payment
INVOICE_DISPUTED = "invoice.disputed"  # the payer disputes it: no reminder until resolved
INVOICE_DISPUTE_RESOLVED = "invoice.dispute_resolved"  # reminders resume at the due step
CREDIT_RECEIVED = "credit.received"
CREDIT_REVERSED = "credit.reversed"  # a manual assignment undone
STATEMENT_IMPORTED = "statement.imported"
SUSPENSE_CREATED = "suspense.created"
SUSPENSE_ASSIGNED = "suspense.assigned"
SUSPENSE_RESOLVED = "suspense.resolved"
SUSPENSE_REOPENED = "suspense.reopened"
PAYLINK_CREATED = "pay_link.created"
PAYLINK_REVOKED = "pay_link.revoked"
PAYMENT_CREATED = "payment.created"
PAYMENT_PENDING = "payment.pending"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_CANCELLED = "payment.cancelled"
PAYMENT_EXPIRED = "payment.expired"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_REVIEW_REQUIRED = "payment.review_required"  # money taken that does not fit the invoice
PAYOUT_CREATED = "payout.created"  # a provider reported a payout of payments
PAYOUT_SETTLED = "payout.settled"  # its bank credit arrived: the clearing entry is closed
PAYOUT_DIFFERENCE = "payout.difference"  # a credit with its reference did not fit: suspense
MESSAGE_QUEUED = "message.queued"  # a reminder or pay link planned on a channel
MESSAGE_SENT = "message.sent"  # the channel's service accepted it
MESSAGE_DELIVERED = "message.delivered"  # the service reported delivery
MESSAGE_BOUNCED = "message.bounced"  # a hard bounce: the address is not used again
MESSAGE_FAILED = "message.failed"  # refused, undelivered, or its template failed
MESSAGE_SKIPPED = "message.skipped"  # no channel reaches the payer, or paid meanwhile
PAYER_PUSH_SUBSCRIBED = "payer.push_subscribed"  # on the pay page: reminders by Web Push
PAYER_PUSH_UNSUBSCRIBED = "payer.push_unsubscribed"  # stopped on the pay page: opted out
WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"

EVENT_TYPES: frozenset[str] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)


@dataclass(frozen=True, slots=True)
class Event:
    """An event not yet written: the unit of work gives it its id and sequence number."""

    type: str
    subject_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


def check_subscription(patterns: Iterable[str]) -> list[str]:
    """Validate the event types an endpoint subscribes to; returns them de-duplicated."""
    families = {t.split(".", 1)[0] for t in EVENT_TYPES}
    clean: list[str] = []
    for pattern in patterns:
        ok = (
            pattern == "*"
            or pattern in EVENT_TYPES
            or (pattern.endswith(".*") and pattern[:-2] in families)
        )
        if not ok:
            raise ValueError(f"unknown event type {pattern!r}")
        if pattern not in clean:
            clean.append(pattern)
    if not clean:
        raise ValueError("subscribe to at least one event type (or '*')")
    return clean


def subscribed(patterns: Iterable[str], event_type: str) -> bool:
    family = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{family}.*") for p in patterns)

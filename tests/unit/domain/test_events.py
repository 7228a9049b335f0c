"""Event types and webhook subscriptions."""

from __future__ import annotations

import re

import pytest

from paydue.domain import events as ev

EXPECTED_TYPES = {
    "invoice.created",
    "invoice.cancelled",
    "invoice.partially_paid",
    "invoice.paid",
    "invoice.overpaid",
    "invoice.open",
    "credit.received",
    "pay_link.created",
    "pay_link.revoked",
    "payment.created",
    "payment.pending",
    "payment.succeeded",
    "payment.failed",
    "payment.cancelled",
    "payment.expired",
    "payment.refunded",
    "webhook_endpoint.disabled",
}


def test_event_types_are_the_published_catalogue() -> None:
    assert ev.EVENT_TYPES >= EXPECTED_TYPES
    for event_type in ev.EVENT_TYPES:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", event_type), event_type


@pytest.mark.parametrize(
    ("patterns", "clean"),
    [
        (["invoice.paid"], ["invoice.paid"]),
        (["invoice.*"], ["invoice.*"]),
        (["*"], ["*"]),
        (["invoice.paid", "payment.*", "invoice.paid"], ["invoice.paid", "payment.*"]),
    ],
)
def test_subscriptions_accept_types_families_and_everything(
    patterns: list[str], clean: list[str]
) -> None:
    assert ev.check_subscription(patterns) == clean


@pytest.mark.parametrize(
    ("patterns", "complaint"),
    [
        (["invoice.payed"], "unknown event type 'invoice.payed'"),
        (["nothing.*"], "unknown event type 'nothing.\\*'"),
        (["invoice"], "unknown event type 'invoice'"),
        (["invoice.*.paid"], "unknown event type"),
        ([""], "unknown event type"),
        ([], "at least one"),
    ],
)
def test_subscriptions_refuse_unknown_patterns(patterns: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ev.check_subscription(patterns)


@pytest.mark.parametrize(
    ("patterns", "event_type", "matches"),
    [
        (["*"], "invoice.paid", True),
        (["*"], "payment.failed", True),
        (["invoice.*"], "invoice.paid", True),
        (["invoice.*"], "payment.failed", False),
        (["invoice.paid"], "invoice.paid", True),
        (["invoice.paid"], "invoice.partially_paid", False),
        (["payment.*", "invoice.paid"], "invoice.paid", True),
        (["pay_link.*"], "payment.created", False),
        ([], "invoice.paid", False),
    ],
)
def test_subscription_patterns_match_event_types(
    patterns: list[str], event_type: str, matches: bool
) -> None:
    assert ev.subscribed(patterns, event_type) is matches


def test_an_event_carries_type_subject_and_data() -> None:
    event = ev.Event(ev.INVOICE_PAID, "inv_1", {"amount": 100})
    assert (event.type, event.subject_id, dict(event.data)) == (
        "invoice.paid",
        "inv_1",
        {"amount": 100},
    )
    assert ev.Event(ev.INVOICE_CREATED, "inv_2").data == {}

"""The payment state machine: the allowed transitions are a table, everything else is refused."""

from __future__ import annotations

from itertools import product

import pytest

from paydue.domain.errors import Conflict
from paydue.domain.payments import TERMINAL, TRANSITIONS, FailureReason, PaymentStatus, transition

P = PaymentStatus

# The specification, written out independently of the table under test.
ALLOWED: set[tuple[PaymentStatus, PaymentStatus]] = {
    (P.CREATED, P.PENDING),
    (P.CREATED, P.SUCCEEDED),
    (P.CREATED, P.FAILED),
    (P.CREATED, P.CANCELLED),
    (P.CREATED, P.EXPIRED),
    (P.PENDING, P.SUCCEEDED),
    (P.PENDING, P.FAILED),
    (P.PENDING, P.CANCELLED),
    (P.PENDING, P.EXPIRED),
    (P.SUCCEEDED, P.REFUNDED),  # the explicit refund path, the only way out of a final state
}
PAIRS = [(a, b) for a, b in product(P, P) if a != b]


def test_the_transition_table_is_exactly_the_specification() -> None:
    assert set(TRANSITIONS) == set(P)
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition_changes_the_state(
    current: PaymentStatus, target: PaymentStatus
) -> None:
    assert transition(current, target) is True


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p not in ALLOWED])
def test_forbidden_transition_is_refused(current: PaymentStatus, target: PaymentStatus) -> None:
    with pytest.raises(Conflict, match=f"from {current.value} to {target.value}") as raised:
        transition(current, target)
    assert raised.value.code == "illegal_payment_transition"


@pytest.mark.parametrize("status", list(P))
def test_re_entering_the_current_state_is_a_no_op(status: PaymentStatus) -> None:
    assert transition(status, status) is False


def test_final_states_leave_only_through_a_refund() -> None:
    assert {P.SUCCEEDED, P.FAILED, P.CANCELLED, P.EXPIRED, P.REFUNDED} == TERMINAL
    for status in TERMINAL:
        assert TRANSITIONS[status] <= {P.REFUNDED}
    assert not TRANSITIONS[P.REFUNDED]


def test_a_late_pending_after_success_is_refused() -> None:
    with pytest.raises(Conflict):
        transition(P.SUCCEEDED, P.PENDING)


def test_failure_reasons_are_the_nine_normalised_ones() -> None:
    assert [r.value for r in FailureReason] == [
        "expired_card",
        "stolen_card",
        "invalid_card",
        "inactive_card",
        "insufficient_funds",
        "declined",
        "cancelled_by_payer",
        "fraud_suspected",
        "technical_error",
    ]

"""The payment state machine and the normalised failure reasons.

Allowed transitions are data (``TRANSITIONS``). Re-entering the current state is a no-op, so a
provider's repeated notification changes nothing. Terminal states leave only through the explicit
refund path.
"""

from __future__ import annotations

from enum import StrEnum

from paydue.domain.errors import Conflict


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class FailureReason(StrEnum):
    """Why a payment failed, the same words whichever provider said it."""

    EXPIRED_CARD = "expired_card"
    STOLEN_CARD = "stolen_card"
    INVALID_CARD = "invalid_card"
    INACTIVE_CARD = "inactive_card"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DECLINED = "declined"
    CANCELLED_BY_PAYER = "cancelled_by_payer"
    FRAUD_SUSPECTED = "fraud_suspected"
    TECHNICAL_ERROR = "technical_error"


_S = PaymentStatus
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _S.CREATED: frozenset({_S.PENDING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.EXPIRED}),
    _S.PENDING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.EXPIRED}),
    _S.SUCCEEDED: frozenset({_S.REFUNDED}),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.REFUNDED: frozenset(),
}
TERMINAL = frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.EXPIRED, _S.REFUNDED})


def transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    """Check a transition. True when the state changes, False for a no-op re-entry.

    Raises ``Conflict`` for a transition the table does not allow (for example a late "pending"
    after "succeeded": the caller records it and keeps the final state).
    """
    if current == target:
        return False
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"a payment cannot go from {current.value} to {target.value}",
            code="illegal_payment_transition",
        )
    return True

"""Pay-link policy: when a personal pay link may be opened, and its TAN rules.

A pay link is a stored entry point with its own limits. The rules here decide; the database
applies them atomically (an open is counted with a conditional update, so 50 concurrent opens at
the limit let exactly one more through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from paydue.domain.errors import InvalidInput

MAX_TAN_ATTEMPTS = 5
TAN_DIGITS = 6
MAX_EXPIRY_HOURS = 24 * 366
MAX_OPENS = 100_000
MAX_FAILED_ATTEMPTS = 100


class Refusal(StrEnum):
    """Why a pay link does not lead to the pay page."""

    REVOKED = "revoked"
    EXPIRED = "expired"
    TOO_MANY_OPENS = "too_many_opens"
    TOO_MANY_FAILED_PAYMENTS = "too_many_failed_payments"
    TAN_LOCKED = "tan_locked"
    INVOICE_CANCELLED = "invoice_cancelled"


@dataclass(frozen=True, slots=True)
class PayLinkLimits:
    expires_at: datetime | None
    max_opens: int | None
    max_failed_attempts: int | None
    require_tan: bool


@dataclass(frozen=True, slots=True)
class PayLinkState:
    limits: PayLinkLimits
    open_count: int
    failed_attempts: int
    tan_failures: int
    revoked: bool


def limits_from_request(
    now: datetime,
    *,
    expires_in_hours: float | None,
    max_opens: int | None,
    max_failed_attempts: int | None,
    require_tan: bool,
) -> PayLinkLimits:
    """Validate the limits an issuer asks for and turn them into absolute values."""
    if expires_in_hours is not None and not 0 < expires_in_hours <= MAX_EXPIRY_HOURS:
        raise InvalidInput(f"expires_in_hours must be above 0 and at most {MAX_EXPIRY_HOURS}")
    if max_opens is not None and not 1 <= max_opens <= MAX_OPENS:
        raise InvalidInput(f"max_opens must be between 1 and {MAX_OPENS}")
    if max_failed_attempts is not None and not 1 <= max_failed_attempts <= MAX_FAILED_ATTEMPTS:
        raise InvalidInput(f"max_failed_attempts must be between 1 and {MAX_FAILED_ATTEMPTS}")
    expires_at = now + timedelta(hours=expires_in_hours) if expires_in_hours is not None else None
    return PayLinkLimits(expires_at, max_opens, max_failed_attempts, require_tan)


def refusal(state: PayLinkState, now: datetime, *, counting_open: bool) -> Refusal | None:
    """The reason the link may not be used now, or None.

    ``counting_open`` is True when this use would count as a new open (first page view), in which
    case reaching ``max_opens`` already refuses.
    """
    limits = state.limits
    if state.revoked:
        return Refusal.REVOKED
    if limits.expires_at is not None and now >= limits.expires_at:
        return Refusal.EXPIRED
    if limits.require_tan and state.tan_failures >= MAX_TAN_ATTEMPTS:
        return Refusal.TAN_LOCKED
    if (
        limits.max_failed_attempts is not None
        and state.failed_attempts >= limits.max_failed_attempts
    ):
        return Refusal.TOO_MANY_FAILED_PAYMENTS
    if counting_open and limits.max_opens is not None and state.open_count >= limits.max_opens:
        return Refusal.TOO_MANY_OPENS
    return None


def tan_attempts_left(tan_failures: int) -> int:
    return max(MAX_TAN_ATTEMPTS - tan_failures, 0)

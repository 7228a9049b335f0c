"""Pay-link policy: when a link leads to the pay page, and why not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from paydue.domain.errors import InvalidInput
from paydue.domain.paylinks import (
    MAX_TAN_ATTEMPTS,
    PayLinkLimits,
    PayLinkState,
    Refusal,
    limits_from_request,
    refusal,
    tan_attempts_left,
)

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=1)


def state(
    *,
    expires_at: datetime | None = EXPIRES,
    max_opens: int | None = 3,
    max_failed_attempts: int | None = 2,
    require_tan: bool = True,
    open_count: int = 0,
    failed_attempts: int = 0,
    tan_failures: int = 0,
    revoked: bool = False,
) -> PayLinkState:
    limits = PayLinkLimits(expires_at, max_opens, max_failed_attempts, require_tan)
    return PayLinkState(limits, open_count, failed_attempts, tan_failures, revoked)


def test_a_fresh_link_is_usable() -> None:
    assert refusal(state(), NOW, counting_open=True) is None


def test_a_link_without_limits_is_always_usable() -> None:
    unlimited = state(expires_at=None, max_opens=None, max_failed_attempts=None, open_count=10**6)
    assert refusal(unlimited, NOW + timedelta(days=3650), counting_open=True) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (EXPIRES - timedelta(microseconds=1), None),
        (EXPIRES, Refusal.EXPIRED),
        (EXPIRES + timedelta(seconds=1), Refusal.EXPIRED),
    ],
)
def test_a_link_expires_at_its_expiry_instant(now: datetime, expected: Refusal | None) -> None:
    assert refusal(state(), now, counting_open=True) is expected


@pytest.mark.parametrize(
    ("open_count", "counting_open", "expected"),
    [
        (2, True, None),
        (3, True, Refusal.TOO_MANY_OPENS),
        (4, True, Refusal.TOO_MANY_OPENS),
        (3, False, None),  # a use that is not a new open (an image, a TAN form) is not refused
    ],
)
def test_reaching_max_opens_refuses_the_next_open(
    open_count: int, counting_open: bool, expected: Refusal | None
) -> None:
    assert refusal(state(open_count=open_count), NOW, counting_open=counting_open) is expected


@pytest.mark.parametrize(
    ("failed", "expected"),
    [(1, None), (2, Refusal.TOO_MANY_FAILED_PAYMENTS), (3, Refusal.TOO_MANY_FAILED_PAYMENTS)],
)
def test_too_many_failed_payments_refuse(failed: int, expected: Refusal | None) -> None:
    assert refusal(state(failed_attempts=failed), NOW, counting_open=False) is expected


def test_the_tan_locks_at_five_wrong_tries() -> None:
    assert MAX_TAN_ATTEMPTS == 5
    assert refusal(state(tan_failures=4), NOW, counting_open=True) is None
    assert refusal(state(tan_failures=5), NOW, counting_open=True) is Refusal.TAN_LOCKED
    assert refusal(state(tan_failures=5, require_tan=False), NOW, counting_open=True) is None


@pytest.mark.parametrize(("failures", "left"), [(0, 5), (1, 4), (4, 1), (5, 0), (7, 0)])
def test_tan_attempts_left(failures: int, left: int) -> None:
    assert tan_attempts_left(failures) == left


def test_revoked_wins_over_every_other_reason() -> None:
    everything = state(
        revoked=True, open_count=3, failed_attempts=2, tan_failures=5, expires_at=NOW
    )
    assert refusal(everything, NOW, counting_open=True) is Refusal.REVOKED
    assert refusal(replace(everything, revoked=False), NOW, counting_open=True) is Refusal.EXPIRED


def test_limits_are_turned_into_an_absolute_expiry() -> None:
    limits = limits_from_request(
        NOW, expires_in_hours=1.5, max_opens=3, max_failed_attempts=None, require_tan=True
    )
    assert limits == PayLinkLimits(NOW + timedelta(minutes=90), 3, None, True)
    none = limits_from_request(
        NOW, expires_in_hours=None, max_opens=None, max_failed_attempts=None, require_tan=False
    )
    assert none == PayLinkLimits(None, None, None, False)


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"expires_in_hours": 0}, "expires_in_hours"),
        ({"expires_in_hours": -1}, "expires_in_hours"),
        ({"expires_in_hours": 24 * 366 + 1}, "expires_in_hours"),
        ({"max_opens": 0}, "max_opens"),
        ({"max_opens": 100_001}, "max_opens"),
        ({"max_failed_attempts": 0}, "max_failed_attempts"),
        ({"max_failed_attempts": 101}, "max_failed_attempts"),
    ],
)
def test_limits_out_of_range_are_refused(kwargs: dict[str, float], complaint: str) -> None:
    values: dict[str, float | None] = {
        "expires_in_hours": None,
        "max_opens": None,
        "max_failed_attempts": None,
    }
    values.update(kwargs)
    with pytest.raises(InvalidInput, match=complaint):
        limits_from_request(NOW, require_tan=False, **values)  # type: ignore[arg-type]

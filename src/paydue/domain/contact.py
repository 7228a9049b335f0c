"""Contact rules: when a payer may be contacted at all.

They hold for every message — scheduled reminders, catch-up after downtime, manual campaigns
and agent sends alike: never while the payer has opted out of the channel, only inside the daily
window in the payer's timezone (default 08:00 to 21:00), not on the issuer's rest days or the
payer's public holidays, and at most so many contacts per payer in any rolling 7 days (default 7,
voice calls 3).

The window is wall-clock time on the payer's calendar day, turned into instants with
``zoneinfo``: on a day with a DST change it is shorter or longer, never shifted. A boundary in a
skipped hour is the instant the clock jumps; in a repeated hour the window opens at the second
occurrence and closes at the first, so it never holds an instant whose wall-clock time is
outside it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_data

from paydue.domain.channels import Channel
from paydue.domain.errors import InvalidInput

WEEK = timedelta(days=7)
SUNDAY = 6
MAX_CAP = 100
SEARCH_DAYS = 400  # earliest_send_at gives up beyond this: the rules leave no day open


class ContactRefusal(StrEnum):
    OPTED_OUT = "opted_out"
    REST_DAY = "rest_day"
    PUBLIC_HOLIDAY = "public_holiday"
    QUIET_HOURS = "quiet_hours"
    WEEKLY_CAP = "weekly_cap"
    CHANNEL_CAP = "channel_cap"


@dataclass(frozen=True, slots=True)
class ContactRules:
    """An issuer's contact rules. ``rest_days`` are ``date.weekday()`` numbers (Monday 0)."""

    window_start: time = time(8)
    window_end: time = time(21)
    rest_days: frozenset[int] = frozenset({SUNDAY})
    skip_public_holidays: bool = True
    max_per_week: int = 7
    max_per_week_by_channel: Mapping[Channel, int] = field(
        default_factory=lambda: {Channel.VOICE: 3}
    )

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is not None or self.window_end.tzinfo is not None:
            raise InvalidInput("the contact window is local wall-clock time, without a timezone")
        if not self.window_start < self.window_end:
            raise InvalidInput("window_start must be before window_end (on the same day)")
        if not self.rest_days <= frozenset(range(7)):
            raise InvalidInput("rest_days are weekday numbers from 0 (Monday) to 6 (Sunday)")
        if len(self.rest_days) == 7:
            raise InvalidInput("rest_days must leave at least one day of the week open")
        for name, cap in [("max_per_week", self.max_per_week)] + [
            (f"max_per_week_by_channel.{c}", n) for c, n in self.max_per_week_by_channel.items()
        ]:
            if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_CAP:
                raise InvalidInput(f"{name} must be a whole number from 1 to {MAX_CAP}")

    def cap(self, channel: Channel) -> int:
        return min(self.max_per_week, self.max_per_week_by_channel.get(channel, MAX_CAP))


@dataclass(frozen=True, slots=True)
class Contact:
    """A message handed to a channel for this payer (any invoice, step or campaign)."""

    channel: Channel
    at: datetime


@dataclass(frozen=True, slots=True)
class PayerCalendar:
    """The payer's side of the rules: their timezone and public holidays (local dates)."""

    tz: ZoneInfo
    holidays: Container[date] = frozenset()


def refusal(
    rules: ContactRules,
    *,
    channel: Channel,
    at: datetime,
    payer: PayerCalendar,
    history: Sequence[Contact],
    opted_out: bool = False,
) -> ContactRefusal | None:
    """Why the payer may not be contacted on ``channel`` at ``at``, or None when they may."""
    if opted_out:
        return ContactRefusal.OPTED_OUT
    day = at.astimezone(payer.tz).date()
    closed = _closed(rules, day, payer)
    if closed is not None:
        return closed
    start, end = _window(rules, day, payer.tz)
    if not start <= at < end:
        return ContactRefusal.QUIET_HOURS
    if _count(history, at, None) >= rules.max_per_week:
        return ContactRefusal.WEEKLY_CAP
    if _count(history, at, channel) >= rules.cap(channel):
        return ContactRefusal.CHANNEL_CAP
    return None


def earliest_send_at(
    rules: ContactRules,
    *,
    channel: Channel,
    not_before: datetime,
    payer: PayerCalendar,
    history: Sequence[Contact],
    opted_out: bool = False,
) -> datetime | None:
    """The first instant from ``not_before`` on at which ``refusal`` allows a contact (UTC), or
    None when there is none: opted out, or no open day within ``SEARCH_DAYS``."""
    if opted_out:
        return None
    at = not_before.astimezone(UTC)
    horizon = at + timedelta(days=SEARCH_DAYS)
    while at < horizon:
        opened = _next_open(rules, at, payer)
        if opened is None:
            return None
        released = max(
            _release(history, opened, None, rules.max_per_week),
            _release(history, opened, channel, rules.cap(channel)),
        )
        if released == opened:
            return opened
        at = released
    return None


def _closed(rules: ContactRules, day: date, payer: PayerCalendar) -> ContactRefusal | None:
    if day.weekday() in rules.rest_days:
        return ContactRefusal.REST_DAY
    if rules.skip_public_holidays and day in payer.holidays:
        return ContactRefusal.PUBLIC_HOLIDAY
    return None


def _window(rules: ContactRules, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = _clock_reaches(day, rules.window_start, tz, for_good=True)
    return start, _clock_reaches(day, rules.window_end, tz, for_good=False)


def _clock_reaches(day: date, wall: time, tz: ZoneInfo, *, for_good: bool) -> datetime:
    """The instant (UTC) at which the clock in ``tz`` reaches ``wall`` on ``day``.

    In a repeated hour: its first occurrence, or with ``for_good`` the second (after which the
    clock does not go below ``wall`` again that day). In a skipped hour: the jump.
    """
    local = datetime.combine(day, wall, tz)
    first, second = local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)
    if first <= second:
        return second if for_good else first
    # ``wall`` does not exist: between ``second`` and ``first`` the clock jumps past it
    target = datetime.combine(day, wall)
    low, high = 0, int((first - second).total_seconds())
    while low < high:
        mid = (low + high) // 2
        if (second + timedelta(seconds=mid)).astimezone(tz).replace(tzinfo=None) >= target:
            high = mid
        else:
            low = mid + 1
    return second + timedelta(seconds=low)


def _next_open(rules: ContactRules, at: datetime, payer: PayerCalendar) -> datetime | None:
    day = at.astimezone(payer.tz).date()
    for _ in range(SEARCH_DAYS):
        if _closed(rules, day, payer) is None:
            start, end = _window(rules, day, payer.tz)
            candidate = max(at, start)
            if candidate < end:
                return candidate
        day += timedelta(days=1)
    return None


def _in_week(history: Iterable[Contact], at: datetime, channel: Channel | None) -> list[datetime]:
    """Times of the contacts that count against a contact at ``at`` (the 7 days before it; a
    contact recorded later than ``at`` counts too)."""
    return sorted(
        c.at for c in history if c.at > at - WEEK and (channel is None or c.channel == channel)
    )


def _count(history: Sequence[Contact], at: datetime, channel: Channel | None) -> int:
    return len(_in_week(history, at, channel))


def _release(
    history: Sequence[Contact], at: datetime, channel: Channel | None, cap: int
) -> datetime:
    """``at``, or the first instant after it when fewer than ``cap`` contacts count."""
    times = _in_week(history, at, channel)
    if len(times) < cap:
        return at
    return max(at, times[len(times) - cap] + WEEK)


@lru_cache(maxsize=512)
def _holidays_of_year(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    try:
        found = holiday_data.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        where = country if subdivision is None else f"{country}-{subdivision}"
        raise InvalidInput(
            f"no public holiday calendar for {where!r}", details={"where": "country"}
        ) from None
    return frozenset(found)


def public_holidays(
    country: str, years: Iterable[int], subdivision: str | None = None
) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166-1 alpha-2, optionally a subdivision such as
    ``("DE", "BY")``) in ``years``, from the ``holidays`` package."""
    days: set[date] = set()
    for year in years:
        days |= _holidays_of_year(country.upper(), subdivision, year)
    return frozenset(days)

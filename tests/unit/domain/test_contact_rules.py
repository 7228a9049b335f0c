"""Contact rules: quiet hours in the payer's timezone, rest days, holidays, weekly caps, opt-out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydue.domain.channels import Channel
from paydue.domain.contact import (
    Contact,
    ContactRefusal,
    ContactRules,
    PayerCalendar,
    earliest_send_at,
    public_holidays,
    refusal,
)
from paydue.domain.errors import InvalidInput

C = Channel
R = ContactRefusal
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
RULES = ContactRules()
EVERY_DAY = ContactRules(rest_days=frozenset())
PAYER = PayerCalendar(BERLIN, public_holidays("DE", [2026, 2027]))


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def check(
    at: datetime,
    *,
    rules: ContactRules = RULES,
    channel: Channel = C.EMAIL,
    history: tuple[Contact, ...] = (),
    payer: PayerCalendar = PAYER,
    opted_out: bool = False,
) -> ContactRefusal | None:
    return refusal(rules, channel=channel, at=at, payer=payer, history=history, opted_out=opted_out)


def earliest(
    not_before: datetime,
    *,
    rules: ContactRules = RULES,
    channel: Channel = C.EMAIL,
    history: tuple[Contact, ...] = (),
    payer: PayerCalendar = PAYER,
    opted_out: bool = False,
) -> datetime | None:
    return earliest_send_at(
        rules,
        channel=channel,
        not_before=not_before,
        payer=payer,
        history=history,
        opted_out=opted_out,
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(BERLIN, 2026, 11, 2, 7, 59), R.QUIET_HOURS),
        (local(BERLIN, 2026, 11, 2, 8, 0), None),
        (local(BERLIN, 2026, 11, 2, 20, 59), None),
        (local(BERLIN, 2026, 11, 2, 21, 0), R.QUIET_HOURS),
        (local(BERLIN, 2026, 11, 7, 10, 0), None),  # Saturday
        (local(BERLIN, 2026, 11, 8, 10, 0), R.REST_DAY),  # Sunday
        (local(BERLIN, 2026, 12, 25, 10, 0), R.PUBLIC_HOLIDAY),  # a Friday
    ],
)
def test_contacts_only_in_the_window_on_working_days(
    at: datetime, expected: ContactRefusal | None
) -> None:
    assert check(at) is expected


def test_the_window_is_the_payers_local_time_not_the_servers() -> None:
    at = datetime(2026, 11, 2, 12, 30, tzinfo=UTC)  # 13:30 in Berlin, 07:30 in New York
    assert check(at) is None
    assert check(at, payer=PayerCalendar(NEW_YORK)) is R.QUIET_HOURS
    assert earliest(at, payer=PayerCalendar(NEW_YORK)) == local(NEW_YORK, 2026, 11, 2, 8, 0)


def test_opting_out_refuses_always_and_has_no_earliest_time() -> None:
    at = local(BERLIN, 2026, 11, 2, 10, 0)
    assert check(at, opted_out=True) is R.OPTED_OUT
    assert earliest(at, opted_out=True) is None


def test_weekends_and_holidays_are_configurable() -> None:
    sunday, christmas = local(BERLIN, 2026, 11, 8, 10, 0), local(BERLIN, 2026, 12, 25, 10, 0)
    assert check(sunday, rules=EVERY_DAY) is None
    assert check(christmas, rules=ContactRules(skip_public_holidays=False)) is None
    weekend = ContactRules(rest_days=frozenset({5, 6}))
    assert check(local(BERLIN, 2026, 11, 7, 10, 0), rules=weekend) is R.REST_DAY


def test_inside_the_window_the_earliest_time_is_now() -> None:
    now = local(BERLIN, 2026, 11, 2, 10, 17)
    assert earliest(now) == now


def test_after_the_window_the_earliest_time_is_the_next_morning() -> None:
    assert earliest(local(BERLIN, 2026, 11, 2, 21, 0)) == local(BERLIN, 2026, 11, 3, 8, 0)
    assert earliest(local(BERLIN, 2026, 11, 3, 0, 30)) == local(BERLIN, 2026, 11, 3, 8, 0)


def test_christmas_and_the_sunday_after_it_are_skipped() -> None:
    assert earliest(local(BERLIN, 2026, 12, 24, 21, 5)) == local(BERLIN, 2026, 12, 28, 8, 0)


def test_regional_holidays_come_from_the_subdivision() -> None:
    all_saints = date(2026, 11, 1)
    assert all_saints in public_holidays("DE", [2026], subdivision="BY")
    assert all_saints not in public_holidays("DE", [2026], subdivision="BE")


@pytest.mark.parametrize(("country", "subdivision"), [("XX", None), ("DE", "ZZ")])
def test_an_unknown_holiday_calendar_is_refused(country: str, subdivision: str | None) -> None:
    with pytest.raises(InvalidInput, match="no public holiday calendar"):
        public_holidays(country, [2026], subdivision)


MONDAY_NOON = local(BERLIN, 2026, 11, 9, 12, 0)


def contacts(channel: Channel, *ats: datetime) -> tuple[Contact, ...]:
    return tuple(Contact(channel, at) for at in ats)


def test_the_eighth_contact_in_seven_days_waits_until_the_oldest_leaves_the_window() -> None:
    week = contacts(C.EMAIL, *(MONDAY_NOON - timedelta(days=d, hours=3) for d in range(7)))
    assert check(MONDAY_NOON, history=week) is R.WEEKLY_CAP
    # the oldest was last Tuesday at 09:00; it stops counting this Tuesday at 09:00
    assert earliest(MONDAY_NOON, history=week) == local(BERLIN, 2026, 11, 10, 9, 0)


def test_a_cap_released_in_quiet_hours_waits_for_the_next_open_day() -> None:
    saturday = local(BERLIN, 2026, 11, 14, 12, 0)
    oldest = local(BERLIN, 2026, 11, 7, 22, 0)  # released Saturday 22:00, then Sunday rests
    week = contacts(C.EMAIL, oldest, *(saturday - timedelta(days=d) for d in range(1, 7)))
    assert check(saturday, history=week) is R.WEEKLY_CAP
    assert earliest(saturday, history=week) == local(BERLIN, 2026, 11, 16, 8, 0)
    assert earliest(saturday, history=week, rules=EVERY_DAY) == local(BERLIN, 2026, 11, 15, 8, 0)


def test_a_contact_exactly_seven_days_ago_no_longer_counts() -> None:
    week = contacts(C.EMAIL, *(MONDAY_NOON - timedelta(days=7 - d) for d in range(7)))
    assert check(MONDAY_NOON, history=week) is None
    assert check(MONDAY_NOON - timedelta(microseconds=1), history=week) is R.WEEKLY_CAP


def test_voice_calls_are_capped_at_three_a_week_other_channels_are_not() -> None:
    calls = contacts(C.VOICE, *(MONDAY_NOON - timedelta(days=d) for d in (1, 2, 3)))
    assert check(MONDAY_NOON, channel=C.VOICE, history=calls) is R.CHANNEL_CAP
    assert check(MONDAY_NOON, channel=C.SMS, history=calls) is None
    assert earliest(MONDAY_NOON, channel=C.VOICE, history=calls) == MONDAY_NOON + timedelta(days=4)


def test_caps_are_configurable() -> None:
    rules = ContactRules(max_per_week=2, max_per_week_by_channel={C.SMS: 1})
    one_sms = contacts(C.SMS, MONDAY_NOON - timedelta(days=1))
    assert check(MONDAY_NOON, rules=rules, channel=C.SMS, history=one_sms) is R.CHANNEL_CAP
    assert check(MONDAY_NOON, rules=rules, channel=C.VOICE, history=one_sms) is None
    two = one_sms + contacts(C.EMAIL, MONDAY_NOON - timedelta(hours=1))
    assert check(MONDAY_NOON, rules=rules, channel=C.VOICE, history=two) is R.WEEKLY_CAP


# DST: Berlin switches on Sunday 2026-03-29 (02:00 → 03:00) and 2026-10-25 (03:00 → 02:00)


def test_the_window_follows_the_wall_clock_across_spring_forward() -> None:
    saturday_night = local(BERLIN, 2026, 3, 28, 21, 30)  # 20:30 UTC, UTC+1
    eight_cest = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 at UTC+2
    assert earliest(saturday_night, rules=EVERY_DAY) == eight_cest
    assert check(eight_cest - timedelta(minutes=1), rules=EVERY_DAY) is R.QUIET_HOURS
    # 20:30 UTC is 22:30 local after the change: quiet, though it was allowed the day before
    assert check(datetime(2026, 3, 29, 19, 30, tzinfo=UTC), rules=EVERY_DAY) is R.QUIET_HOURS
    assert check(datetime(2026, 3, 28, 19, 30, tzinfo=UTC), rules=EVERY_DAY) is None


def test_the_window_follows_the_wall_clock_across_fall_back() -> None:
    assert earliest(local(BERLIN, 2026, 10, 24, 22, 0), rules=EVERY_DAY) == datetime(
        2026, 10, 25, 7, 0, tzinfo=UTC
    )
    assert earliest(local(BERLIN, 2026, 10, 24, 22, 0)) == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)


def test_a_window_edge_in_the_skipped_hour_is_the_jump() -> None:
    night = ContactRules(window_start=time(2, 30), window_end=time(6), rest_days=frozenset())
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
    assert earliest(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), rules=night) == jump
    assert check(jump - timedelta(seconds=1), rules=night) is R.QUIET_HOURS


def test_a_window_edge_in_the_repeated_hour_never_lets_the_clock_read_outside() -> None:
    night = ContactRules(window_start=time(2, 30), window_end=time(6), rest_days=frozenset())
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_0230 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, an hour later
    # between the two the clock goes 02:30 … 02:59, 02:00 … 02:29: not all inside the window
    assert check(first_0230 + timedelta(minutes=45), rules=night) is R.QUIET_HOURS
    assert earliest(first_0230, rules=night) == second_0230


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_start": time(21), "window_end": time(8)},
        {"window_start": time(8), "window_end": time(8)},
        {"window_start": time(8, tzinfo=UTC)},
        {"rest_days": frozenset({7})},
        {"rest_days": frozenset(range(7))},
        {"max_per_week": 0},
        {"max_per_week": 101},
        {"max_per_week_by_channel": {C.VOICE: 0}},
    ],
)
def test_bad_contact_rules_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ContactRules(**kwargs)  # type: ignore[arg-type]


# Properties: whatever the rules, timezone, history and starting point, the earliest send time
# is allowed, honours quiet hours on the payer's wall clock and the caps, and is the earliest.

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight/01:00
    "Asia/Kolkata",
    "Pacific/Chatham",  # UTC+12:45/+13:45
]
# a few days before DST changes in 2026, so that the searches cross them
BASES = [
    datetime(2026, 3, 5, tzinfo=UTC),
    datetime(2026, 3, 26, tzinfo=UTC),
    datetime(2026, 4, 2, tzinfo=UTC),
    datetime(2026, 9, 3, tzinfo=UTC),
    datetime(2026, 10, 1, tzinfo=UTC),
    datetime(2026, 10, 22, tzinfo=UTC),
    datetime(2026, 10, 29, tzinfo=UTC),
]

# minutes of the day at and around which the clocks of ZONES change
NEAR_CHANGES = [0, 15, 30, 45, 60, 90, 120, 135, 150, 165, 180, 195, 210, 225]


@st.composite
def rule_sets(draw: st.DrawFn) -> ContactRules:
    start = draw(st.sampled_from(NEAR_CHANGES) | st.integers(0, 23 * 60 + 58))
    end = draw(st.integers(start + 1, min(start + 120, 23 * 60 + 59)) | st.just(23 * 60 + 59))
    return ContactRules(
        window_start=time(start // 60, start % 60),
        window_end=time(end // 60, end % 60),
        rest_days=draw(st.just(frozenset[int]()) | st.frozensets(st.integers(0, 6), max_size=6)),
        skip_public_holidays=draw(st.booleans()),
        max_per_week=draw(st.integers(1, 9)),
        max_per_week_by_channel=draw(
            st.dictionaries(st.sampled_from([C.VOICE, C.SMS]), st.integers(1, 4))
        ),
    )


@given(
    rules=rule_sets(),
    zone=st.sampled_from(ZONES),
    base=st.sampled_from(BASES),
    offset=st.timedeltas(timedelta(0), timedelta(days=6)),
    history_offsets=st.lists(
        st.tuples(st.sampled_from([C.EMAIL, C.SMS, C.VOICE]), st.integers(0, 10 * 24 * 60)),
        max_size=12,
    ),
    holiday_offsets=st.frozensets(st.integers(0, 20), max_size=5),
    channel=st.sampled_from([C.EMAIL, C.SMS, C.VOICE]),
)
@settings(max_examples=400, deadline=None)
def test_the_earliest_send_time_is_allowed_and_minimal(
    rules: ContactRules,
    zone: str,
    base: datetime,
    offset: timedelta,
    history_offsets: list[tuple[Channel, int]],
    holiday_offsets: frozenset[int],
    channel: Channel,
) -> None:
    tz = ZoneInfo(zone)
    now = base + offset
    holidays = frozenset(base.date() + timedelta(days=d) for d in holiday_offsets)
    payer = PayerCalendar(tz, holidays)
    history = tuple(Contact(c, now - timedelta(minutes=m)) for c, m in history_offsets)

    at = earliest(now, rules=rules, channel=channel, history=history, payer=payer)

    assert at is not None
    assert at >= now
    assert check(at, rules=rules, channel=channel, history=history, payer=payer) is None
    # independently of the implementation: the payer's wall clock, calendar and caps
    wall = at.astimezone(tz)
    assert rules.window_start <= wall.time().replace(tzinfo=None) < rules.window_end
    assert wall.weekday() not in rules.rest_days
    assert not (rules.skip_public_holidays and wall.date() in holidays)
    recent = [c for c in history if c.at > at - timedelta(days=7)]
    assert len(recent) < rules.max_per_week
    assert len([c for c in recent if c.channel == channel]) < rules.cap(channel)
    # and nothing earlier would do
    if at > now:
        earlier = at - timedelta(microseconds=1)
        assert check(earlier, rules=rules, channel=channel, history=history, payer=payer)


@given(
    rules=rule_sets(),
    zone=st.sampled_from(ZONES),
    at=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
)
@settings(max_examples=400, deadline=None)
def test_no_contact_is_ever_allowed_outside_the_payers_wall_clock_window(
    rules: ContactRules, zone: str, at: datetime
) -> None:
    tz = ZoneInfo(zone)
    if check(at, rules=rules, payer=PayerCalendar(tz)) is None:
        wall = at.astimezone(tz)
        assert rules.window_start <= wall.time().replace(tzinfo=None) < rules.window_end
        assert wall.weekday() not in rules.rest_days


def _change_days(zone: str) -> list[date]:
    """Days of 2026 on which the clocks of ``zone`` change (with the day after, for midnight)."""
    tz, days = ZoneInfo(zone), []
    for n in range(365):
        day = date(2026, 1, 1) + timedelta(days=n)
        midnight = datetime.combine(day, time(), tz)
        if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
            days += [day, day + timedelta(days=1)]
    return days


CHANGE_DAYS = [(zone, day) for zone in ZONES for day in _change_days(zone)]


@given(
    change=st.sampled_from(CHANGE_DAYS),
    start=st.sampled_from(NEAR_CHANGES),
    length=st.sampled_from([15, 30, 60, 90, 120, 600]),
    phase=st.integers(0, 299),
)
@settings(max_examples=150, deadline=None)
def test_on_days_the_clocks_change_the_window_is_the_wall_clock_window(
    change: tuple[str, date], start: int, length: int, phase: int
) -> None:
    zone, day = change
    tz = ZoneInfo(zone)
    end = min(start + length, 23 * 60 + 59)
    rules = ContactRules(
        window_start=time(start // 60, start % 60),
        window_end=time(end // 60, end % 60),
        rest_days=frozenset(),
    )
    payer = PayerCalendar(tz)
    first = datetime.combine(day, time(), tz).astimezone(UTC) - timedelta(hours=2)
    for step in range(28 * 12):  # every 5 minutes for 28 hours
        at = first + timedelta(seconds=phase + 300 * step)
        wall = at.astimezone(tz)
        inside = rules.window_start <= wall.time() < rules.window_end
        allowed = check(at, rules=rules, payer=payer) is None
        repeated = wall.replace(fold=1 - wall.fold).utcoffset() != wall.utcoffset()
        assert inside or not allowed, f"allowed at {wall.isoformat()} outside the window"
        assert allowed or not inside or repeated, f"refused at {wall.isoformat()} in the window"

"""Channel choice: the cheapest channel that works, the payer's preference, fallback, and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydue.domain.channels import (
    CHEAPEST_REACHABLE,
    Attempt,
    Channel,
    ChannelSettings,
    ChannelSpec,
    Choice,
    Outcome,
    Reach,
    candidates,
    choose_channel,
    parse_channel_spec,
    unreachable_reason,
)
from paydue.domain.errors import InvalidInput

C = Channel
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
SENT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OK = Reach(address=True, consent=True)
COSTS = {C.EMAIL: 0, C.SMS: 8, C.VOICE: 40, C.LETTER: 95}
SETTINGS = ChannelSettings(COSTS)
EVERYWHERE = dict.fromkeys(C, OK)


def choose(
    spec: ChannelSpec = CHEAPEST_REACHABLE,
    *,
    reach: dict[Channel, Reach] | None = None,
    preferred: Channel | None = None,
    attempts: tuple[Attempt, ...] = (),
    blocked: dict[Channel, str] | None = None,
    settings: ChannelSettings = SETTINGS,
) -> Choice:
    return choose_channel(
        spec,
        reach=EVERYWHERE if reach is None else reach,
        settings=settings,
        now=NOW,
        preferred=preferred,
        attempts=attempts,
        blocked=blocked,
    )


def test_cheapest_reachable_orders_configured_channels_by_cost() -> None:
    assert candidates(CHEAPEST_REACHABLE, SETTINGS) == (C.EMAIL, C.SMS, C.VOICE, C.LETTER)
    assert choose() == Choice(C.EMAIL, "email: cheapest reachable")


def test_equal_costs_are_ordered_by_the_fixed_channel_order() -> None:
    settings = ChannelSettings({C.LETTER: 5, C.SMS: 5, C.EMAIL: 5})
    assert candidates(CHEAPEST_REACHABLE, settings) == (C.EMAIL, C.SMS, C.LETTER)


def test_an_explicit_list_keeps_its_order_whatever_the_cost() -> None:
    assert candidates((C.LETTER, C.EMAIL), SETTINGS) == (C.LETTER, C.EMAIL)
    assert choose((C.LETTER, C.EMAIL)) == Choice(C.LETTER, "letter: first in the step's list")


@pytest.mark.parametrize(
    ("reach", "reason"),
    [
        (None, "no address"),
        (Reach(address=False, consent=True), "no address"),
        (Reach(address=True, consent=False), "no consent"),
        (Reach(address=True, consent=True, opted_out=True), "opted out"),
        (
            Reach(address=True, consent=True, hard_bounced_on=date(2026, 11, 2)),
            "hard bounce on 2026-11-02",
        ),
        (Reach(address=True, consent=True, failures=3), "3 failed deliveries in a row"),
        (Reach(address=True, consent=True, failures=2), None),
        (OK, None),
    ],
)
def test_unreachable_reasons(reach: Reach | None, reason: str | None) -> None:
    assert unreachable_reason(reach) == reason


def test_unreachable_channels_are_skipped_and_named_in_the_explanation() -> None:
    reach = {
        C.EMAIL: Reach(address=True, consent=True, hard_bounced_on=date(2026, 10, 30)),
        C.SMS: Reach(address=True, consent=True, opted_out=True),
        C.LETTER: OK,
    }
    assert choose(reach=reach) == Choice(
        C.LETTER,
        "email hard bounce on 2026-10-30; sms opted out; voice no address → letter",
    )


def test_nothing_reachable_chooses_nothing_and_says_why() -> None:
    choice = choose((C.EMAIL, C.SMS), reach={C.EMAIL: Reach(address=True, consent=False)})
    assert choice == Choice(None, "no reachable channel: email no consent; sms no address")


def test_a_channel_the_issuer_has_not_configured_is_never_used() -> None:
    assert choose((C.PUSH, C.SMS)) == Choice(C.SMS, "push not configured → sms")
    assert C.PUSH not in candidates(CHEAPEST_REACHABLE, SETTINGS)


def test_the_payers_preference_wins_when_reachable() -> None:
    assert choose(preferred=C.SMS) == Choice(C.SMS, "sms: the payer's preference")
    assert choose((C.EMAIL, C.SMS), preferred=C.SMS).channel is C.SMS


def test_an_unreachable_preference_falls_back_to_the_usual_order() -> None:
    reach = {**EVERYWHERE, C.SMS: Reach(address=False, consent=True)}
    assert choose(reach=reach, preferred=C.SMS) == Choice(
        C.EMAIL, "sms (preferred) no address → email"
    )


def test_a_preference_outside_an_explicit_list_is_ignored() -> None:
    assert choose((C.LETTER,), preferred=C.EMAIL).channel is C.LETTER


def test_a_bounce_falls_back_to_the_next_channel() -> None:
    bounced = Attempt(C.EMAIL, SENT, Outcome.BOUNCED, SENT + timedelta(minutes=3))
    assert choose(attempts=(bounced,)) == Choice(C.SMS, "email bounced on 2026-11-02 → sms")


def test_a_failure_falls_back_to_the_next_channel() -> None:
    failed = Attempt(C.SMS, SENT, Outcome.FAILED, SENT)
    assert choose((C.SMS, C.VOICE), attempts=(failed,)) == Choice(
        C.VOICE, "sms failed on 2026-11-02 → voice"
    )


def test_a_message_not_delivered_in_time_falls_back() -> None:
    pending = Attempt(C.EMAIL, NOW - timedelta(hours=24))
    assert choose(attempts=(pending,)) == Choice(C.SMS, "email not delivered within 24h → sms")
    quick = ChannelSettings(COSTS, delivery_timeout=timedelta(minutes=90))
    recent = Attempt(C.EMAIL, NOW - timedelta(minutes=90))
    assert choose(attempts=(recent,), settings=quick).explanation == (
        "email not delivered within 90 min → sms"
    )


def test_while_a_message_may_still_be_delivered_nothing_else_is_sent() -> None:
    pending = Attempt(C.EMAIL, NOW - timedelta(hours=23))
    assert choose(attempts=(pending,)) == Choice(
        None, "waiting for delivery by email", wait_until=NOW + timedelta(hours=1)
    )


def test_a_delivered_message_ends_the_step() -> None:
    bounced = Attempt(C.EMAIL, SENT, Outcome.BOUNCED, SENT)
    delivered = Attempt(C.SMS, SENT, Outcome.DELIVERED, SENT + timedelta(seconds=5))
    assert choose(attempts=(bounced, delivered)) == Choice(None, "delivered by sms on 2026-11-02")


def test_every_channel_tried_and_failed_leaves_nothing() -> None:
    attempts = tuple(Attempt(c, SENT, Outcome.FAILED, SENT) for c in (C.EMAIL, C.SMS))
    choice = choose((C.EMAIL, C.SMS), attempts=attempts)
    assert choice.channel is None
    assert choice.explanation == (
        "no reachable channel: email failed on 2026-11-02; sms failed on 2026-11-02"
    )


def test_a_channel_blocked_by_the_caller_is_skipped_with_its_reason() -> None:
    blocked = {C.VOICE: "3 calls in 7 days"}
    assert choose((C.VOICE, C.SMS), blocked=blocked) == Choice(
        C.SMS, "voice 3 calls in 7 days → sms"
    )


def test_the_preference_does_not_override_a_bounce_in_this_step() -> None:
    bounced = Attempt(C.SMS, SENT, Outcome.BOUNCED, SENT)
    assert choose(preferred=C.SMS, attempts=(bounced,)) == Choice(
        C.EMAIL, "sms (preferred) bounced on 2026-11-02 → email"
    )


reach_strategy = st.builds(
    Reach,
    address=st.booleans(),
    consent=st.booleans(),
    opted_out=st.booleans(),
    hard_bounced_on=st.none() | st.just(date(2026, 1, 1)),
    failures=st.integers(0, 5),
)


@given(
    st.dictionaries(st.sampled_from(list(C)), reach_strategy),
    st.dictionaries(st.sampled_from(list(C)), st.integers(0, 200), min_size=1),
    st.none() | st.sampled_from(list(C)),
)
def test_the_chosen_channel_is_always_configured_reachable_and_cheapest_of_those(
    reach: dict[Channel, Reach], costs: dict[Channel, int], preferred: Channel | None
) -> None:
    settings = ChannelSettings(costs)
    choice = choose(reach=reach, preferred=preferred, settings=settings)
    usable = [c for c in costs if unreachable_reason(reach.get(c)) is None]
    if not usable:
        assert choice.channel is None
        return
    assert choice.channel is not None
    if preferred in usable:
        assert choice.channel is preferred
    else:
        assert costs[choice.channel] == min(costs[c] for c in usable)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cheapest_reachable", CHEAPEST_REACHABLE),
        (["email"], (C.EMAIL,)),
        (["letter", "sms"], (C.LETTER, C.SMS)),
    ],
)
def test_channel_specs_from_data(value: object, expected: ChannelSpec) -> None:
    assert parse_channel_spec(value) == expected


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ([], "non-empty list"),
        ("email", "non-empty list"),
        (None, "non-empty list"),
        (["email", "fax"], "unknown channel 'fax'"),
        (["email", ["sms"]], "unknown channel"),
        (["sms", "sms"], "'sms' is listed twice"),
    ],
)
def test_bad_channel_specs_are_refused_with_the_place(value: object, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint) as err:
        parse_channel_spec(value, where="steps[2].channels")
    assert err.value.message.startswith("steps[2].channels: ")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"costs": {C.SMS: -1}},
        {"costs": {C.SMS: 10**7}},
        {"costs": {C.SMS: 1.5}},
        {"costs": {C.SMS: True}},
        {"costs": {}, "delivery_timeout": timedelta(0)},
        {"costs": {}, "max_failures": 0},
    ],
)
def test_bad_channel_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ChannelSettings(**kwargs)  # type: ignore[arg-type]

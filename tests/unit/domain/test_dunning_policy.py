"""Collections policies: steps, catch-up, the next look, stop and pause rules, bundling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydue.domain.channels import CHEAPEST_REACHABLE, Channel
from paydue.domain.dunning import (
    DEFAULT_POLICY,
    DueInvoice,
    FollowUp,
    Hold,
    Pause,
    Policy,
    Step,
    StepSpec,
    StopReason,
    build_policy,
    bundle,
    due_step,
    hold,
    next_action_at,
    policy_from_data,
    policy_to_data,
)
from paydue.domain.errors import InvalidInput
from paydue.domain.invoices import InvoiceStatus
from paydue.domain.money import Money

DUE = date(2026, 12, 1)
BERLIN = ZoneInfo("Europe/Berlin")
S = InvoiceStatus


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


def offset_of(step: Step | None) -> int | None:
    return None if step is None else step.offset_days


# --- policies ---------------------------------------------------------------------------------


def test_the_default_policy_runs_from_five_days_before_to_a_final_notice() -> None:
    offsets = [s.offset_days for s in DEFAULT_POLICY.steps]
    assert offsets == [-5, 0, 3, 7, 14, 21, 28, 35, 42, 49, 56, 60]
    assert DEFAULT_POLICY.steps[-1].template == "final_notice"
    assert DEFAULT_POLICY.steps[-1].channels == (Channel.LETTER, Channel.EMAIL)
    assert DEFAULT_POLICY.bundle


def test_a_repeat_is_expanded_into_steps_that_share_its_settings() -> None:
    fee = Money(500, "EUR")
    policy = build_policy(
        "weekly", [StepSpec(10, "nudge", (Channel.SMS,), fee, every_days=10, until_days=45)]
    )
    assert policy.steps == tuple(Step(o, "nudge", (Channel.SMS,), fee) for o in (10, 20, 30, 40))


def test_steps_are_ordered_by_offset_whatever_order_they_are_written_in() -> None:
    policy = build_policy("p", [StepSpec(7, "b"), StepSpec(-3, "a"), StepSpec(30, "c")])
    assert [s.offset_days for s in policy.steps] == [-3, 7, 30]


@pytest.mark.parametrize(
    ("specs", "complaint"),
    [
        ([], "steps: a policy needs at least one step"),
        ([StepSpec(-91, "t")], r"steps\[0\].offset_days: days from -90 to 730"),
        ([StepSpec(731, "t")], r"steps\[0\].offset_days"),
        ([StepSpec(True, "t")], r"steps\[0\].offset_days"),  # type: ignore[arg-type]
        ([StepSpec(0, "t"), StepSpec(0, "u")], r"steps\[1\]: day \+0 is already a step"),
        (
            [StepSpec(14, "r", every_days=7, until_days=60), StepSpec(28, "x")],
            r"steps\[1\]: day \+28 is already a step \(steps\[0\]\)",
        ),
        ([StepSpec(0, "Due Today")], r"steps\[0\].template"),
        ([StepSpec(0, "")], r"steps\[0\].template"),
        ([StepSpec(0, "t", ())], r"steps\[0\].channels: give a non-empty list"),
        ([StepSpec(0, "t", ("fax",))], "unknown channel 'fax'"),  # type: ignore[arg-type]
        ([StepSpec(0, "t", every_days=7)], "needs both every_days and until_days"),
        ([StepSpec(0, "t", every_days=0, until_days=7)], r"steps\[0\].every_days"),
        ([StepSpec(7, "t", every_days=7, until_days=7)], "until_days: must be after offset_days"),
        ([StepSpec(0, "t", every_days=1, until_days=200)], "at most 100 steps"),
        ([StepSpec(0, "t", fee=Money(500, "EUR"))], "a fee can only be charged after the due"),
        ([StepSpec(3, "t", fee=Money(0, "EUR"))], "a fee is a positive amount"),
    ],
)
def test_invalid_policies_are_refused_with_the_place(specs: list[StepSpec], complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        build_policy("p", specs)


def test_a_policy_needs_a_name() -> None:
    with pytest.raises(InvalidInput, match="name"):
        build_policy("  ", [StepSpec(0, "t")])


def test_a_policy_survives_its_json_shape() -> None:
    data = policy_to_data(DEFAULT_POLICY)
    assert data["steps"][4] == {
        "offset_days": 14,
        "template": "overdue_repeat",
        "channels": "cheapest_reachable",
        "every_days": 7,
        "until_days": 56,
    }
    assert policy_from_data(data) == DEFAULT_POLICY


def test_a_fee_in_data_is_minor_units_and_a_currency() -> None:
    policy = policy_from_data(
        {
            "name": "fees",
            "bundle": False,
            "steps": [
                {"offset_days": 14, "template": "t", "fee": {"amount": 500, "currency": "EUR"}}
            ],
        }
    )
    assert policy.steps == (Step(14, "t", CHEAPEST_REACHABLE, Money(500, "EUR")),)
    assert not policy.bundle


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"name": "p"}, "steps: a list of steps"),
        ({"name": "p", "steps": ["x"]}, r"steps\[0\]: a step is an object"),
        ({"name": "p", "steps": [{"template": "t"}]}, "offset_days and template are required"),
        ({"name": "p", "steps": [{"offset_days": "3", "template": "t"}]}, "offset_days"),
        ({"name": "p", "steps": [{"offset_days": 3, "template": "t", "x": 1}]}, "unknown field"),
        ({"steps": [{"offset_days": 3, "template": "t"}]}, "name"),
        ({"name": "p", "bundle": "yes", "steps": [{"offset_days": 3, "template": "t"}]}, "bundle"),
        (
            {"name": "p", "steps": [{"offset_days": 3, "template": "t", "fee": 5}]},
            r"steps\[0\].fee",
        ),
        (
            {
                "name": "p",
                "steps": [
                    {"offset_days": 3, "template": "t", "fee": {"amount": 5.5, "currency": "EUR"}}
                ],
            },
            r"steps\[0\].fee: amounts are integers",
        ),
        (
            {
                "name": "p",
                "steps": [
                    {"offset_days": 3, "template": "t", "fee": {"amount": 5, "currency": "XYZ"}}
                ],
            },
            r"steps\[0\].fee: 'XYZ' is not an ISO 4217",
        ),
    ],
)
def test_invalid_policy_data_is_refused_with_the_place(
    data: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        policy_from_data(data)


spec_strategy = st.builds(
    StepSpec,
    offset_days=st.integers(-90, 400),
    template=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    channels=st.just(CHEAPEST_REACHABLE)
    | st.lists(st.sampled_from(list(Channel)), min_size=1, max_size=3, unique=True).map(tuple),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    offsets = draw(st.lists(st.integers(-30, 120), min_size=1, max_size=12, unique=True))
    specs = [StepSpec(o, f"t{i}") for i, o in enumerate(offsets)]
    return build_policy("p", specs, bundle=draw(st.booleans()))


@given(st.lists(spec_strategy, min_size=1, max_size=5, unique_by=lambda s: s.offset_days))
def test_any_valid_policy_survives_its_json_shape(specs: list[StepSpec]) -> None:
    policy = build_policy("p", specs)
    assert policy_from_data(policy_to_data(policy)) == policy


# --- which step is due ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "sent", "expected"),
    [
        (day(-6), set(), None),  # before the first step
        (day(-5), set(), -5),
        (day(-4), {-5}, None),  # sent; nothing new yet
        (day(-2), set(), -5),  # late but still before the due date
        (day(0), {-5}, 0),
        (day(1), {-5, 0}, None),
        (day(3), {-5, 0}, 3),
        (day(20), {-5, 0, 3, 7, 14}, None),
        (day(21), {-5, 0, 3, 7, 14}, 21),
        (day(60), {-5, 0, 3, 7, 14, 21, 28, 35, 42, 49, 56}, 60),
        (day(400), {60}, None),  # the policy is done
    ],
)
def test_the_step_due_on_a_day(today: date, sent: set[int], expected: int | None) -> None:
    assert offset_of(due_step(DEFAULT_POLICY, DUE, today, sent)) == expected


def test_after_an_outage_only_the_latest_step_is_sent() -> None:
    # the scheduler was down from day +2 to day +9: +3 and +7 were missed
    assert offset_of(due_step(DEFAULT_POLICY, DUE, day(9), {-5, 0})) == 7
    assert due_step(DEFAULT_POLICY, DUE, day(10), {-5, 0, 7}) is None


def test_a_reminder_before_the_due_date_is_not_sent_once_the_invoice_is_overdue() -> None:
    sparse = build_policy("sparse", [StepSpec(-5, "upcoming"), StepSpec(10, "late")])
    assert offset_of(due_step(sparse, DUE, day(0), set())) == -5  # still not overdue
    assert due_step(sparse, DUE, day(1), set()) is None
    assert offset_of(due_step(sparse, DUE, day(10), set())) == 10


def test_the_due_date_reminder_is_not_sent_after_the_due_date() -> None:
    assert due_step(DEFAULT_POLICY, DUE, day(1), {-5}) is None
    assert offset_of(due_step(DEFAULT_POLICY, DUE, day(3), {-5})) == 3


def test_a_step_already_sent_or_an_earlier_one_is_never_sent_again() -> None:
    assert due_step(DEFAULT_POLICY, DUE, day(7), {7}) is None
    assert due_step(DEFAULT_POLICY, DUE, day(7), {14}) is None  # the due date moved back


@given(
    policies(),
    st.integers(-40, 150),
    st.frozensets(st.integers(-30, 120), max_size=6),
)
def test_a_due_step_is_always_the_latest_reached_never_sent_and_never_stale(
    policy: Policy, days: int, sent: frozenset[int]
) -> None:
    step = due_step(policy, DUE, day(days), sent)
    if step is None:
        return
    assert step.offset_days <= days
    assert not any(s.offset_days <= days for s in policy.steps if s.offset_days > step.offset_days)
    assert step.offset_days not in sent
    assert all(step.offset_days > s for s in sent)
    assert step.offset_days > 0 or days <= 0


# --- when to look again -----------------------------------------------------------------------


def at_noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, tzinfo=BERLIN).astimezone(UTC)


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "sent", "expected"),
    [
        (at_noon(day(-10)), set(), midnight(day(-5))),
        (at_noon(day(-5)), set(), at_noon(day(-5))),  # due now
        (at_noon(day(-5)), {-5}, midnight(day(0))),
        (at_noon(day(1)), {-5, 0}, midnight(day(3))),
        (at_noon(day(9)), {-5, 0}, at_noon(day(9))),  # catch-up: +7 is due now
        (at_noon(day(57)), {56}, midnight(day(60))),
        (at_noon(day(60)), {60}, None),  # done
    ],
)
def test_the_next_look_is_now_or_the_start_of_the_next_step_day(
    now: datetime, sent: set[int], expected: datetime | None
) -> None:
    assert next_action_at(DEFAULT_POLICY, DUE, sent=sent, now=now, tz=BERLIN) == expected


def test_the_next_look_starts_the_issuers_day_across_a_dst_change() -> None:
    due = date(2026, 3, 26)  # +3 is Sunday 29 March, the day Berlin moves to summer time
    now = at_noon(date(2026, 3, 27))
    assert next_action_at(DEFAULT_POLICY, due, sent={-5, 0}, now=now, tz=BERLIN) == datetime(
        2026, 3, 28, 23, 0, tzinfo=UTC
    )
    assert next_action_at(DEFAULT_POLICY, due, sent={-5, 0, 3}, now=now, tz=BERLIN) == datetime(
        2026, 4, 1, 22, 0, tzinfo=UTC
    )


def test_a_hold_with_an_end_moves_the_next_look_past_it() -> None:
    promise = Hold(StopReason.PROMISE_TO_PAY, resume_on=day(10))
    now = at_noon(day(3))
    assert next_action_at(DEFAULT_POLICY, DUE, sent={-5, 0}, now=now, tz=BERLIN, hold=promise) == (
        midnight(day(10))
    )
    # on day 10 the latest reached step is +7: sent then (catch-up), not +3
    assert offset_of(due_step(DEFAULT_POLICY, DUE, day(10), {-5, 0})) == 7


def test_an_open_ended_hold_has_no_next_look() -> None:
    paid = Hold(StopReason.PAID)
    assert (
        next_action_at(DEFAULT_POLICY, DUE, sent=set(), now=at_noon(DUE), tz=BERLIN, hold=paid)
        is None
    )


@given(
    policies(),
    st.integers(-40, 150),
    st.frozensets(st.integers(-30, 120), max_size=6),
    st.none() | st.integers(-40, 160),
)
@settings(max_examples=200)
def test_the_next_look_is_the_first_day_a_step_is_due(
    policy: Policy, days: int, sent: frozenset[int], resume: int | None
) -> None:
    now = at_noon(day(days))
    paused = None if resume is None else Hold(StopReason.INVOICE_PAUSED, day(resume))
    found = next_action_at(policy, DUE, sent=sent, now=now, tz=BERLIN, hold=paused)
    first = days if resume is None else max(days, resume)
    due_days = [d for d in range(first, 200) if due_step(policy, DUE, day(d), sent) is not None]
    if not due_days:
        assert found is None
    elif due_days[0] == days:
        assert found == now
    else:
        assert found == midnight(day(due_days[0]))


# --- stop and pause rules ---------------------------------------------------------------------

TODAY = day(5)
ALL = frozenset({Channel.EMAIL, Channel.SMS})


def held(state: FollowUp, configured: frozenset[Channel] = ALL) -> Hold | None:
    return hold(state, TODAY, configured=configured)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (FollowUp(S.OPEN), None),
        (FollowUp(S.PARTIALLY_PAID), None),
        (FollowUp(S.PAID), Hold(StopReason.PAID)),
        (FollowUp(S.OVERPAID), Hold(StopReason.PAID)),
        (FollowUp(S.CANCELLED), Hold(StopReason.CANCELLED)),
        (FollowUp(S.OPEN, disputed=True), Hold(StopReason.DISPUTED)),
        (FollowUp(S.OPEN, invoice_pause=Pause()), Hold(StopReason.INVOICE_PAUSED)),
        (
            FollowUp(S.OPEN, invoice_pause=Pause(TODAY)),
            Hold(StopReason.INVOICE_PAUSED, TODAY + timedelta(days=1)),
        ),
        (FollowUp(S.OPEN, invoice_pause=Pause(TODAY - timedelta(days=1))), None),  # over
        (FollowUp(S.OPEN, payer_pause=Pause()), Hold(StopReason.PAYER_PAUSED)),
        (
            FollowUp(S.OPEN, payment_plan_until=day(90)),
            Hold(StopReason.PAYMENT_PLAN, day(91)),
        ),
        (
            FollowUp(S.OPEN, promise_to_pay_on=day(8)),
            Hold(StopReason.PROMISE_TO_PAY, day(9)),
        ),
        (FollowUp(S.OPEN, promise_to_pay_on=day(4)), None),  # broken promise: remind again
        (FollowUp(S.OPEN, opted_out=frozenset({Channel.EMAIL})), None),
        (FollowUp(S.OPEN, opted_out=ALL), Hold(StopReason.OPTED_OUT)),
    ],
)
def test_stop_and_pause_rules(state: FollowUp, expected: Hold | None) -> None:
    assert held(state) == expected


def test_cancelled_and_paid_win_over_everything_else() -> None:
    everything = FollowUp(
        S.CANCELLED, disputed=True, invoice_pause=Pause(), promise_to_pay_on=day(8), opted_out=ALL
    )
    assert held(everything) == Hold(StopReason.CANCELLED)


def test_an_open_ended_hold_wins_over_one_that_ends() -> None:
    state = FollowUp(S.OPEN, promise_to_pay_on=day(8), payer_pause=Pause())
    assert held(state) == Hold(StopReason.PAYER_PAUSED)


def test_of_holds_that_end_the_longest_counts() -> None:
    state = FollowUp(S.OPEN, promise_to_pay_on=day(30), invoice_pause=Pause(day(9)))
    assert held(state) == Hold(StopReason.PROMISE_TO_PAY, day(31))


def test_opting_out_counts_against_the_channels_the_issuer_has() -> None:
    state = FollowUp(S.OPEN, opted_out=frozenset({Channel.EMAIL}))
    assert held(state, configured=frozenset({Channel.EMAIL})) == Hold(StopReason.OPTED_OUT)
    assert held(state, configured=frozenset()) is None


# --- bundling ---------------------------------------------------------------------------------

STEP_3, STEP_14 = DEFAULT_POLICY.steps[2], DEFAULT_POLICY.steps[4]


def due(invoice: str, payer: str, amount: int, step: Step, currency: str = "EUR") -> DueInvoice:
    return DueInvoice(
        invoice, payer, DUE - timedelta(days=step.offset_days), Money(amount, currency), step
    )


def test_one_reminder_per_payer_and_currency() -> None:
    invoices = [
        due("inv_b", "pay_1", 1000, STEP_3),
        due("inv_a", "pay_1", 2500, STEP_14),
        due("inv_c", "pay_1", 700, STEP_3, "CHF"),
        due("inv_d", "pay_2", 400, STEP_3),
    ]
    reminders = bundle(invoices)
    assert [(r.payer_id, r.total, [i.invoice_id for i in r.invoices]) for r in reminders] == [
        ("pay_1", Money(700, "CHF"), ["inv_c"]),
        ("pay_1", Money(3500, "EUR"), ["inv_a", "inv_b"]),  # oldest due date first
        ("pay_2", Money(400, "EUR"), ["inv_d"]),
    ]


def test_a_bundle_uses_its_most_advanced_step() -> None:
    # two invoices due the same day on different policies, the later step on the later id
    first = DueInvoice("inv_1", "pay_1", DUE, Money(100, "EUR"), STEP_3)
    second = DueInvoice("inv_2", "pay_1", DUE, Money(100, "EUR"), STEP_14)
    for invoices in ([first, second], [second, first]):
        [reminder] = bundle(invoices)
        assert reminder.step == STEP_14
        assert reminder.invoices == (first, second)


def test_without_bundling_every_invoice_is_its_own_reminder() -> None:
    invoices = [due("inv_2", "pay_1", 100, STEP_3), due("inv_1", "pay_1", 200, STEP_3)]
    reminders = bundle(invoices, enabled=False)
    assert [(r.invoices[0].invoice_id, r.total) for r in reminders] == [
        ("inv_1", Money(200, "EUR")),
        ("inv_2", Money(100, "EUR")),
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3"]),
            st.sampled_from(["EUR", "CHF"]),
            st.integers(1, 10**6),
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_bundling_neither_loses_nor_duplicates_an_invoice_or_a_cent(
    rows: list[tuple[str, str, int]], enabled: bool
) -> None:
    invoices = [due(f"inv_{i}", p, a, STEP_3, c) for i, (p, c, a) in enumerate(rows)]
    reminders = bundle(invoices, enabled=enabled)
    assert sorted(i.invoice_id for r in reminders for i in r.invoices) == sorted(
        i.invoice_id for i in invoices
    )
    for r in reminders:
        assert {i.payer_id for i in r.invoices} == {r.payer_id}
        assert {i.amount_due.currency for i in r.invoices} == {r.total.currency}
        assert r.total.amount == sum(i.amount_due.amount for i in r.invoices)
    keys = [(r.payer_id, r.total.currency) for r in reminders]
    assert (len(set(keys)) == len(keys)) if enabled else len(reminders) == len(invoices)

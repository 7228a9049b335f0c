"""Collections policies: which reminder an unpaid invoice is due for, and when to look again.

A policy is a list of steps at day offsets from the due date (``-5`` is five days before it,
``0`` the due date, ``+3`` three days after), each with its channels, template key and an
optional fee. A repeat (``every_days`` up to ``until_days``) is data too and is expanded into
concrete steps, so everything below works on plain steps; a step is identified within its policy
by its offset, and the scheduler records each ``(invoice, offset)`` it sends once.

Days are dates in the issuer's timezone (due dates are); the payer's contact window is a separate
rule (``domain.contact``) applied to whatever is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from paydue.domain.channels import CHEAPEST_REACHABLE, Channel, ChannelSpec, parse_channel_spec
from paydue.domain.errors import InvalidInput
from paydue.domain.invoices import InvoiceStatus
from paydue.domain.money import Money, MoneyError

MIN_OFFSET = -90
MAX_OFFSET = 730
MAX_STEPS = 100
TEMPLATE_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Step:
    """One reminder of a policy."""

    offset_days: int
    template: str
    channels: ChannelSpec = CHEAPEST_REACHABLE
    fee: Money | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A step as an issuer writes it: with ``every_days`` it repeats from ``offset_days`` while
    the offset is at most ``until_days``."""

    offset_days: int
    template: str
    channels: ChannelSpec = CHEAPEST_REACHABLE
    fee: Money | None = None
    every_days: int | None = None
    until_days: int | None = None

    def expand(self) -> list[Step]:
        step = Step(self.offset_days, self.template, self.channels, self.fee)
        if self.every_days is None or self.until_days is None:
            return [step]
        offsets = range(self.offset_days, self.until_days + 1, self.every_days)
        return [Step(o, self.template, self.channels, self.fee) for o in offsets]


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy: ``specs`` as written, ``steps`` expanded and ordered by offset.
    With ``bundle`` a payer's due invoices of one currency go out as one reminder."""

    name: str
    specs: tuple[StepSpec, ...]
    steps: tuple[Step, ...]
    bundle: bool = True


def build_policy(name: str, specs: Sequence[StepSpec], *, bundle: bool = True) -> Policy:
    """Validate a policy and expand its repeats; ``InvalidInput`` names the offending step."""
    if not name.strip():
        raise _invalid("name", "a policy needs a name")
    if not specs:
        raise _invalid("steps", "a policy needs at least one step")
    taken: dict[int, int] = {}
    steps: list[Step] = []
    for i, spec in enumerate(specs):
        _check_spec(spec, f"steps[{i}]")
        for step in spec.expand():
            if step.offset_days in taken:
                other = taken[step.offset_days]
                raise _invalid(
                    f"steps[{i}]", f"day {step.offset_days:+d} is already a step (steps[{other}])"
                )
            taken[step.offset_days] = i
            steps.append(step)
    if len(steps) > MAX_STEPS:
        raise _invalid("steps", f"a policy has at most {MAX_STEPS} steps once repeats are expanded")
    steps.sort(key=lambda s: s.offset_days)
    return Policy(name.strip(), tuple(specs), tuple(steps), bundle)


def _check_spec(spec: StepSpec, where: str) -> None:
    for name, value in (("offset_days", spec.offset_days), ("until_days", spec.until_days)):
        if (value is not None or name == "offset_days") and not _int_between(
            value, MIN_OFFSET, MAX_OFFSET
        ):
            raise _invalid(f"{where}.{name}", f"days from {MIN_OFFSET} to {MAX_OFFSET}")
    if not isinstance(spec.template, str) or not TEMPLATE_KEY.fullmatch(spec.template):
        raise _invalid(
            f"{where}.template", "a template key of lower-case letters, digits, '_', '.' or '-'"
        )
    parse_channel_spec(spec.channels, where=f"{where}.channels")
    if (spec.every_days is None) != (spec.until_days is None):
        raise _invalid(where, "a repeat needs both every_days and until_days")
    if spec.every_days is not None and spec.until_days is not None:
        if not _int_between(spec.every_days, 1, MAX_OFFSET):
            raise _invalid(f"{where}.every_days", "a whole number of days, at least 1")
        if spec.until_days <= spec.offset_days:
            raise _invalid(f"{where}.until_days", "must be after offset_days")
    if spec.fee is not None:
        if spec.fee.amount <= 0:
            raise _invalid(f"{where}.fee", "a fee is a positive amount")
        if spec.offset_days <= 0:
            raise _invalid(f"{where}.fee", "a fee can only be charged after the due date")


def _int_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _invalid(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}", details={"where": where})


def policy_from_data(data: Mapping[str, Any]) -> Policy:
    """A policy from its JSON shape (``policy_to_data``): name, bundle, steps with
    offset_days, template, channels, optional fee ``{"amount", "currency"}``, every_days and
    until_days."""
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        raise _invalid("steps", "a list of steps")
    specs = []
    for i, raw in enumerate(raw_steps):
        where = f"steps[{i}]"
        if not isinstance(raw, Mapping):
            raise _invalid(where, "a step is an object")
        unknown = set(raw) - set(StepSpec.__dataclass_fields__)
        if unknown:
            raise _invalid(where, f"unknown field(s) {', '.join(sorted(unknown))}")
        if "offset_days" not in raw or "template" not in raw:
            raise _invalid(where, "offset_days and template are required")
        specs.append(
            StepSpec(
                offset_days=raw["offset_days"],  # types are checked by build_policy
                template=raw["template"],
                channels=parse_channel_spec(
                    raw.get("channels", CHEAPEST_REACHABLE), where=f"{where}.channels"
                ),
                fee=_fee_from_data(raw.get("fee"), f"{where}.fee"),
                every_days=raw.get("every_days"),
                until_days=raw.get("until_days"),
            )
        )
    name, bundle = data.get("name"), data.get("bundle", True)
    if not isinstance(name, str):
        raise _invalid("name", "a policy needs a name")
    if not isinstance(bundle, bool):
        raise _invalid("bundle", "true or false")
    return build_policy(name, specs, bundle=bundle)


def _fee_from_data(raw: object, where: str) -> Money | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"amount", "currency"}:
        raise _invalid(where, 'a fee is {"amount": minor units, "currency": "EUR"}')
    try:
        return Money(raw["amount"], raw["currency"])
    except MoneyError as err:
        raise _invalid(where, str(err)) from None


def policy_to_data(policy: Policy) -> dict[str, Any]:
    """The JSON shape of a policy, as written (repeats not expanded)."""
    steps: list[dict[str, Any]] = []
    for spec in policy.specs:
        step: dict[str, Any] = {
            "offset_days": spec.offset_days,
            "template": spec.template,
            "channels": spec.channels if isinstance(spec.channels, str) else list(spec.channels),
        }
        if spec.fee is not None:
            step["fee"] = {"amount": spec.fee.amount, "currency": spec.fee.currency}
        if spec.every_days is not None:
            step |= {"every_days": spec.every_days, "until_days": spec.until_days}
        steps.append(step)
    return {"name": policy.name, "bundle": policy.bundle, "steps": steps}


DEFAULT_POLICY = build_policy(
    "default",
    [
        StepSpec(-5, "upcoming", (Channel.EMAIL, Channel.PUSH)),
        StepSpec(0, "due_today"),
        StepSpec(3, "overdue_first"),
        StepSpec(7, "overdue_second"),
        StepSpec(14, "overdue_repeat", every_days=7, until_days=56),
        StepSpec(60, "final_notice", (Channel.LETTER, Channel.EMAIL)),
    ],
)
"""Shipped with the product: a friendly note five days ahead on cheap channels, then the due
date, +3 and +7 on the cheapest reachable channel, weekly from +14 to +56, and a final notice
by letter at +60. No fees: those depend on the issuer's currency and law."""


def due_step(policy: Policy, due_date: date, today: date, sent: AbstractSet[int]) -> Step | None:
    """The step to send for an invoice today, or None.

    Only the latest step reached is ever sent, so after downtime there is no burst of stale
    reminders; a reminder of the due date or before it is not sent once the invoice is overdue;
    a step in ``sent`` (offsets already sent for this invoice) is never sent again, and the
    cadence never goes back to a step before the last one sent (when the due date changes, the
    caller starts a new cycle with an empty ``sent``).
    """
    days = (today - due_date).days
    reached = [s for s in policy.steps if s.offset_days <= days]
    if not reached:
        return None
    latest = reached[-1]
    if sent and latest.offset_days <= max(sent):
        return None
    if latest.offset_days <= 0 < days:
        return None
    return latest


def next_action_at(
    policy: Policy,
    due_date: date,
    *,
    sent: AbstractSet[int],
    now: datetime,
    tz: ZoneInfo,
    hold: Hold | None = None,
) -> datetime | None:
    """When the invoice next needs looking at (UTC), for the sweep's index: ``now`` when a step is
    due today, else the start (in the issuer's timezone ``tz``) of the first day a step falls
    due, not before a hold ends; None when nothing will fall due without a change (policy done,
    or an open-ended hold such as paid, cancelled or disputed)."""
    today = now.astimezone(tz).date()
    first = today
    if hold is not None:
        if hold.resume_on is None:
            return None
        first = max(today, hold.resume_on)
    step_days = (due_date + timedelta(days=s.offset_days) for s in policy.steps)
    for day in [first, *sorted(d for d in step_days if d > first)]:
        if due_step(policy, due_date, day, sent) is not None:
            return now if day == today else _start_of(day, tz)
    return None


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    PAID = "paid"
    DISPUTED = "disputed"
    INVOICE_PAUSED = "invoice_paused"
    PAYER_PAUSED = "payer_paused"
    PAYMENT_PLAN = "payment_plan"
    PROMISE_TO_PAY = "promise_to_pay"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True, slots=True)
class Hold:
    """Why no reminder goes out, and the first day one may again (None: not by itself; a change
    such as a resolved dispute or a lifted pause makes the caller look again)."""

    reason: StopReason
    resume_on: date | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """Paused by the issuer through ``until`` (included), or until lifted when None."""

    until: date | None = None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What the stop and pause rules look at for one invoice and its payer. The plan and promise
    dates are included: reminders resume the day after."""

    status: InvoiceStatus
    disputed: bool = False
    invoice_pause: Pause | None = None
    payer_pause: Pause | None = None
    payment_plan_until: date | None = None
    promise_to_pay_on: date | None = None
    opted_out: AbstractSet[Channel] = field(default_factory=frozenset)


def hold(state: FollowUp, today: date, *, configured: AbstractSet[Channel]) -> Hold | None:
    """Why the invoice gets no reminder today, or None.

    An open-ended reason wins (the first of: cancelled, paid, disputed, paused without end, opted
    out of every channel the issuer has configured); otherwise the hold that lasts longest.
    """
    found = [h for h in _holds(state, today, configured) if h is not None]
    open_ended = [h for h in found if h.resume_on is None]
    if open_ended:
        return open_ended[0]
    return max(found, key=lambda h: h.resume_on or today, default=None)


def _holds(state: FollowUp, today: date, configured: AbstractSet[Channel]) -> Iterable[Hold | None]:
    if state.status is InvoiceStatus.CANCELLED:
        yield Hold(StopReason.CANCELLED)
    if state.status in (InvoiceStatus.PAID, InvoiceStatus.OVERPAID):
        yield Hold(StopReason.PAID)
    if state.disputed:
        yield Hold(StopReason.DISPUTED)
    yield _pause_hold(state.invoice_pause, today, StopReason.INVOICE_PAUSED)
    yield _pause_hold(state.payer_pause, today, StopReason.PAYER_PAUSED)
    yield _until_hold(state.payment_plan_until, today, StopReason.PAYMENT_PLAN)
    yield _until_hold(state.promise_to_pay_on, today, StopReason.PROMISE_TO_PAY)
    if configured and configured <= state.opted_out:
        yield Hold(StopReason.OPTED_OUT)


def _pause_hold(pause: Pause | None, today: date, reason: StopReason) -> Hold | None:
    if pause is None:
        return None
    if pause.until is None:
        return Hold(reason)
    return _until_hold(pause.until, today, reason)


def _until_hold(until: date | None, today: date, reason: StopReason) -> Hold | None:
    if until is None or until < today:
        return None
    return Hold(reason, until + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class DueInvoice:
    """An invoice with the step it is due for today."""

    invoice_id: str
    payer_id: str
    due_date: date
    amount_due: Money
    step: Step


@dataclass(frozen=True, slots=True)
class Reminder:
    """One message to a payer: its invoices (oldest due date first), their total, and the step
    whose template and channels it uses, the most advanced one among them."""

    payer_id: str
    invoices: tuple[DueInvoice, ...]
    step: Step
    total: Money


def bundle(due: Iterable[DueInvoice], *, enabled: bool = True) -> list[Reminder]:
    """Group due invoices into reminders: with ``enabled`` one per payer and currency, otherwise
    one per invoice. The order is stable: by payer, currency, then due date and invoice id."""
    ordered = sorted(
        due, key=lambda d: (d.payer_id, d.amount_due.currency, d.due_date, d.invoice_id)
    )
    if not enabled:
        return [_reminder([d]) for d in ordered]
    groups = groupby(ordered, key=lambda d: (d.payer_id, d.amount_due.currency))
    return [_reminder(list(group)) for _, group in groups]


def _reminder(invoices: list[DueInvoice]) -> Reminder:
    total = invoices[0].amount_due
    for invoice in invoices[1:]:
        total += invoice.amount_due
    step = max((d.step for d in invoices), key=lambda s: s.offset_days)
    return Reminder(invoices[0].payer_id, tuple(invoices), step, total)

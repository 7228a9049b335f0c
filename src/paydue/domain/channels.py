"""Channel choice: which channel a message goes out on, and why.

``choose_channel`` is pure: it is given what is known about the payer (per channel: address,
consent, opt-out, bounces, failures), the issuer's channel settings (which channels are
configured and what a message costs on each) and the messages already sent for this step, and
returns the channel together with an explanation that is stored on the message, such as
``"email bounced on 2026-11-02 → sms"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from paydue.domain.errors import InvalidInput


class Channel(StrEnum):
    """Declaration order breaks ties between channels of equal cost."""

    EMAIL = "email"
    PUSH = "push"
    WEBHOOK = "webhook"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    VOICE = "voice"
    LETTER = "letter"


CHANNEL_NAMES: frozenset[str] = frozenset(c.value for c in Channel)
CHEAPEST_REACHABLE: Final = "cheapest_reachable"
ChannelSpec = tuple[Channel, ...] | Literal["cheapest_reachable"]
"""A step's channels: an explicit list in order of preference, or the cheapest reachable one."""

DELIVERY_TIMEOUT = timedelta(hours=24)
MAX_FAILURES = 3  # failed deliveries in a row after which a channel counts as unreachable
MAX_COST = 10**6  # minor units per message; a sanity bound, not a business rule


def parse_channel_spec(value: object, *, where: str = "channels") -> ChannelSpec:
    """A channel spec from data (``"cheapest_reachable"`` or a list of channel names)."""
    if value == CHEAPEST_REACHABLE:
        return CHEAPEST_REACHABLE
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise InvalidInput(
            f"{where}: give a non-empty list of channels or {CHEAPEST_REACHABLE!r}",
            details={"where": where},
        )
    channels: list[Channel] = []
    for item in value:
        if not isinstance(item, str) or item not in CHANNEL_NAMES:
            known = ", ".join(c.value for c in Channel)
            raise InvalidInput(
                f"{where}: unknown channel {item!r} (known: {known})", details={"where": where}
            )
        if item in channels:
            raise InvalidInput(f"{where}: {item!r} is listed twice", details={"where": where})
        channels.append(Channel(item))
    return tuple(channels)


@dataclass(frozen=True, slots=True)
class Reach:
    """What is known about reaching one payer on one channel."""

    address: bool
    consent: bool
    opted_out: bool = False
    hard_bounced_on: date | None = None
    failures: int = 0  # failed deliveries in a row, reset by a delivery


def unreachable_reason(reach: Reach | None, *, max_failures: int = MAX_FAILURES) -> str | None:
    """Why the payer cannot be reached on a channel, or None when they can."""
    if reach is None or not reach.address:
        return "no address"
    if not reach.consent:
        return "no consent"
    if reach.opted_out:
        return "opted out"
    if reach.hard_bounced_on is not None:
        return f"hard bounce on {reach.hard_bounced_on.isoformat()}"
    if reach.failures >= max_failures:
        return f"{reach.failures} failed deliveries in a row"
    return None


class Outcome(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attempt:
    """A message of the current step already handed to a channel, and what became of it."""

    channel: Channel
    sent_at: datetime
    outcome: Outcome = Outcome.PENDING
    outcome_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """An issuer's channels: the cost of one message on each configured channel (minor units of
    the issuer's currency; a channel that is absent is not configured), how long to wait for a
    delivery report before trying the next channel, and after how many failures in a row a
    channel is given up for a payer."""

    costs: Mapping[Channel, int]
    delivery_timeout: timedelta = DELIVERY_TIMEOUT
    max_failures: int = MAX_FAILURES

    def __post_init__(self) -> None:
        for channel, cost in self.costs.items():
            if isinstance(cost, bool) or not isinstance(cost, int) or not 0 <= cost <= MAX_COST:
                raise InvalidInput(
                    f"costs.{channel}: a whole number of minor units from 0 to {MAX_COST}"
                )
        if self.delivery_timeout <= timedelta(0):
            raise InvalidInput("delivery_timeout must be positive")
        if self.max_failures < 1:
            raise InvalidInput("max_failures must be at least 1")


@dataclass(frozen=True, slots=True)
class Choice:
    """The channel to send on (None: nothing to send now), why, and, while an earlier message of
    the step may still be delivered, when to look again."""

    channel: Channel | None
    explanation: str
    wait_until: datetime | None = None


def candidates(spec: ChannelSpec, settings: ChannelSettings) -> tuple[Channel, ...]:
    """The channels of a step in the order they are tried, before the payer is considered."""
    if spec == CHEAPEST_REACHABLE:
        order = list(Channel)
        return tuple(sorted(settings.costs, key=lambda c: (settings.costs[c], order.index(c))))
    return spec


def choose_channel(
    spec: ChannelSpec,
    *,
    reach: Mapping[Channel, Reach],
    settings: ChannelSettings,
    now: datetime,
    preferred: Channel | None = None,
    attempts: Sequence[Attempt] = (),
    blocked: Mapping[Channel, str] | None = None,
) -> Choice:
    """Choose the channel for the next message of a step.

    Order: the step's list, or for ``cheapest_reachable`` every configured channel by cost; the
    payer's ``preferred`` channel goes first when it is among them. A channel is skipped when it
    is not configured, the payer cannot be reached on it (``unreachable_reason``), a message of
    this step already went out on it and bounced, failed or was not delivered within the
    timeout, or the caller ``blocked`` it (for instance a per-channel contact cap). While a
    message of the step may still be delivered nothing new is sent; once one was delivered, the
    step is done.
    """
    for attempt in attempts:
        if attempt.outcome is Outcome.DELIVERED:
            when = attempt.outcome_at or attempt.sent_at
            return Choice(None, f"delivered by {attempt.channel} on {when.date().isoformat()}")
    for attempt in attempts:
        deadline = attempt.sent_at + settings.delivery_timeout
        if attempt.outcome is Outcome.PENDING and now < deadline:
            return Choice(None, f"waiting for delivery by {attempt.channel}", wait_until=deadline)
    order = list(candidates(spec, settings))
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    skipped: list[str] = []
    for channel in order:
        reason = _skip_reason(channel, reach, settings, attempts, blocked or {})
        if reason is None:
            return Choice(channel, _explain(channel, spec, preferred, skipped))
        label = f"{channel} (preferred)" if channel == preferred else str(channel)
        skipped.append(f"{label} {reason}")
    return Choice(None, "no reachable channel: " + "; ".join(skipped or ["none configured"]))


def _skip_reason(
    channel: Channel,
    reach: Mapping[Channel, Reach],
    settings: ChannelSettings,
    attempts: Sequence[Attempt],
    blocked: Mapping[Channel, str],
) -> str | None:
    if channel not in settings.costs:
        return "not configured"
    for attempt in attempts:
        if attempt.channel == channel:
            return _attempt_failure(attempt, settings.delivery_timeout)
    if channel in blocked:
        return blocked[channel]
    return unreachable_reason(reach.get(channel), max_failures=settings.max_failures)


def _attempt_failure(attempt: Attempt, timeout: timedelta) -> str:
    if attempt.outcome is Outcome.PENDING:
        return f"not delivered within {_duration(timeout)}"
    when = (attempt.outcome_at or attempt.sent_at).date().isoformat()
    return f"{attempt.outcome} on {when}"


def _explain(
    channel: Channel, spec: ChannelSpec, preferred: Channel | None, skipped: list[str]
) -> str:
    if skipped:
        return "; ".join(skipped) + f" → {channel}"
    if channel == preferred:
        return f"{channel}: the payer's preference"
    if spec == CHEAPEST_REACHABLE:
        return f"{channel}: cheapest reachable"
    return f"{channel}: first in the step's list"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} min"
    return f"{minutes // 60}h"

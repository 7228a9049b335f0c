"""The collections engine: follow unpaid invoices up with reminders until they are paid.

Every invoice has a follow-up row (``invoice_collection``) whose ``next_action_at`` says when
the sweep looks at it next; the sweep reads only rows that are due (an index range), so it costs
time in proportion to the due work. For each due payer it applies, in order:

1. the stop and pause rules (``dunning.hold``): paid, cancelled, disputed, paused, a payment
   plan or a promise to pay not yet over, opted out of every channel;
2. the step due today (``dunning.due_step``: after downtime only the latest; a step already sent
   is not sent again) — or, for a step whose message bounced or failed, the next channel;
3. bundling: one reminder per payer and currency (``dunning.bundle``);
4. the channel (``channels.choose_channel``, its explanation stored on the message);
5. the contact rules (``contact.refusal``): when they forbid a contact now, the invoices are
   looked at again at ``contact.earliest_send_at`` and nothing is sent;
6. a message with its own pay link per invoice, written once per (invoice, step, attempt)
   (``message_invoices`` is unique on it), and a ``message.send`` job.

The worker's ``send_messages`` hands queued messages to the channel port (``adapters.channels``)
and records the result; ``record_delivery`` takes the channel's later delivery reports. A bounce
or failure makes the sweep look again at once, and the next channel is tried.

Two sweeps at once (PostgreSQL): each locks the payers it works on with ``SKIP LOCKED`` and
leaves the others' alone; the unique keys are the last line of defence.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from paydue.adapters.channels.base import Channel as ChannelPort
from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.db.collections import (
    AttemptRow,
    DueRow,
    Message,
    PayerChannel,
    PayerFollowUp,
    PayerKey,
)
from paydue.adapters.db.records import Invoice, Issuer, Job, PayLink
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.channels import (
    CHANNEL_NAMES,
    Attempt,
    Channel,
    Choice,
    Outcome,
    Reach,
    choose_channel,
)
from paydue.domain.contact import (
    WEEK,
    Contact,
    ContactRules,
    PayerCalendar,
    earliest_send_at,
    refusal,
)
from paydue.domain.dunning import (
    DueInvoice,
    FollowUp,
    Pause,
    Policy,
    Reminder,
    Step,
    bundle,
    due_step,
    hold,
    next_action_at,
)
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.events import (
    INVOICE_DISPUTE_RESOLVED,
    INVOICE_DISPUTED,
    PAYER_PUSH_SUBSCRIBED,
    PAYER_PUSH_UNSUBSCRIBED,
    Event,
)
from paydue.domain.invoices import UNPAID, InvoiceStatus, outstanding
from paydue.domain.money import Money
from paydue.domain.templates import (
    MessageInvoice,
    RenderedMessage,
    TemplateError,
    language_of,
    template_name,
)
from paydue.services.ids import hash_token, new_id, new_token
from paydue.services.invoices import get_invoice, issuer_today
from paydue.services.links import PublicLinks
from paydue.services.paylinks import create_pay_link, pay_link_resource
from paydue.services.policies import Setup, load_setup, load_setups
from paydue.services.templates import (
    Effective,
    invoice_message_data,
    reminder_data,
    render,
    render_message,
    resolve,
    variables,
)

log = logging.getLogger(__name__)

MESSAGE_SEND = "message.send"
NO_CHANNEL = "none"
DELIVERY_REPORTED = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VOICE})
"""Channels whose services report delivery. On the others (e-mail, push, webhook, letter) a
message the service accepted counts as delivered unless a bounce is reported later."""
DEFAULT_CONSENT = frozenset(set(Channel) - {Channel.WHATSAPP})
"""Channels on which a payer with an address may be contacted about their invoices unless they
said otherwise; WhatsApp needs their explicit consent."""
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
"""Waits before sending again after a refusal the channel says may pass; then it failed."""
MIN_RECHECK = timedelta(minutes=15)
MAX_LINK_HOURS = 24 * 90


# --- follow-up rows ---------------------------------------------------------------------------


def follow_up_resource(row: DueRow | None, invoice: Invoice) -> dict[str, Any]:
    return {
        "object": "invoice_follow_up",
        "invoice_id": invoice.id,
        "policy_id": row.policy_id if row else None,
        "steps_sent": sorted(row.sent_offsets) if row else [],
        "next_action_at": row.next_action_at.isoformat() if row and row.next_action_at else None,
        "paused": bool(row and row.paused),
        "paused_until": row.paused_until.isoformat() if row and row.paused_until else None,
        "promise_to_pay_on": (
            row.promise_to_pay_on.isoformat() if row and row.promise_to_pay_on else None
        ),
        "disputed": bool(row and row.disputed_at),
        "disputed_at": row.disputed_at.isoformat() if row and row.disputed_at else None,
        "dispute_reason": row.dispute_reason if row else None,
        "payment_plan_until": (
            row.payment_plan_until.isoformat() if row and row.payment_plan_until else None
        ),
        "payment_plan_note": row.payment_plan_note if row else None,
    }


def _change_invoice(
    uow: UnitOfWork, issuer_id: str, invoice_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """Set follow-up columns of an invoice and have the next sweep look at it."""
    invoice = get_invoice(uow, issuer_id, invoice_id)
    now = uow.now()
    uow.collections.put_state(
        issuer_id, invoice.id, invoice.payer.id, {**values, "next_action_at": now}, now
    )
    return follow_up_resource(uow.collections.state(issuer_id, invoice.id), invoice)


def _future_day(issuer: Issuer, now: datetime, day: date | None, what: str) -> None:
    if day is None:
        return
    today = issuer_today(issuer, now)
    if day < today:
        raise InvalidInput(f"{what}: {day.isoformat()} is in the past", details={"where": what})
    if day > today + timedelta(days=366):
        raise InvalidInput(f"{what}: at most a year ahead", details={"where": what})


def pause_invoice(
    uow: UnitOfWork, issuer: Issuer, invoice_id: str, until: date | None
) -> dict[str, Any]:
    """No reminder for the invoice through ``until`` (included), or until resumed."""
    _future_day(issuer, uow.now(), until, "until")
    return _change_invoice(uow, issuer.id, invoice_id, {"paused": True, "paused_until": until})


def resume_invoice(uow: UnitOfWork, issuer: Issuer, invoice_id: str) -> dict[str, Any]:
    return _change_invoice(uow, issuer.id, invoice_id, {"paused": False, "paused_until": None})


def promise_to_pay(
    uow: UnitOfWork, issuer: Issuer, invoice_id: str, on: date | None
) -> dict[str, Any]:
    """The payer promised to pay by ``on``: reminders resume the day after (None: withdrawn)."""
    _future_day(issuer, uow.now(), on, "date")
    return _change_invoice(uow, issuer.id, invoice_id, {"promise_to_pay_on": on})


MAX_DISPUTE_REASON = 1000
MAX_PLAN_NOTE = 500
MAX_PLAN_DAYS = 3 * 366


def _text(value: str | None, where: str, limit: int, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{where}: a text is expected", details={"where": where})
    if len(text) > limit:
        raise InvalidInput(f"{where}: at most {limit} characters", details={"where": where})
    return text or None


def dispute_invoice(
    uow: UnitOfWork, issuer: Issuer, invoice_id: str, reason: str
) -> dict[str, Any]:
    """The payer disputes the invoice: no reminder (nor campaign message) until resolved.
    Disputing again changes only the reason."""
    text = _text(reason, "reason", MAX_DISPUTE_REASON, required=True)
    invoice = get_invoice(uow, issuer.id, invoice_id)
    row = uow.collections.state(issuer.id, invoice.id)
    if row is not None and row.disputed_at is not None:
        return _change_invoice(uow, issuer.id, invoice.id, {"dispute_reason": text})
    now = uow.now()
    resource = _change_invoice(
        uow, issuer.id, invoice.id, {"disputed_at": now, "dispute_reason": text}
    )
    uow.record(
        issuer.id,
        Event(
            INVOICE_DISPUTED,
            invoice.id,
            {"invoice_id": invoice.id, "number": invoice.number, "reason": text},
        ),
    )
    return resource


def resolve_dispute(uow: UnitOfWork, issuer: Issuer, invoice_id: str) -> dict[str, Any]:
    """The dispute is settled: reminders resume at the step due (none when not disputed)."""
    invoice = get_invoice(uow, issuer.id, invoice_id)
    row = uow.collections.state(issuer.id, invoice.id)
    if row is None or row.disputed_at is None:
        return follow_up_resource(row, invoice)
    resource = _change_invoice(
        uow, issuer.id, invoice.id, {"disputed_at": None, "dispute_reason": None}
    )
    uow.record(
        issuer.id,
        Event(
            INVOICE_DISPUTE_RESOLVED,
            invoice.id,
            {
                "invoice_id": invoice.id,
                "number": invoice.number,
                "reason": row.dispute_reason,
                "disputed_at": row.disputed_at.isoformat(),
            },
        ),
    )
    return resource


def set_payment_plan(
    uow: UnitOfWork, issuer: Issuer, invoice_id: str, until: date, note: str | None
) -> dict[str, Any]:
    """The payer pays by instalments through ``until`` (included): no reminder until the day
    after, when they resume if the invoice is still unpaid."""
    today = issuer_today(issuer, uow.now())
    if until < today:
        raise InvalidInput(f"until: {until.isoformat()} is in the past", details={"where": "until"})
    if until > today + timedelta(days=MAX_PLAN_DAYS):
        raise InvalidInput("until: at most three years ahead", details={"where": "until"})
    text = _text(note, "note", MAX_PLAN_NOTE, required=False)
    return _change_invoice(
        uow, issuer.id, invoice_id, {"payment_plan_until": until, "payment_plan_note": text}
    )


def end_payment_plan(uow: UnitOfWork, issuer: Issuer, invoice_id: str) -> dict[str, Any]:
    """The plan is over (or broken): reminders resume at the step due."""
    return _change_invoice(
        uow, issuer.id, invoice_id, {"payment_plan_until": None, "payment_plan_note": None}
    )


def set_invoice_policy(
    uow: UnitOfWork, issuer: Issuer, invoice_id: str, policy_id: str | None
) -> dict[str, Any]:
    """Follow the invoice up by ``policy_id`` (None: its payer's or the issuer's default)."""
    if policy_id is not None and uow.collections.get_policy(issuer.id, policy_id) is None:
        raise InvalidInput(f"policy_id: no policy {policy_id!r}", details={"where": "policy_id"})
    return _change_invoice(uow, issuer.id, invoice_id, {"policy_id": policy_id})


def _payer_id(uow: UnitOfWork, issuer_id: str, ref: str) -> str:
    payer_id = uow.collections.payer_by_ref(issuer_id, ref)
    if payer_id is None:
        raise NotFound(f"no payer {ref!r}", code="payer_not_found")
    return payer_id


def payer_resource(uow: UnitOfWork, issuer_id: str, ref: str, payer_id: str) -> dict[str, Any]:
    key = (issuer_id, payer_id)
    follow = uow.collections.payer_follow_ups([key]).get(key, PayerFollowUp())
    channels = uow.collections.payer_channels([key]).get(key, [])
    return {
        "object": "payer_follow_up",
        "ref": ref,
        "policy_id": follow.policy_id,
        "paused": follow.paused,
        "paused_until": follow.paused_until.isoformat() if follow.paused_until else None,
        "preferred_channel": follow.preferred_channel,
        "channels": {
            c.channel: {
                "address": c.address,
                "consent": c.consent,
                "opted_out": c.opted_out,
                "hard_bounced_on": c.hard_bounced_on.isoformat() if c.hard_bounced_on else None,
                "failures": c.failures,
            }
            for c in sorted(channels, key=lambda c: c.channel)
        },
    }


def _change_payer(
    uow: UnitOfWork, issuer_id: str, ref: str, values: dict[str, Any]
) -> dict[str, Any]:
    payer_id = _payer_id(uow, issuer_id, ref)
    now = uow.now()
    if values:
        uow.collections.put_payer_follow_up(issuer_id, payer_id, values, now)
    uow.collections.look_again(issuer_id, now, payer_id=payer_id)
    return payer_resource(uow, issuer_id, ref, payer_id)


def pause_payer(uow: UnitOfWork, issuer: Issuer, ref: str, until: date | None) -> dict[str, Any]:
    _future_day(issuer, uow.now(), until, "until")
    return _change_payer(uow, issuer.id, ref, {"paused": True, "paused_until": until})


def resume_payer(uow: UnitOfWork, issuer: Issuer, ref: str) -> dict[str, Any]:
    return _change_payer(uow, issuer.id, ref, {"paused": False, "paused_until": None})


def set_payer_policy(
    uow: UnitOfWork, issuer: Issuer, ref: str, policy_id: str | None
) -> dict[str, Any]:
    if policy_id is not None and uow.collections.get_policy(issuer.id, policy_id) is None:
        raise InvalidInput(f"policy_id: no policy {policy_id!r}", details={"where": "policy_id"})
    return _change_payer(uow, issuer.id, ref, {"policy_id": policy_id})


CHANNEL_FIELDS = frozenset({"address", "consent", "opted_out"})


def set_payer_channels(
    uow: UnitOfWork,
    issuer: Issuer,
    ref: str,
    *,
    preferred: str | None,
    channels: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The payer's preferred channel and, per channel, an address, consent and opt-out. An
    opt-out holds from the next sweep on; opting in again clears a recorded hard bounce."""
    preferred_channel = _channel(preferred, "preferred_channel") if preferred else None
    parsed: dict[Channel, dict[str, Any]] = {}
    for name, values in channels.items():
        channel = Channel(_channel(name, f"channels.{name}"))
        unknown = set(values) - CHANNEL_FIELDS
        if unknown:
            raise InvalidInput(
                f"channels.{name}: unknown field(s) {', '.join(sorted(unknown))}",
                details={"where": f"channels.{name}"},
            )
        parsed[channel] = dict(values)
    payer_id = _payer_id(uow, issuer.id, ref)
    now = uow.now()
    for channel, values in parsed.items():
        if values.get("opted_out") is False or values.get("address"):
            values["hard_bounced_on"] = None
            values["failures"] = 0
        uow.collections.put_payer_channel(issuer.id, payer_id, channel.value, values, now)
    return _change_payer(uow, issuer.id, ref, {"preferred_channel": preferred_channel})


def _channel(name: object, where: str) -> str:
    try:
        return Channel(str(name)).value
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise InvalidInput(
            f"{where}: unknown channel {name!r} (known: {known})", details={"where": where}
        ) from None


# --- Web Push subscriptions made on the pay page ----------------------------------------------

MAX_PUSH_ENDPOINT = 1500  # the whole subscription is stored in ``payer_channels.address``
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _base64url(value: object, where: str, size: int) -> str:
    """A base64url key of ``size`` bytes, as the browser gave it (without padding)."""
    text = value.rstrip("=") if isinstance(value, str) else ""
    raw = b""
    if len(text) <= 200 and len(text) % 4 != 1 and _BASE64URL.fullmatch(text):
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != size:
        raise InvalidInput(
            f"{where}: a base64url key of {size} bytes is expected", details={"where": where}
        )
    return text


def _https_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_PUSH_ENDPOINT:
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme == "https" and bool(parts.hostname) and parts.username is None
    except ValueError:
        return False


def push_subscription(data: object) -> str:
    """The browser's ``PushSubscription.toJSON()`` checked (an https endpoint, the P-256 key
    ``p256dh`` and the 16-byte ``auth`` secret, base64url) and returned as the JSON stored as
    the payer's push address; anything else is refused naming the field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            "the push subscription is not a JSON object", details={"where": "subscription"}
        )
    endpoint = data.get("endpoint")
    if not _https_url(endpoint):
        raise InvalidInput(
            f"endpoint: an https:// URL of at most {MAX_PUSH_ENDPOINT} characters is expected",
            details={"where": "endpoint"},
        )
    keys = data.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidInput("keys: the keys p256dh and auth are expected", details={"where": "keys"})
    p256dh = _base64url(keys.get("p256dh"), "keys.p256dh", 65)
    auth = _base64url(keys.get("auth"), "keys.auth", 16)
    return json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, separators=(",", ":")
    )


def set_push_subscription(uow: UnitOfWork, invoice: Invoice, subscription: object) -> None:
    """The payer of ``invoice`` subscribed to reminders by push on its pay page: the
    subscription becomes their push address, with their consent (an earlier opt-out, bounce or
    failures are cleared), and the sweep looks at their invoices again. A payer has one push
    address: a subscription from another device replaces it."""
    address = push_subscription(subscription)
    now = uow.now()
    payer = invoice.payer
    values = {
        "address": address,
        "consent": True,
        "opted_out": False,
        "hard_bounced_on": None,
        "failures": 0,
    }
    uow.collections.put_payer_channel(invoice.issuer_id, payer.id, Channel.PUSH.value, values, now)
    uow.collections.look_again(invoice.issuer_id, now, payer_id=payer.id)
    uow.record(
        invoice.issuer_id,
        Event(
            PAYER_PUSH_SUBSCRIBED,
            payer.id,
            {"payer_ref": payer.ref, "channel": "push", "invoice_id": invoice.id},
        ),
    )


def stop_push(uow: UnitOfWork, invoice: Invoice) -> None:
    """The payer of ``invoice`` stopped reminders by push on its pay page: opted out, and the
    subscription forgotten."""
    now = uow.now()
    payer = invoice.payer
    uow.collections.put_payer_channel(
        invoice.issuer_id,
        payer.id,
        Channel.PUSH.value,
        {"address": None, "opted_out": True},
        now,
    )
    uow.collections.look_again(invoice.issuer_id, now, payer_id=payer.id)
    uow.record(
        invoice.issuer_id,
        Event(
            PAYER_PUSH_UNSUBSCRIBED,
            payer.id,
            {"payer_ref": payer.ref, "channel": "push", "invoice_id": invoice.id},
        ),
    )


def has_push(uow: UnitOfWork, invoice: Invoice) -> bool:
    """Whether the payer of ``invoice`` gets reminders by push (a subscription, not opted
    out)."""
    key = (invoice.issuer_id, invoice.payer.id)
    return any(
        c.channel == Channel.PUSH.value and c.address and not c.opted_out
        for c in uow.collections.payer_channels([key]).get(key, [])
    )


# --- what is known about a payer --------------------------------------------------------------


@dataclass(slots=True)
class PayerView:
    """A payer as the engine sees them: addresses per channel, reach, preference, calendar and
    recent contacts (appended to as messages are made)."""

    issuer_id: str
    payer_id: str
    name: str
    language: str
    addresses: dict[Channel, str]
    reach: dict[Channel, Reach]
    follow: PayerFollowUp
    calendar: PayerCalendar
    contacts: list[Contact] = field(default_factory=list)

    @property
    def opted_out(self) -> frozenset[Channel]:
        return frozenset(c for c, r in self.reach.items() if r.opted_out)

    @property
    def preferred(self) -> Channel | None:
        return Channel(self.follow.preferred_channel) if self.follow.preferred_channel else None


def _postal(name: str, address: Mapping[str, Any] | None) -> str | None:
    if not address or not address.get("line1") or not address.get("city"):
        return None
    parts = [
        name,
        address.get("line1"),
        address.get("line2"),
        " ".join(str(p) for p in (address.get("postal_code"), address.get("city")) if p),
        address.get("country"),
    ]
    return "\n".join(str(p) for p in parts if p)


def _payer_view(
    setup: Setup,
    row: DueRow,
    follow: PayerFollowUp,
    channels: Sequence[PayerChannel],
    contacts: Iterable[tuple[str, datetime]],
    today: date,
) -> PayerView:
    known: dict[Channel, str | None] = {
        Channel.EMAIL: row.payer_email,
        Channel.SMS: row.payer_phone,
        Channel.VOICE: row.payer_phone,
        Channel.WHATSAPP: row.payer_phone,
        Channel.LETTER: _postal(row.payer_name, row.payer_address),
    }
    stored = {Channel(c.channel): c for c in channels}
    addresses: dict[Channel, str] = {}
    reach: dict[Channel, Reach] = {}
    for channel in Channel:
        pc = stored.get(channel)
        address = (pc.address if pc and pc.address else None) or known.get(channel)
        if address:
            addresses[channel] = address
        consent = pc.consent if pc and pc.consent is not None else channel in DEFAULT_CONSENT
        reach[channel] = Reach(
            address=bool(address),
            consent=consent,
            opted_out=bool(pc and pc.opted_out),
            hard_bounced_on=pc.hard_bounced_on if pc else None,
            failures=pc.failures if pc else 0,
        )
    tz = setup.tz
    if row.payer_timezone:
        try:
            tz = ZoneInfo(row.payer_timezone)
        except (KeyError, ValueError):
            tz = setup.tz
    country = (row.payer_address or {}).get("country")
    calendar = PayerCalendar(
        tz, setup.holidays(country if isinstance(country, str) else None, today)
    )
    return PayerView(
        issuer_id=row.issuer_id,
        payer_id=row.payer_id,
        name=row.payer_name,
        language=row.payer_language or "en",
        addresses=addresses,
        reach=reach,
        follow=follow,
        calendar=calendar,
        contacts=[Contact(Channel(ch), at) for ch, at in contacts if ch in CHANNEL_NAMES],
    )


def _attempt(a: AttemptRow) -> Attempt | None:
    if a.status == "skipped" or a.channel == NO_CHANNEL:
        return None
    channel = Channel(a.channel)
    sent = a.sent_at or a.created_at
    if a.status in ("bounced", "failed", "delivered"):
        return Attempt(channel, sent, Outcome(a.status), a.updated_at)
    if a.status == "sent" and channel not in DELIVERY_REPORTED:
        return Attempt(channel, sent, Outcome.DELIVERED, sent)
    return Attempt(channel, sent)


def _cap_blocked(
    rules: ContactRules, payer: PayerView, now: datetime, configured: Iterable[Channel]
) -> dict[Channel, str]:
    """Channels whose own weekly cap the payer reached: skipped in favour of another."""
    blocked: dict[Channel, str] = {}
    for channel in configured:
        if rules.cap(channel) >= rules.max_per_week:
            continue
        recent = [c for c in payer.contacts if c.channel == channel and c.at > now - WEEK]
        if len(recent) >= rules.cap(channel):
            blocked[channel] = f"weekly cap of {rules.cap(channel)} reached"
    return blocked


# --- the sweep --------------------------------------------------------------------------------


@dataclass(slots=True)
class SweepReport:
    looked_at: int = 0
    messages: int = 0
    skipped: int = 0
    deferred: int = 0
    held: int = 0


@dataclass(slots=True)
class _Item:
    """A due invoice of the payer with the step (and attempt) to send."""

    row: DueRow
    policy_key: str | None
    policy: Policy
    due: DueInvoice
    attempt: int
    attempts: list[Attempt]


def sweep(
    uow_factory: Callable[[], UnitOfWork],
    now: datetime,
    channels: Collection[str],
    *,
    links: PublicLinks,
    secret: bytes,
    batch_size: int = 200,
) -> SweepReport:
    """Plan and queue every reminder due at ``now``: one transaction per batch of due invoices
    (with all due invoices of their payers). ``channels`` are the names of the channels this
    deployment can send on."""
    report = SweepReport()
    after: tuple[datetime, str, str] | None = None
    available = frozenset(channels)
    if not available:
        return report
    while True:
        with uow_factory() as uow:
            found = uow.collections.due_candidates(now, after=after, limit=batch_size)
            if not found:
                break
            after = found[-1][:3]
            keys = sorted({(issuer_id, payer_id) for _, issuer_id, _, payer_id in found})
            rows = uow.collections.due_for_payers(uow.collections.lock_payers(keys), now)
            _plan(uow, rows, now, available, links, secret, report)
            uow.commit()
        if len(found) < batch_size:
            break
    return report


def _plan(
    uow: UnitOfWork,
    rows: Sequence[DueRow],
    now: datetime,
    available: frozenset[str],
    links: PublicLinks,
    secret: bytes,
    report: SweepReport,
) -> None:
    if not rows:
        return
    setups = load_setups(uow, sorted({r.issuer_id for r in rows}), available)
    keys: list[PayerKey] = sorted({(r.issuer_id, r.payer_id) for r in rows})
    follows = uow.collections.payer_follow_ups(keys)
    channels = uow.collections.payer_channels(keys)
    contacts = uow.collections.contacts_since(keys, now - WEEK)
    attempts: dict[str, list[AttemptRow]] = {}
    for issuer_id, group in groupby(rows, key=lambda r: r.issuer_id):
        for a in uow.collections.attempts(issuer_id, [r.invoice_id for r in group]):
            attempts.setdefault(a.invoice_id, []).append(a)
    updates: list[dict[str, Any]] = []
    planned: list[_Planned] = []
    for key, group in groupby(rows, key=lambda r: (r.issuer_id, r.payer_id)):
        payer_rows = list(group)
        setup = setups[key[0]]
        today = now.astimezone(setup.tz).date()
        payer = _payer_view(
            setup,
            payer_rows[0],
            follows.get(key, PayerFollowUp()),
            channels.get(key, []),
            contacts.get(key, []),
            today,
        )
        planner = _PayerPlan(
            uow, setup, payer, now, today, links, secret, report, attempts, planned
        )
        updates.extend(planner.run(payer_rows))
    untouched = _write_batch(uow, planned, links, secret)
    uow.collections.update_states(
        [u for u in updates if (u["issuer_id"], u["invoice_id"]) not in untouched]
    )


class _PayerPlan:
    """The sweep's work on one payer's due invoices."""

    def __init__(
        self,
        uow: UnitOfWork,
        setup: Setup,
        payer: PayerView,
        now: datetime,
        today: date,
        links: PublicLinks,
        secret: bytes,
        report: SweepReport,
        attempts: Mapping[str, list[AttemptRow]],
        planned: list[_Planned],
    ) -> None:
        self.uow, self.setup, self.payer = uow, setup, payer
        self.planned = planned
        self.now, self.today, self.links, self.secret = now, today, links, secret
        self.report, self.attempts = report, attempts
        self.next_at: dict[str, datetime | None] = {}
        self.sent: dict[str, set[int]] = {}
        self.hold_reason: dict[str, str | None] = {}

    def run(self, rows: Sequence[DueRow]) -> list[dict[str, Any]]:
        items: list[_Item] = []
        if not self.setup.configured:  # nothing to send on: look again tomorrow
            for row in rows:
                self.next_at[row.invoice_id] = self.now + timedelta(days=1)
                self.hold_reason[row.invoice_id] = NO_CHANNEL
            rows_to_plan: Sequence[DueRow] = ()
        else:
            rows_to_plan = rows
        for row in rows_to_plan:
            self.report.looked_at += 1
            item = self._item(row)
            if item is not None:
                items.append(item)
        by_policy: dict[str | None, list[_Item]] = {}
        for item in items:
            by_policy.setdefault(item.policy_key, []).append(item)
        for group in by_policy.values():
            found = {i.due.invoice_id: i for i in group}
            for reminder in bundle([i.due for i in group], enabled=group[0].policy.bundle):
                self._send(reminder, [found[d.invoice_id] for d in reminder.invoices])
        return [
            {
                "issuer_id": row.issuer_id,
                "invoice_id": row.invoice_id,
                "sent_offsets": sorted(self.sent.get(row.invoice_id, set(row.sent_offsets))),
                "next_action_at": self._later(self.next_at.get(row.invoice_id)),
                "hold_reason": self.hold_reason.get(row.invoice_id),
                "updated_at": self.now,
            }
            for row in rows
        ]

    def _later(self, at: datetime | None) -> datetime | None:
        """Never due again within this sweep: a time at or before now becomes a re-check."""
        if at is not None and at <= self.now:
            return self.now + MIN_RECHECK
        return at

    def _schedule(
        self, row: DueRow, policy: Policy, sent: set[int], *, wait: datetime | None = None
    ) -> None:
        at = next_action_at(policy, row.due_date, sent=sent, now=self.now, tz=self.setup.tz)
        if wait is not None and (at is None or wait < at):
            at = wait
        self.next_at[row.invoice_id] = at

    def _item(self, row: DueRow) -> _Item | None:
        """What to do with one due invoice: held, nothing yet (rescheduled), or an item."""
        policy_id, policy = self.setup.policy(row.policy_id or self.payer.follow.policy_id)
        follow = self.payer.follow
        state = FollowUp(
            status=InvoiceStatus(row.status),
            disputed=row.disputed_at is not None,
            invoice_pause=Pause(row.paused_until) if row.paused else None,
            payer_pause=Pause(follow.paused_until) if follow.paused else None,
            payment_plan_until=row.payment_plan_until,
            promise_to_pay_on=row.promise_to_pay_on,
            opted_out=self.payer.opted_out,
        )
        sent = set(row.sent_offsets)
        held = hold(state, self.today, configured=self.setup.configured)
        if held is not None:
            self.hold_reason[row.invoice_id] = held.reason.value
            self.next_at[row.invoice_id] = next_action_at(
                policy, row.due_date, sent=sent, now=self.now, tz=self.setup.tz, hold=held
            )
            self.report.held += 1
            return None
        rows_attempts = self.attempts.get(row.invoice_id, [])
        step = due_step(policy, row.due_date, self.today, sent)
        if step is None and sent:
            # The last step sent: is another channel to be tried for it?
            last = next((s for s in policy.steps if s.offset_days == max(sent)), None)
            tried = [a for a in rows_attempts if a.step_offset == max(sent)]
            past = [p for p in (_attempt(a) for a in tried) if p is not None]
            if last is not None and past:
                choice = self._choose(last, past)
                if choice.channel is not None:
                    step = last
                else:
                    self._schedule(row, policy, sent, wait=choice.wait_until)
                    return None
        if step is None:
            self._schedule(row, policy, sent)
            return None
        tried = [a for a in rows_attempts if a.step_offset == step.offset_days]
        amount_due = outstanding(InvoiceStatus(row.status), row.amount, row.amount_paid)
        return _Item(
            row=row,
            policy_key=policy_id,
            policy=policy,
            due=DueInvoice(
                row.invoice_id, row.payer_id, row.due_date, Money(amount_due, row.currency), step
            ),
            attempt=max((a.attempt for a in tried), default=0) + 1,
            attempts=[p for p in (_attempt(a) for a in tried) if p is not None],
        )

    def _choose(self, step: Step, attempts: Sequence[Attempt]) -> Choice:
        return choose_channel(
            step.channels,
            reach=self.payer.reach,
            settings=self.setup.channel_settings,
            now=self.now,
            preferred=self.payer.preferred,
            attempts=attempts,
            blocked=_cap_blocked(self.setup.rules, self.payer, self.now, self.setup.configured),
        )

    def _send(self, reminder: Reminder, items: list[_Item]) -> None:
        attempts = list({(a.channel, a.sent_at): a for i in items for a in i.attempts}.values())
        choice = self._choose(reminder.step, attempts)
        if choice.channel is None:
            if choice.wait_until is not None or attempts:
                for item in items:
                    sent = set(item.row.sent_offsets)
                    self._schedule(item.row, item.policy, sent, wait=choice.wait_until)
                return
            self._write(reminder, items, None, choice.explanation)
            self.report.skipped += 1
            return
        channel = choice.channel
        refused = refusal(
            self.setup.rules,
            channel=channel,
            at=self.now,
            payer=self.payer.calendar,
            history=self.payer.contacts,
        )
        if refused is not None:
            at = earliest_send_at(
                self.setup.rules,
                channel=channel,
                not_before=self.now,
                payer=self.payer.calendar,
                history=self.payer.contacts,
            )
            for item in items:
                self.next_at[item.row.invoice_id] = at
                self.hold_reason[item.row.invoice_id] = refused.value
            self.report.deferred += 1
            return
        self._write(reminder, items, channel, choice.explanation)
        self.payer.contacts.append(Contact(channel, self.now))
        self.report.messages += 1

    def _write(
        self, reminder: Reminder, items: list[_Item], channel: Channel | None, explanation: str
    ) -> None:
        """Plan the message (queued, or skipped when no channel reaches the payer); the batch
        writes it with the others (``_write_batch``), once."""
        lead = items[0]
        message = {
            "issuer_id": self.payer.issuer_id,
            "id": new_id("msg"),
            "kind": "reminder",
            "payer_id": self.payer.payer_id,
            "subject_key": lead.row.invoice_id,
            "step_offset": lead.due.step.offset_days,
            "attempt": lead.attempt,
            "template": reminder.step.template,
            "channel": channel.value if channel else NO_CHANNEL,
            "to": self.payer.addresses.get(channel) if channel else None,
            "status": "queued" if channel else "skipped",
            "explanation": explanation,
            "subject": None,
            "body": None,
            "html": None,
            "language": self.payer.language,
            "pay_link_id": None,
            "pay_url": None,
            "error": None,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.planned.append(
            _Planned(message, items, reminder, channel, self.setup.issuer, self.payer.name)
        )
        for item in items:  # undone for the invoices another sweep claimed (left untouched)
            sent = self.sent.setdefault(item.row.invoice_id, set(item.row.sent_offsets))
            sent.add(item.due.step.offset_days)
            wait = (
                self.now + self.setup.channel_settings.delivery_timeout
                if channel in DELIVERY_REPORTED
                else None
            )
            self._schedule(item.row, item.policy, sent, wait=wait)


@dataclass(slots=True)
class _Planned:
    """A message planned by the sweep, written with the rest of its batch."""

    message: dict[str, Any]
    items: list[_Item]
    reminder: Reminder
    channel: Channel | None
    issuer: Issuer
    payer_name: str
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # invoice: (link id, token)


class _Templates:
    """Templates resolved once per (issuer, key, channel, language) in a batch."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.found: dict[tuple[str, str, str, str], Effective | TemplateError] = {}

    def render(
        self, issuer_id: str, key: str, channel: str, language: str, data: Any
    ) -> RenderedMessage:
        at = (issuer_id, key, channel, language)
        found = self.found.get(at)
        if found is None:
            try:
                found = resolve(self.uow, issuer_id, key, channel, language)
            except TemplateError as exc:
                found = exc
            self.found[at] = found
        if isinstance(found, TemplateError):
            raise found
        name = template_name(found.key, found.channel, found.language)
        return render(found.source, variables(data, found.language), name=name, channel=channel)


def _compose(p: _Planned, items: list[_Item], links: PublicLinks, templates: _Templates) -> None:
    """The message's pay link and text (or its failure) for ``items``, into ``p.message``."""
    message = p.message
    assert p.channel is not None
    lines = [
        MessageInvoice(
            i.row.number,
            i.due.amount_due,
            i.row.due_date,
            links.pay_url(p.links[i.row.invoice_id][1]),
        )
        for i in items
    ]
    pay_url = lines[0].pay_link
    assert pay_url is not None
    message["pay_link_id"] = p.links[items[0].row.invoice_id][0]
    message["pay_url"] = pay_url
    data = reminder_data(p.issuer, p.payer_name, lines, pay_url, fee=p.reminder.step.fee)
    try:
        text = templates.render(
            message["issuer_id"],
            p.reminder.step.template,
            p.channel.value,
            language_of(message["language"]),
            data,
        )
    except TemplateError as exc:  # never send a broken message: it fails, saying why
        message |= {"status": "failed", "error": str(exc)[:1000]}
        message |= {"subject": None, "body": None, "html": None}
        return
    message |= {"status": "queued", "error": None}
    message |= {"subject": _one_line(text.subject), "body": text.text, "html": text.html}


def _write_batch(
    uow: UnitOfWork, planned: Sequence[_Planned], links: PublicLinks, secret: bytes
) -> set[tuple[str, str]]:
    """Write the batch's planned messages in a few statements: the messages and their
    ``message_invoices`` rows as multi-row ``INSERT … ON CONFLICT DO NOTHING`` (the unique keys
    stay the claim: what another sweep took is left to it), then the pay links, the
    ``message.send`` jobs and the events. Returns the (issuer, invoice) pairs left untouched."""
    untouched: set[tuple[str, str]] = set()
    if not planned:
        return untouched
    now = uow.now()
    templates = _Templates(uow)
    for p in planned:
        if p.channel is not None:
            p.links = {i.row.invoice_id: (new_id("pl"), new_token()) for i in p.items}
            _compose(p, p.items, links, templates)
    claimed = uow.collections.claim_messages([p.message for p in planned])
    kept_planned = []
    for p in planned:
        if p.message["id"] in claimed:
            kept_planned.append(p)
        else:
            untouched.update((p.message["issuer_id"], i.row.invoice_id) for i in p.items)
    steps = uow.collections.claim_steps_of(
        [
            {
                "issuer_id": p.message["issuer_id"],
                "message_id": p.message["id"],
                "invoice_id": i.row.invoice_id,
                "step_offset": i.due.step.offset_days,
                "attempt": i.attempt,
                "pay_link_id": p.links[i.row.invoice_id][0] if p.links else None,
            }
            for p in kept_planned
            for i in p.items
        ]
    )
    link_rows: list[dict[str, Any]] = []
    jobs: dict[str, list[dict[str, Any]]] = {}
    dropped: dict[str, list[str]] = {}
    for p in kept_planned:
        message, issuer_id = p.message, p.message["issuer_id"]
        items = [i for i in p.items if (message["id"], i.row.invoice_id) in steps]
        untouched.update((issuer_id, i.row.invoice_id) for i in p.items if i not in items)
        if not items:
            dropped.setdefault(issuer_id, []).append(message["id"])
            continue
        if len(items) < len(p.items) and p.channel is not None:  # rare: text for those kept
            _compose(p, items, links, templates)
            uow.collections.update_message(
                issuer_id,
                message["id"],
                {
                    k: message[k]
                    for k in (
                        "status",
                        "error",
                        "subject",
                        "body",
                        "html",
                        "pay_link_id",
                        "pay_url",
                    )
                },
                only_from=["queued"],
            )
        if p.channel is not None:
            for item in items:
                link_id, token = p.links[item.row.invoice_id]
                row = {
                    "issuer_id": issuer_id,
                    "id": link_id,
                    "invoice_id": item.row.invoice_id,
                    "token_hash": hash_token(token),
                    "is_primary": False,
                    "channel": p.channel.value,
                    "expires_at": None,
                    "max_opens": None,
                    "open_count": 0,
                    "max_failed_attempts": None,
                    "failed_attempts": 0,
                    "tan_hash": None,
                    "tan_failures": 0,
                    "created_at": now,
                }
                link_rows.append(row)
                link = PayLink(
                    **{k: row[k] for k in PayLink.__dataclass_fields__ if k in row},
                    revoked_at=None,
                )
                uow.record(
                    issuer_id,
                    Event(ev.PAYLINK_CREATED, link_id, pay_link_resource(link, None)),
                )
        stored = Message(
            **{f: message.get(f) for f in Message.__dataclass_fields__}  # type: ignore[arg-type]
        )
        data = message_resource(stored, sorted(i.row.invoice_id for i in items))
        data.pop("text")
        uow.record(issuer_id, Event(f"message.{stored.status}", stored.id, data))
        if stored.status == "queued":
            jobs.setdefault(issuer_id, []).append({"message_id": stored.id})
    for issuer_id, ids in dropped.items():
        uow.collections.drop_messages(issuer_id, ids)
    uow.pay_links.add_many(link_rows)
    for issuer_id, payloads in jobs.items():
        uow.jobs.add_many(issuer_id, MESSAGE_SEND, now, payloads)
    return untouched


def _one_line(subject: str | None) -> str | None:
    """The stored subject (``messages.subject`` holds 300 characters)."""
    return subject[:300] if subject is not None else None


def record_message_event(uow: UnitOfWork, issuer_id: str, message_id: str) -> None:
    """Record ``message.<status>`` for the message as it is now, in the transaction that
    changed it. The event carries the message resource without its text (which holds the pay
    links)."""
    message = uow.collections.message(issuer_id, message_id)
    assert message is not None
    data = message_resource(message, uow.collections.message_invoice_ids(issuer_id, message_id))
    data.pop("text")
    uow.record(issuer_id, Event(f"message.{message.status}", message_id, data))


# --- sending ----------------------------------------------------------------------------------


class SendContext(Protocol):
    """What sending needs from the composition root."""

    @property
    def channels(self) -> Mapping[str, ChannelPort]: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...


def send_messages(ctx: SendContext, jobs: Sequence[Job], worker_id: str) -> None:
    """Hand each job's queued message to its channel (no transaction open meanwhile), then
    record the results and settle the jobs in one transaction, fenced by worker id."""
    loaded: list[tuple[Job, Message | None, str | None]] = []
    with ctx.uow(readonly=True) as uow:
        for job in jobs:
            message_id = (job.payload or {}).get("message_id", "")
            message = uow.collections.message(job.issuer_id, message_id)
            loaded.append((job, message, _stop_reason(uow, message)))
    to_send = [
        message
        for _, message, stop in loaded
        if message is not None and message.status == "queued" and stop is None
    ]
    sent = _hand_over_all(ctx.channels, to_send)
    results = [
        (job, message, stop, sent.get(message.id) if message is not None else None)
        for job, message, stop in loaded
    ]
    with ctx.uow() as uow:
        now = uow.now()
        for job, message, stop, result in results:
            _settle(uow, job, worker_id, message, stop, result, now)
        uow.commit()


def _stop_reason(uow: UnitOfWork, message: Message | None) -> str | None:
    """Why a queued reminder is no longer to be sent: all its invoices were paid or cancelled
    since it was planned."""
    if message is None or message.status != "queued":
        return None
    ids = uow.collections.message_invoice_ids(message.issuer_id, message.id)
    invoices = uow.invoices.get_many(message.issuer_id, ids)
    if invoices and all(i.status not in UNPAID for i in invoices):
        return "not sent: " + ", ".join(sorted({i.status.value for i in invoices}))
    return None


def _hand_over_all(
    channels: Mapping[str, ChannelPort], messages: Sequence[Message]
) -> dict[str, SendResult]:
    """Each message handed to its channel: in one ``send_many`` call per channel where the
    adapter has one (e-mail sends a batch over its connections at once), else one by one."""
    results: dict[str, SendResult] = {}
    by_channel: dict[str, list[Message]] = {}
    for message in messages:
        by_channel.setdefault(message.channel, []).append(message)
    for name, group in by_channel.items():
        send_many = getattr(channels.get(name), "send_many", None)
        if send_many is None or len(group) == 1:
            results.update((m.id, _hand_over(channels, m)) for m in group)
            continue
        try:
            sent = send_many([_outbound(m) for m in group])
        except Exception as exc:  # a broken adapter must not lose the messages
            log.exception("channel %s raised sending %d messages", name, len(group))
            error = SendResult(False, error=f"{type(exc).__name__}: {exc}", retryable=True)
            sent = [error] * len(group)
        results.update((m.id, r) for m, r in zip(group, sent, strict=True))
    return results


def _outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        id=message.id,
        issuer_id=message.issuer_id,
        channel=message.channel,
        to=message.to or "",
        subject=message.subject,
        text=message.body or "",
        html=message.html,
        language=message.language or "en",
        pay_url=message.pay_url,
    )


def _hand_over(channels: Mapping[str, ChannelPort], message: Message) -> SendResult:
    port = channels.get(message.channel)
    if port is None:
        return SendResult(False, error=f"channel {message.channel!r} is not available")
    outbound = OutboundMessage(
        id=message.id,
        issuer_id=message.issuer_id,
        channel=message.channel,
        to=message.to or "",
        subject=message.subject,
        text=message.body or "",
        html=message.html,
        language=message.language or "en",
        pay_url=message.pay_url,
    )
    try:
        return port.send(outbound)
    except Exception as exc:  # a broken adapter must not lose the message
        log.exception("channel %s raised sending %s", message.channel, message.id)
        return SendResult(False, error=f"{type(exc).__name__}: {exc}", retryable=True)


def _settle(
    uow: UnitOfWork,
    job: Job,
    worker_id: str,
    message: Message | None,
    stop: str | None,
    result: SendResult | None,
    now: datetime,
) -> None:
    retry = result is not None and not result.accepted and result.retryable
    if retry and message is not None and job.attempts <= len(RETRY_DELAYS):
        error = (result.error if result else None) or "refused for now"
        if uow.jobs.retry(job, worker_id, now + RETRY_DELAYS[job.attempts - 1], error):
            uow.collections.update_message(
                message.issuer_id,
                message.id,
                {"error": error[:1000], "updated_at": now},
                only_from=["queued"],
            )
        return
    if not uow.jobs.finish_many([job], worker_id, now):
        return  # claimed again meanwhile: the new claim settles it
    if message is None or message.status != "queued":
        return
    if stop is not None:
        if uow.collections.update_message(
            message.issuer_id,
            message.id,
            {"status": "skipped", "error": stop, "updated_at": now},
            only_from=["queued"],
        ):
            record_message_event(uow, message.issuer_id, message.id)
        return
    assert result is not None
    if result.accepted:
        if uow.collections.update_message(
            message.issuer_id,
            message.id,
            {
                "status": "sent",
                "sent_at": now,
                "provider_id": result.provider_id,
                "cost": result.cost_minor,
                "cost_currency": result.cost_currency,
                "error": None,
                "updated_at": now,
            },
            only_from=["queued"],
        ):
            record_message_event(uow, message.issuer_id, message.id)
        return
    _failed(uow, message, "failed", result.error or "refused by the channel", now)


def _failed(
    uow: UnitOfWork, message: Message, outcome: str, error: str | None, now: datetime
) -> None:
    """A message failed or bounced: count it against the payer's channel and have the sweep
    try the next channel at once."""
    values: dict[str, Any] = {"status": outcome, "updated_at": now}
    if error is not None:
        values["error"] = error[:1000]
    if not uow.collections.update_message(
        message.issuer_id, message.id, values, only_from=["queued", "sent", "delivered"]
    ):
        return
    record_message_event(uow, message.issuer_id, message.id)
    if message.channel == NO_CHANNEL:
        return
    uow.collections.count_delivery(
        message.issuer_id, message.payer_id, message.channel, outcome, now.date(), now
    )
    if message.kind == "reminder":
        ids = uow.collections.message_invoice_ids(message.issuer_id, message.id)
        uow.collections.look_again(message.issuer_id, now, invoice_ids=ids)


DELIVERY_OUTCOMES = frozenset({"delivered", "bounced", "failed"})


def record_delivery(
    uow: UnitOfWork, issuer_id: str, message_id: str, outcome: str, at: datetime
) -> Message:
    """A channel's delivery report: ``delivered``, ``bounced`` (a hard bounce: the channel is
    not used for the payer again until they give a new address or opt in again) or ``failed``.
    A bounce or failure has the next sweep try the next channel. Reports repeat harmlessly."""
    if outcome not in DELIVERY_OUTCOMES:
        raise InvalidInput(f"outcome: one of {', '.join(sorted(DELIVERY_OUTCOMES))}")
    message = uow.collections.message(issuer_id, message_id)
    if message is None:
        raise NotFound(f"no message {message_id!r}", code="message_not_found")
    if outcome == "delivered":
        if uow.collections.update_message(
            issuer_id, message_id, {"status": "delivered", "updated_at": at}, only_from=["sent"]
        ):
            uow.collections.count_delivery(
                issuer_id, message.payer_id, message.channel, outcome, at.date(), at
            )
            record_message_event(uow, issuer_id, message_id)
    else:
        _failed(uow, message, outcome, None, at)
    found = uow.collections.message(issuer_id, message_id)
    assert found is not None
    return found


def report_delivery(
    uow: UnitOfWork, message_id: str, outcome: str, at: datetime, *, channels: Collection[str]
) -> Message | None:
    """A verified delivery callback about a message it names by id only (a Twilio status, a
    gateway report, an e-mail bounce): ``record_delivery`` for the message's issuer. A message
    that does not exist, or is not on one of ``channels`` (those the callback speaks for), is
    logged and changes nothing: None."""
    message = uow.collections.find_message(message_id)
    if message is None or message.channel not in channels:
        log.warning(
            "delivery report %s for %s %r ignored: %s",
            outcome,
            "/".join(sorted(channels)),
            message_id,
            "no such message" if message is None else f"it is a {message.channel} message",
        )
        return None
    return record_delivery(uow, message.issuer_id, message.id, outcome, at)


@dataclass(frozen=True, slots=True)
class CallAnswer:
    """What became of a reminder call's "press 1": the call's language (for the spoken answer)
    and the pay-link SMS queued, or why none was."""

    language: str
    sms: dict[str, Any] | None = None
    refused: str | None = None


def link_after_call(
    uow: UnitOfWork,
    call_id: str,
    *,
    available: Collection[str],
    links: PublicLinks,
    secret: bytes,
) -> CallAnswer:
    """The payer pressed 1 in reminder call ``call_id``: queue a pay link by SMS for the call's
    lead invoice, through ``send_link`` (so the contact rules, the payer's opt-out and the
    template apply; a refusal queues nothing and says why)."""
    call = uow.collections.find_message(call_id)
    if call is None or call.channel != Channel.VOICE:
        log.warning("'press 1' for %r ignored: no such call", call_id)
        return CallAnswer("en", refused="no such call")
    language = call.language or "en"
    issuer = uow.issuers.get(call.issuer_id)
    assert issuer is not None
    invoice_ids = uow.collections.message_invoice_ids(call.issuer_id, call.id)
    lead = call.subject_key if call.subject_key in invoice_ids else next(iter(invoice_ids), None)
    if lead is None:
        return CallAnswer(language, refused="the call is about no invoice")
    try:
        sms = send_link(
            uow,
            issuer,
            lead,
            channel=Channel.SMS.value,
            expires_in_hours=None,
            available=available,
            links=links,
            secret=secret,
        )
    except (Conflict, InvalidInput) as exc:  # contact rules, no number, template, paid
        log.info("'press 1' in call %s sends no SMS: %s", call.id, exc)
        return CallAnswer(language, refused=str(exc))
    return CallAnswer(language, sms=sms)


def message_resource(message: Message, invoice_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "object": "message",
        "kind": message.kind,
        "invoice_ids": list(invoice_ids),
        "step_offset": message.step_offset,
        "attempt": message.attempt,
        "template": message.template,
        "channel": message.channel,
        "to": message.to,
        "status": message.status,
        "explanation": message.explanation,
        "subject": message.subject,
        "text": message.body,
        "language": message.language,
        "pay_link_id": message.pay_link_id,
        "cost": (
            {"amount": message.cost, "currency": message.cost_currency}
            if message.cost is not None
            else None
        ),
        "provider_id": message.provider_id,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "updated_at": message.updated_at.isoformat(),
    }


def list_messages(
    uow: UnitOfWork, issuer_id: str, *, invoice_id: str | None, after_id: str | None, limit: int
) -> list[dict[str, Any]]:
    if invoice_id is not None:
        get_invoice(uow, issuer_id, invoice_id)
    found = uow.collections.list_messages(
        issuer_id, invoice_id=invoice_id, after_id=after_id, limit=limit
    )
    invoices = uow.collections.invoice_ids_of(issuer_id, [m.id for m in found])
    return [message_resource(m, invoices.get(m.id, [])) for m in found]


# --- agent mode -------------------------------------------------------------------------------


def send_link(
    uow: UnitOfWork,
    issuer: Issuer,
    invoice_id: str,
    *,
    channel: str,
    expires_in_hours: float | None,
    available: Collection[str],
    links: PublicLinks,
    secret: bytes,
) -> dict[str, Any]:
    """A call-centre agent sends the payer a fresh pay link now, on ``channel``. The contact
    rules hold as for any reminder: when they forbid it now, 409 ``contact_refused`` says why and
    from when it would be allowed."""
    invoice = get_invoice(uow, issuer.id, invoice_id)
    wanted = Channel(_channel(channel, "channel"))
    if invoice.status not in UNPAID:
        raise Conflict(
            f"the invoice is {invoice.status.value}; nothing to pay", code="invoice_not_payable"
        )
    if expires_in_hours is not None and not 0 < expires_in_hours <= MAX_LINK_HOURS:
        raise InvalidInput(
            f"expires_in_hours: more than 0, at most {MAX_LINK_HOURS}",
            details={"where": "expires_in_hours"},
        )
    setup = load_setup(uow, issuer.id, available)
    if wanted not in setup.configured:
        raise Conflict(
            f"{wanted} is not a channel this issuer can send on "
            f"(configured: {', '.join(sorted(c.value for c in setup.configured)) or 'none'})",
            code="channel_unavailable",
        )
    now = uow.now()
    key = (issuer.id, invoice.payer.id)
    row = _as_due_row(invoice)
    payer = _payer_view(
        setup,
        row,
        uow.collections.payer_follow_ups([key]).get(key, PayerFollowUp()),
        uow.collections.payer_channels([key]).get(key, []),
        uow.collections.contacts_since([key], now - WEEK).get(key, []),
        now.astimezone(setup.tz).date(),
    )
    reach = payer.reach[wanted]
    if not reach.address:
        raise InvalidInput(
            f"channel: the payer has no {wanted} address", details={"where": "channel"}
        )
    refused = refusal(
        setup.rules,
        channel=wanted,
        at=now,
        payer=payer.calendar,
        history=payer.contacts,
        opted_out=reach.opted_out or not reach.consent,
    )
    if refused is not None:
        at = earliest_send_at(
            setup.rules,
            channel=wanted,
            not_before=now,
            payer=payer.calendar,
            history=payer.contacts,
            opted_out=reach.opted_out or not reach.consent,
        )
        when = f"; allowed from {at.isoformat()}" if at else ""
        raise Conflict(
            f"the contact rules forbid a {wanted} message to this payer now: {refused.value}{when}",
            code="contact_refused",
            details={"reason": refused.value, "earliest_send_at": at.isoformat() if at else None},
        )
    created = create_pay_link(
        uow,
        secret,
        issuer.id,
        invoice.id,
        expires_in_hours=expires_in_hours,
        max_opens=None,
        max_failed_attempts=None,
        require_tan=False,
        channel=wanted.value,
    )
    url = links.pay_url(created.token)
    text = render_message(
        uow,
        issuer,
        "pay_link",
        wanted.value,
        language_of(payer.language),
        invoice_message_data(issuer, invoice, links, url),
    )
    message_id = new_id("msg")
    uow.collections.add_message(
        {
            "issuer_id": issuer.id,
            "id": message_id,
            "kind": "link",
            "payer_id": invoice.payer.id,
            "subject_key": message_id,
            "step_offset": None,
            "attempt": 1,
            "template": "pay_link",
            "channel": wanted.value,
            "to": payer.addresses[wanted],
            "status": "queued",
            "explanation": f"{wanted}: chosen by the agent",
            "subject": _one_line(text.subject),
            "body": text.text,
            "html": text.html,
            "language": payer.language,
            "pay_link_id": created.link.id,
            "pay_url": url,
            "created_at": now,
            "updated_at": now,
        }
    )
    uow.collections.add_message_invoices(
        [
            {
                "issuer_id": issuer.id,
                "message_id": message_id,
                "invoice_id": invoice.id,
                "step_offset": None,
                "attempt": 1,
                "pay_link_id": created.link.id,
            }
        ]
    )
    record_message_event(uow, issuer.id, message_id)
    uow.jobs.add(issuer.id, MESSAGE_SEND, now, payload={"message_id": message_id})
    message = uow.collections.message(issuer.id, message_id)
    assert message is not None
    return message_resource(message, [invoice.id])


def _as_due_row(invoice: Invoice) -> DueRow:
    p = invoice.payer
    return DueRow(
        issuer_id=invoice.issuer_id,
        invoice_id=invoice.id,
        payer_id=p.id,
        policy_id=None,
        sent_offsets=[],
        next_action_at=None,
        paused=False,
        paused_until=None,
        promise_to_pay_on=None,
        disputed_at=None,
        dispute_reason=None,
        payment_plan_until=None,
        payment_plan_note=None,
        number=invoice.number,
        status=invoice.status.value,
        amount=invoice.amount,
        amount_paid=invoice.amount_paid,
        currency=invoice.currency,
        due_date=invoice.due_date,
        payer_ref=p.ref,
        payer_name=p.name,
        payer_email=p.email,
        payer_phone=p.phone,
        payer_language=p.language,
        payer_timezone=p.timezone,
        payer_address=p.address,
    )

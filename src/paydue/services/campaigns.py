"""Campaigns: send a pay link on one channel to a list of payers, now, at a limited rate.

The list is a set of payer refs (a CSV upload) or a filter on unpaid invoices (``status``,
``overdue_days_min``); it is fixed when the campaign is created: one ``campaign_recipients``
row per payer, each with its ``send_at`` (its place in the rate limit). A ``campaign.run`` job
works through the due recipients, at most ``rate_per_minute`` a run and a run a minute, and
queues for each one message about the payer's matching unpaid invoices (one currency), every
invoice with its own pay link, on the engine's message path (a ``message.send`` job; the worker
hands it to the channel and records the result like any reminder).

The contact rules hold as for reminders: a recipient outside the payer's contact window (quiet
hours, rest day, public holiday, in the payer's timezone) waits until it opens; one over the
weekly cap, opted out, without consent or address on the channel, or whose address bounced is
skipped with the reason. A payer paused by the issuer, or with nothing left to pay, is skipped
too; disputed invoices are left out of the message (a payer with only disputed ones is skipped,
``disputed``). Each recipient is claimed by one conditional ``UPDATE`` (pending → queued) in the
same transaction as its message, so a retried job or two workers never send twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from paydue.adapters.channels.base import Channel as ChannelPort
from paydue.adapters.db.campaigns import Campaign, CampaignRepository, InvoiceFilter, Recipient
from paydue.adapters.db.collections import PayerFollowUp
from paydue.adapters.db.records import Invoice, Issuer, Job
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.channels import Channel
from paydue.domain.contact import WEEK, Contact, ContactRefusal, earliest_send_at, refusal
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.invoices import UNPAID
from paydue.domain.templates import TemplateError, language_of
from paydue.services.collections import (
    MESSAGE_SEND,
    PayerView,
    _as_due_row,
    _channel,
    _payer_view,
)
from paydue.services.ids import new_id
from paydue.services.links import PublicLinks
from paydue.services.paylinks import create_pay_link
from paydue.services.policies import Setup, load_setup
from paydue.services.templates import message_data, render_message

CAMPAIGN_RUN = "campaign.run"
DEFAULT_RATE = 60
MAX_RATE = 10_000
MAX_RECIPIENTS = 100_000
MAX_LINK_HOURS = 24 * 90
RUN_EVERY = timedelta(minutes=1)
DEFERRED = frozenset(
    {ContactRefusal.QUIET_HOURS, ContactRefusal.REST_DAY, ContactRefusal.PUBLIC_HOLIDAY}
)
"""Refusals that pass with time: the recipient waits for the payer's next contact window."""
FILTER_FIELDS = frozenset({"overdue_days_min", "status"})
UNPAID_NAMES = tuple(sorted(s.value for s in UNPAID))


def _repo(uow: UnitOfWork) -> CampaignRepository:
    return CampaignRepository(uow.conn)


# --- the list ---------------------------------------------------------------------------------


def refs_from_csv(data: bytes) -> list[str]:
    """Payer refs from a CSV file: the column ``payer_ref`` (or ``ref``) when the first row
    names one, else the first column of every row. Blank cells are ignored, repeats kept once."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"file: not UTF-8 text (byte {exc.start})", details={"where": "file"}
        ) from None
    try:
        sample = text[:4096]
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise InvalidInput("file: no payer refs", details={"where": "file"})
    header = [h.strip().lower() for h in rows[0]]
    column = next((header.index(n) for n in ("payer_ref", "ref") if n in header), None)
    if column is not None:
        rows = rows[1:]
    else:
        column = 0
    refs = [r[column].strip() for r in rows if len(r) > column and r[column].strip()]
    if not refs:
        raise InvalidInput("file: no payer refs", details={"where": "file"})
    return list(dict.fromkeys(refs))


def _filter(data: Mapping[str, Any] | None, today: Any) -> InvoiceFilter:
    data = dict(data or {})
    unknown = set(data) - FILTER_FIELDS
    if unknown:
        raise InvalidInput(
            f"filter: unknown field(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(FILTER_FIELDS))})",
            details={"where": "filter"},
        )
    days = data.get("overdue_days_min")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise InvalidInput(
            "filter.overdue_days_min: a whole number of days, 0 or more",
            details={"where": "filter.overdue_days_min"},
        )
    status = data.get("status", list(UNPAID_NAMES))
    if isinstance(status, str):
        status = [status]
    if not status or not isinstance(status, list) or not set(status) <= set(UNPAID_NAMES):
        raise InvalidInput(
            f"filter.status: one or more of {', '.join(UNPAID_NAMES)}",
            details={"where": "filter.status"},
        )
    return InvoiceFilter(tuple(sorted(set(status))), days, today)


# --- creating ---------------------------------------------------------------------------------


def create_campaign(
    uow: UnitOfWork,
    issuer: Issuer,
    *,
    channel: str,
    refs: Sequence[str] | None,
    filter: Mapping[str, Any] | None,
    rate_per_minute: int | None,
    expires_in_hours: float | None,
    name: str | None,
    available: Collection[str],
) -> dict[str, Any]:
    """Create the campaign and its recipients and queue its first run now. Either ``refs`` (the
    payers named) or ``filter`` (the payers with matching unpaid invoices), not both."""
    wanted = Channel(_channel(channel, "channel"))
    rate = DEFAULT_RATE if rate_per_minute is None else rate_per_minute
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= MAX_RATE:
        raise InvalidInput(
            f"rate_per_minute: a whole number from 1 to {MAX_RATE}",
            details={"where": "rate_per_minute"},
        )
    if expires_in_hours is not None and not 0 < expires_in_hours <= MAX_LINK_HOURS:
        raise InvalidInput(
            f"expires_in_hours: more than 0, at most {MAX_LINK_HOURS}",
            details={"where": "expires_in_hours"},
        )
    if (refs is None) == (filter is None):
        raise InvalidInput(
            "name the recipients either by payer refs (a CSV file) or by a filter, not both",
            details={"where": "filter"},
        )
    setup = load_setup(uow, issuer.id, available)
    if wanted not in setup.configured:
        raise Conflict(
            f"{wanted} is not a channel this issuer can send on "
            f"(configured: {', '.join(sorted(c.value for c in setup.configured)) or 'none'})",
            code="channel_unavailable",
        )
    now = uow.now()
    today = now.astimezone(setup.tz).date()
    repo = _repo(uow)
    stored_filter = None if filter is None else dict(filter)
    invoice_filter = _filter(stored_filter, today)
    if refs is not None:
        refs = list(dict.fromkeys(r.strip() for r in refs if r and r.strip()))
        if not refs:
            raise InvalidInput("payer_refs: at least one", details={"where": "payer_refs"})
        if any(len(r) > 100 for r in refs):
            raise InvalidInput("payer_refs: at most 100 characters each")
        known = repo.payer_ids(issuer.id, refs)
        listed = [(r, known.get(r)) for r in refs]
    else:
        listed = [(r, pid) for r, pid in repo.payers_matching(issuer.id, invoice_filter)]
    if len(listed) > MAX_RECIPIENTS:
        raise InvalidInput(f"a campaign has at most {MAX_RECIPIENTS} recipients")
    campaign_id = new_id("cmp")
    recipients: list[dict[str, Any]] = []
    for position, (ref, payer_id) in enumerate(listed):
        recipients.append(
            {
                "issuer_id": issuer.id,
                "campaign_id": campaign_id,
                "payer_ref": ref,
                "payer_id": payer_id,
                "position": position,
                "status": "pending" if payer_id else "skipped",
                "reason": None if payer_id else "no payer with this ref",
                "send_at": now + RUN_EVERY * (position // rate),
                "message_id": None,
                "updated_at": now,
            }
        )
    repo.add(
        {
            "issuer_id": issuer.id,
            "id": campaign_id,
            "name": name,
            "channel": wanted.value,
            "source": "refs" if refs is not None else "filter",
            "filter": stored_filter,
            "rate_per_minute": rate,
            "expires_in_hours": expires_in_hours,
            "status": "running",
            "recipients": len(recipients),
            "created_at": now,
            "updated_at": now,
        },
        recipients,
    )
    uow.jobs.add(issuer.id, CAMPAIGN_RUN, now, payload={"campaign_id": campaign_id})
    return get_campaign(uow, issuer.id, campaign_id)


# --- reading ----------------------------------------------------------------------------------


def campaign_resource(
    campaign: Campaign, counts: Mapping[tuple[str, str | None], int]
) -> dict[str, Any]:
    progress = {"pending": 0, "queued": 0, "sent": 0, "delivered": 0, "skipped": 0, "failed": 0}
    for (status, message_status), n in counts.items():
        progress[_shown_status(status, message_status)] += n
    return {
        "id": campaign.id,
        "object": "campaign",
        "name": campaign.name,
        "channel": campaign.channel,
        "source": campaign.source,
        "filter": campaign.filter,
        "rate_per_minute": campaign.rate_per_minute,
        "expires_in_hours": campaign.expires_in_hours,
        "status": campaign.status,
        "recipients": campaign.recipients,
        "counts": progress,
        "created_at": campaign.created_at.isoformat(),
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }


def _shown_status(status: str, message_status: str | None) -> str:
    """A recipient's status as the API shows it: pending (waiting for its turn or its contact
    window), queued (its message not yet handed over), sent, delivered, skipped, failed."""
    if status != "queued" or message_status is None:
        return status
    if message_status in ("bounced", "failed"):
        return "failed"
    return message_status if message_status in ("queued", "sent", "delivered") else "skipped"


def _get(uow: UnitOfWork, issuer_id: str, campaign_id: str) -> Campaign:
    campaign = _repo(uow).get(issuer_id, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}", code="campaign_not_found")
    return campaign


def get_campaign(uow: UnitOfWork, issuer_id: str, campaign_id: str) -> dict[str, Any]:
    campaign = _get(uow, issuer_id, campaign_id)
    return campaign_resource(campaign, _repo(uow).counts(issuer_id, campaign_id))


def list_campaigns(
    uow: UnitOfWork, issuer_id: str, *, after_id: str | None, limit: int
) -> list[dict[str, Any]]:
    repo = _repo(uow)
    return [
        campaign_resource(c, repo.counts(issuer_id, c.id))
        for c in repo.list_campaigns(issuer_id, after_id=after_id, limit=limit)
    ]


def recipient_resource(r: Recipient) -> dict[str, Any]:
    return {
        "object": "campaign_recipient",
        "position": r.position,
        "payer_ref": r.payer_ref,
        "status": _shown_status(r.status, r.message_status),
        "reason": r.reason,
        "send_at": r.send_at.isoformat() if r.status == "pending" else None,
        "message_id": r.message_id,
        "updated_at": r.updated_at.isoformat(),
    }


def list_recipients(
    uow: UnitOfWork, issuer_id: str, campaign_id: str, *, after_position: int | None, limit: int
) -> list[dict[str, Any]]:
    _get(uow, issuer_id, campaign_id)
    rows = _repo(uow).recipients(issuer_id, campaign_id, after_position=after_position, limit=limit)
    return [recipient_resource(r) for r in rows]


# --- running ----------------------------------------------------------------------------------


class RunContext(Protocol):
    """What a campaign run needs from the composition root."""

    @property
    def channels(self) -> Mapping[str, ChannelPort]: ...

    @property
    def links(self) -> PublicLinks: ...

    @property
    def settings(self) -> Any: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...


@dataclass(slots=True)
class RunReport:
    queued: int = 0
    skipped: int = 0
    deferred: int = 0


def run_campaigns(ctx: RunContext, jobs: Sequence[Job], worker_id: str) -> None:
    """The ``campaign.run`` handler: each job runs its campaign's due recipients in one
    transaction, queues the next run (or finishes the campaign) and is finished in it, fenced."""
    for job in jobs:
        with ctx.uow() as uow:
            now = uow.now()
            campaign_id = (job.payload or {}).get("campaign_id", "")
            if not uow.jobs.finish_many([job], worker_id, now):
                continue  # claimed again meanwhile: the new claim runs it
            run_campaign(
                uow,
                job.issuer_id,
                campaign_id,
                available=ctx.channels,
                links=ctx.links,
                secret=ctx.settings.secret_bytes,
            )
            uow.commit()


def run_campaign(
    uow: UnitOfWork,
    issuer_id: str,
    campaign_id: str,
    *,
    available: Collection[str],
    links: PublicLinks,
    secret: bytes,
) -> RunReport:
    """Queue or skip the campaign's due recipients (at most ``rate_per_minute``), then queue
    the next run, or mark the campaign done when no recipient is pending."""
    report = RunReport()
    repo = _repo(uow)
    campaign = repo.get(issuer_id, campaign_id)
    if campaign is None or campaign.status != "running":
        return report
    now = uow.now()
    due = repo.due_recipients(issuer_id, campaign_id, now, campaign.rate_per_minute)
    if due:
        setup = load_setup(uow, issuer_id, available)
        _Run(uow, setup, campaign, now, links, secret, report).recipients(due)
    next_at = repo.next_pending_at(issuer_id, campaign_id)
    if next_at is None:
        repo.finish(issuer_id, campaign_id, now)
    else:
        # one run a minute at most keeps the rate, also when deferred recipients meet
        at = max(next_at, now + RUN_EVERY) if due else next_at
        uow.jobs.add(issuer_id, CAMPAIGN_RUN, at, payload={"campaign_id": campaign_id})
    return report


class _Run:
    def __init__(
        self,
        uow: UnitOfWork,
        setup: Setup,
        campaign: Campaign,
        now: datetime,
        links: PublicLinks,
        secret: bytes,
        report: RunReport,
    ) -> None:
        self.uow, self.setup, self.campaign, self.now = uow, setup, campaign, now
        self.links, self.secret, self.report = links, secret, report
        self.channel = Channel(campaign.channel)
        self.repo = _repo(uow)

    def recipients(self, due: Sequence[Recipient]) -> None:
        issuer_id = self.campaign.issuer_id
        payer_ids = [r.payer_id for r in due if r.payer_id]
        today = self.now.astimezone(self.setup.tz).date()
        f = _filter(self.campaign.filter, today)
        ids = self.repo.invoice_ids(issuer_id, payer_ids, f)
        disputed = self.uow.collections.disputed(
            issuer_id, [i for found in ids.values() for i in found]
        )
        keys = [(issuer_id, p) for p in sorted(set(payer_ids))]
        collections = self.uow.collections
        follows = collections.payer_follow_ups(keys)
        channels = collections.payer_channels(keys)
        contacts = collections.contacts_since(keys, self.now - WEEK)
        for r in due:
            assert r.payer_id is not None  # only known payers are pending
            invoices = self.uow.invoices.get_many(issuer_id, ids.get(r.payer_id, []))
            invoices = [i for i in invoices if i.status in UNPAID]
            if not invoices:
                self._skip(r, "nothing to pay")
                continue
            invoices = [i for i in invoices if i.id not in disputed]
            if not invoices:
                self._skip(r, "disputed")
                continue
            key = (issuer_id, r.payer_id)
            follow = follows.get(key, PayerFollowUp())
            payer = _payer_view(
                self.setup,
                _as_due_row(invoices[0]),
                follow,
                channels.get(key, []),
                contacts.get(key, []),
                today,
            )
            self._one(r, invoices, payer, follow)

    def _skip(self, r: Recipient, reason: str) -> None:
        values = {"status": "skipped", "reason": reason[:500], "updated_at": self.now}
        if self.repo.update_recipient(
            self.campaign.issuer_id, self.campaign.id, r.payer_ref, values, only_if_due=self.now
        ):
            self.report.skipped += 1

    def _one(
        self, r: Recipient, invoices: list[Invoice], payer: PayerView, follow: PayerFollowUp
    ) -> None:
        channel = self.channel
        reach = payer.reach[channel]
        if follow.paused:
            return self._skip(r, "payer paused")
        if not reach.address:
            return self._skip(r, f"no {channel} address")
        if reach.opted_out:
            return self._skip(r, f"opted_out: the payer opted out of {channel}")
        if not reach.consent:
            return self._skip(r, f"no consent to {channel}")
        if reach.hard_bounced_on is not None:
            return self._skip(r, f"{channel} bounced on {reach.hard_bounced_on.isoformat()}")
        rules = self.setup.rules
        refused = refusal(
            rules, channel=channel, at=self.now, payer=payer.calendar, history=payer.contacts
        )
        if refused in DEFERRED:
            at = earliest_send_at(
                rules,
                channel=channel,
                not_before=self.now,
                payer=payer.calendar,
                history=payer.contacts,
            )
            if at is None:
                return self._skip(r, f"{refused.value}: no contact window found")
            self.repo.update_recipient(
                self.campaign.issuer_id,
                self.campaign.id,
                r.payer_ref,
                {"send_at": at, "reason": f"waits: {refused.value}", "updated_at": self.now},
                only_if_due=self.now,
            )
            self.report.deferred += 1
            return None
        if refused is not None:
            cap = rules.max_per_week if refused == ContactRefusal.WEEKLY_CAP else rules.cap(channel)
            return self._skip(r, f"{refused.value}: {cap} contacts in the past 7 days")
        self._queue(r, invoices, payer)
        return None

    def _queue(self, r: Recipient, invoices: list[Invoice], payer: PayerView) -> None:
        uow, c, channel = self.uow, self.campaign, self.channel
        currency = invoices[0].currency
        bundle = [i for i in invoices if i.currency == currency]
        message_id = new_id("msg")
        if not self.repo.update_recipient(
            c.issuer_id,
            c.id,
            r.payer_ref,
            {"status": "queued", "reason": None, "message_id": message_id, "updated_at": self.now},
            only_if_due=self.now,
        ):
            return  # another run took it
        link_ids: dict[str, str] = {}
        urls: list[str] = []
        for invoice in bundle:
            created = create_pay_link(
                uow,
                self.secret,
                c.issuer_id,
                invoice.id,
                expires_in_hours=c.expires_in_hours,
                max_opens=None,
                max_failed_attempts=None,
                require_tan=False,
                channel=channel.value,
            )
            link_ids[invoice.id] = created.link.id
            urls.append(self.links.pay_url(created.token))
        try:
            text = render_message(
                uow,
                self.setup.issuer,
                "pay_link",
                channel.value,
                language_of(payer.language),
                message_data(self.setup.issuer, bundle, urls[0]),
            )
        except TemplateError as exc:
            text = None
            error = f"template: {exc.message}"
        status = "queued" if text is not None else "skipped"
        uow.collections.add_message(
            {
                "issuer_id": c.issuer_id,
                "id": message_id,
                "kind": "campaign",
                "payer_id": payer.payer_id,
                "subject_key": message_id,
                "step_offset": None,
                "attempt": 1,
                "template": "pay_link",
                "channel": channel.value,
                "to": payer.addresses[channel],
                "status": status,
                "explanation": f"{channel}: chosen for campaign {c.id}",
                "subject": text.subject if text else None,
                "body": text.text if text else None,
                "language": payer.language,
                "pay_link_id": link_ids[bundle[0].id],
                "pay_url": urls[0],
                "error": None if text else error[:1000],
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        uow.collections.add_message_invoices(
            [
                {
                    "issuer_id": c.issuer_id,
                    "message_id": message_id,
                    "invoice_id": i.id,
                    "step_offset": None,
                    "attempt": 1,
                    "pay_link_id": link_ids[i.id],
                }
                for i in bundle
            ]
        )
        if text is None:
            self.report.skipped += 1
            return
        uow.jobs.add(c.issuer_id, MESSAGE_SEND, self.now, payload={"message_id": message_id})
        payer.contacts.append(Contact(channel, self.now))
        self.report.queued += 1

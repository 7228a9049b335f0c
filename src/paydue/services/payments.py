"""The payment pipeline, one for all providers.

Paying starts on the pay page: ``begin_payment`` checks the link and the chosen method, and
records a ``created`` payment for the amount still due; the page then asks the provider to start
it (outside any transaction) and stores the provider's id (``attach_provider``).

A provider's notification goes through ``receive_notification``: its signature is checked on the
raw bytes, the raw event is stored once per (issuer, provider, event id) and a job is queued, all
in one short transaction, so the provider gets its 2xx fast. The worker then runs
``apply_notification`` for the job: it finds the payment by reference, checks amount and
currency, applies the transition of ``domain.payments`` under the payment's row lock, and for a
success books a credit and its allocation (the invoice becomes partially paid, paid or overpaid;
events and webhooks follow through the outbox). The job is finished in the same transaction, so
a crash anywhere repeats the whole step and nothing happens twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from paydue.adapters.db.records import Invoice, Issuer, Job, PayLink, Payment, ProviderEvent
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.providers.base import (
    Notification,
    NotificationError,
    PaymentRequest,
    Provider,
)
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.invoices import InvoiceStatus, outstanding
from paydue.domain.money import Money
from paydue.domain.paylinks import refusal
from paydue.domain.payments import TERMINAL, FailureReason, PaymentStatus, transition
from paydue.domain.routing import MethodRule, PaymentFacts, eligible, parse_rules, rule_document
from paydue.services.credits import allocate_credit
from paydue.services.ids import new_id
from paydue.services.invoices import get_invoice
from paydue.services.links import PublicLinks
from paydue.services.paylinks import find_link, state_of

log = logging.getLogger(__name__)

PAYMENT_NOTIFICATION = "payment.notification"
"""The job kind that applies a stored provider notification."""
FAILURES = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED})


def payment_resource(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "object": "payment",
        "invoice_id": payment.invoice_id,
        "pay_link_id": payment.pay_link_id,
        "provider": payment.provider,
        "method": payment.method,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status.value,
        "failure_reason": payment.failure_reason,
        "provider_payment_id": payment.provider_payment_id,
        "received_amount": payment.received_amount,
        "received_currency": payment.received_currency,
        "review_reason": payment.review_reason,
        "credit_id": payment.credit_id,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
        "finished_at": payment.finished_at.isoformat() if payment.finished_at else None,
    }


def _record(uow: UnitOfWork, event_type: str, payment: Payment) -> None:
    uow.record(payment.issuer_id, ev.Event(event_type, payment.id, payment_resource(payment)))


def get_payment(uow: UnitOfWork, issuer_id: str, payment_id: str) -> Payment:
    payment = uow.payments.get(issuer_id, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id!r}", code="payment_not_found")
    return payment


# --- which methods a payment may use ---------------------------------------------------------


def method_rules(issuer: Issuer, providers: Mapping[str, Provider]) -> list[MethodRule]:
    """The issuer's configured methods that this installation can take (a provider removed from
    the installation drops out rather than breaking the page)."""
    known = {name: p.methods for name, p in providers.items()}
    return parse_rules([m for m in issuer.payment_methods if m.get("provider") in known], known)


def offered_methods(
    issuer: Issuer, invoice: Invoice, providers: Mapping[str, Provider]
) -> list[MethodRule]:
    """The methods the pay page offers for ``invoice``, in the issuer's order. Bank transfer is
    shown apart (it is always possible when the issuer has an account)."""
    country = (invoice.payer.address or {}).get("country")
    facts = PaymentFacts(
        amount=outstanding(invoice.status, invoice.amount, invoice.amount_paid),
        currency=invoice.currency,
        country=country if isinstance(country, str) else None,
        tags=frozenset(invoice.tags),
    )
    return [
        rule
        for rule in eligible(method_rules(issuer, providers), facts)
        if providers[rule.provider].notifies
    ]


# --- starting a payment ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    payment: Payment
    link: PayLink
    invoice: Invoice
    issuer: Issuer


def begin_payment(
    uow: UnitOfWork, providers: Mapping[str, Provider], token: str, method_key: str
) -> Started:
    """Record a ``created`` payment of the amount still due, with the chosen method. Refused
    when the link may not be used any more, the invoice needs no payment, or the method is not
    offered for it."""
    link = find_link(uow, token)
    invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
    issuer = uow.issuers.get(link.issuer_id)
    assert issuer is not None
    now = uow.now()
    reason = refusal(state_of(link), now, counting_open=False)
    if reason is not None:
        raise Conflict(f"this payment link cannot be used: {reason.value}", code=reason.value)
    due = outstanding(invoice.status, invoice.amount, invoice.amount_paid)
    if invoice.status == InvoiceStatus.CANCELLED or due == 0:
        raise Conflict("this invoice needs no payment", code="nothing_due")
    offered = {r.key: r for r in offered_methods(issuer, invoice, providers)}
    rule = offered.get(method_key)
    if rule is None:
        raise InvalidInput(f"the method {method_key!r} is not offered for this invoice")
    payment = uow.payments.add(
        {
            "issuer_id": issuer.id,
            "id": new_id("pay"),
            "invoice_id": invoice.id,
            "pay_link_id": link.id,
            "provider": rule.provider,
            "method": rule.method,
            "amount": due,
            "currency": invoice.currency,
            "status": PaymentStatus.CREATED.value,
            "created_at": now,
            "updated_at": now,
        }
    )
    _record(uow, ev.PAYMENT_CREATED, payment)
    return Started(payment, link, invoice, issuer)


def payment_request(
    started: Started, *, locale: str, return_url: str, notify_url: str
) -> PaymentRequest:
    p = started.payment
    return PaymentRequest(
        account=p.issuer_id,
        reference=p.id,
        amount=p.amount,
        currency=p.currency,
        method=p.method,
        description=f"{started.issuer.name} {started.invoice.number}",
        locale=locale,
        return_url=return_url,
        notify_url=notify_url,
    )


def attach_provider(uow: UnitOfWork, payment: Payment, provider_payment_id: str) -> Payment:
    """Remember the provider's id for a payment it started."""
    return uow.payments.update(
        payment, {"provider_payment_id": provider_payment_id, "updated_at": uow.now()}
    )


def fail_to_start(uow: UnitOfWork, payment: Payment, error: str) -> Payment:
    """The provider refused or could not be reached: the payment fails (a technical error), and
    the payer may try again."""
    current = uow.payments.get(payment.issuer_id, payment.id, for_update=True)
    assert current is not None
    if not transition(current.status, PaymentStatus.FAILED):
        return current
    now = uow.now()
    updated = uow.payments.update(
        current,
        {
            "status": PaymentStatus.FAILED.value,
            "failure_reason": FailureReason.TECHNICAL_ERROR.value,
            "review_reason": error[:200],
            "updated_at": now,
            "finished_at": now,
        },
    )
    _record(uow, ev.PAYMENT_FAILED, updated)
    return updated


# --- notifications -----------------------------------------------------------------------------


def receive_notification(
    uow: UnitOfWork, provider: Provider, issuer_id: str, body: bytes, headers: Mapping[str, str]
) -> bool:
    """Verify and store a provider notification for an issuer's account and queue its
    processing. Returns False for a notification stored before (nothing is queued again).

    Raises ``NotificationError`` (signature, staleness, unreadable body: nothing stored) and
    ``NotFound`` for an unknown issuer."""
    if not uow.payments.issuer_exists(issuer_id):
        raise NotFound(f"no issuer {issuer_id!r}", code="issuer_not_found")
    now = uow.now()
    provider.verify_notification(issuer_id, body, headers, now)
    notification = provider.parse_notification(body)
    stored = uow.payments.add_event(
        {
            "issuer_id": issuer_id,
            "provider": provider.name,
            "event_id": notification.event_id,
            "payment_id": notification.reference,
            "status": "received",
            "payload": body,
            "received_at": now,
        }
    )
    if stored:
        uow.jobs.add(
            issuer_id,
            PAYMENT_NOTIFICATION,
            now,
            payload={"provider": provider.name, "event_id": notification.event_id},
        )
    return stored


@dataclass(frozen=True, slots=True)
class Inbound:
    """A notification as it arrived: for ``receive_notifications``."""

    provider: Provider
    issuer_id: str
    body: bytes
    headers: Mapping[str, str]


def receive_notifications(
    uow: UnitOfWork, items: Sequence[Inbound]
) -> list[bool | NotificationError | NotFound]:
    """``receive_notification`` for many notifications in the caller's transaction, so that they
    share one commit: per item, True (stored and queued), False (stored before, or earlier in
    this batch) or the refusal (``NotificationError``, or ``NotFound`` for an unknown issuer),
    for which nothing is written. Every refusal happens before anything is written, so the
    others are unaffected. The raw events are inserted in one statement and their jobs in one
    per issuer, in (issuer, provider, event id) order, so that batches committing at the same
    time in other processes take the unique keys in the same order."""
    now = uow.now()
    results: list[bool | NotificationError | NotFound] = [False] * len(items)
    known: dict[str, bool] = {}
    accepted: list[tuple[tuple[str, str, str], int, Notification]] = []
    for i, item in enumerate(items):
        try:
            if item.issuer_id not in known:
                known[item.issuer_id] = uow.payments.issuer_exists(item.issuer_id)
            if not known[item.issuer_id]:
                raise NotFound(f"no issuer {item.issuer_id!r}", code="issuer_not_found")
            item.provider.verify_notification(item.issuer_id, item.body, item.headers, now)
            notification = item.provider.parse_notification(item.body)
        except (NotificationError, NotFound) as exc:
            results[i] = exc
            continue
        accepted.append(
            ((item.issuer_id, item.provider.name, notification.event_id), i, notification)
        )
    accepted.sort()
    rows: list[dict[str, Any]] = []
    first: dict[tuple[str, str, str], int] = {}
    for key, i, notification in accepted:
        if key in first:
            continue  # the same notification twice in this batch: the first one is stored
        first[key] = i
        rows.append(
            {
                "issuer_id": key[0],
                "provider": key[1],
                "event_id": key[2],
                "payment_id": notification.reference,
                "status": "received",
                "payload": items[i].body,
                "received_at": now,
            }
        )
    stored = uow.payments.add_events(rows)
    queued: dict[str, list[dict[str, str]]] = {}
    for key in sorted(stored):
        results[first[key]] = True
        queued.setdefault(key[0], []).append({"provider": key[1], "event_id": key[2]})
    for issuer_id, payloads in queued.items():
        uow.jobs.add_many(issuer_id, PAYMENT_NOTIFICATION, now, payloads)
    return results


Finished = list[tuple[ProviderEvent, str, str]]
"""Notifications applied in a transaction whose stored status is still to be written: (event,
status, outcome)."""


def apply_notification(
    uow: UnitOfWork,
    links: PublicLinks,
    providers: Mapping[str, Provider],
    issuer_id: str,
    provider_name: str,
    event_id: str,
    *,
    finished: Finished | None = None,
    issuers: dict[str, Issuer] | None = None,
) -> str:
    """Apply one stored notification; returns what it did, which is also stored on it. A
    notification applied before does nothing.

    The notification and its payment are locked in one query. ``finished``, when given,
    collects the notification's new status for the caller to write (``finish_events``) in this
    same transaction, with the others of its batch; ``issuers`` caches the issuers read in this
    transaction."""
    found = uow.payments.event_with_payment(issuer_id, provider_name, event_id)
    if found is not None:
        event: ProviderEvent | None
        event, locked = found
    else:
        event, locked = (
            uow.payments.get_event(issuer_id, provider_name, event_id, for_update=True),
            None,
        )
    if event is None or event.status != "received":
        return "nothing to do"
    outcome: tuple[str, str]
    provider = providers.get(provider_name)
    if provider is None:
        outcome = "ignored", f"no provider {provider_name!r} here"
    else:
        notification = provider.parse_notification(event.payload)
        payment = (
            locked
            if locked is not None and locked.id == notification.reference
            else uow.payments.get(issuer_id, notification.reference, for_update=True)
        )
        if payment is None or payment.provider != provider_name:
            outcome = "ignored", "no payment of this issuer has this reference"
        else:
            outcome = "processed", _apply(uow, links, payment, notification, issuers)
    status, what = outcome
    if finished is not None:
        finished.append((event, status, what))
    else:
        uow.payments.finish_event(event, status, what, uow.now())
    return what


def _as_updated(payment: Payment, values: Mapping[str, Any]) -> Payment:
    """The payment as ``values`` leave it (what ``update`` would read back)."""
    return replace(payment, **{**values, "status": PaymentStatus(values["status"])})


def _apply(
    uow: UnitOfWork,
    links: PublicLinks,
    payment: Payment,
    n: Notification,
    issuers: dict[str, Issuer] | None,
) -> str:
    """Move a locked payment to the notified state; the state machine decides what is allowed:
    a repeat is a no-op, a late "pending" after a final state is ignored. The payment row is
    written once, with everything the notification changes on it."""
    try:
        if not transition(payment.status, n.status):
            return f"no change: already {payment.status.value}"
    except Conflict as exc:
        return f"ignored: {exc.message}; the payment stays {payment.status.value}"
    now = uow.now()
    values: dict[str, Any] = {
        "status": n.status.value,
        "provider_payment_id": n.provider_payment_id,
        "updated_at": now,
    }
    if n.status in TERMINAL:
        values["finished_at"] = now
    if n.status in FAILURES:
        values["failure_reason"] = (n.failure_reason or FailureReason.DECLINED).value
    review: str | None = None
    if n.status == PaymentStatus.SUCCEEDED:
        asked = Money(payment.amount, payment.currency)
        taken = Money(n.amount, n.currency)
        if taken != asked:
            review = f"the provider took {taken} for a payment of {asked}"
    if review is not None:
        values.update(received_amount=n.amount, received_currency=n.currency, review_reason=review)
    _record(uow, f"payment.{n.status.value}", _as_updated(payment, values))
    if n.status == PaymentStatus.SUCCEEDED and review is None:
        credit_id, review = _book(uow, links, payment, issuers)
        if review is None:
            values["credit_id"] = credit_id
        else:
            values.update(
                received_amount=payment.amount,
                received_currency=payment.currency,
                review_reason=review[:200],
            )
    uow.payments.set_values(payment, values)
    if review is not None:
        _record(uow, ev.PAYMENT_REVIEW_REQUIRED, _as_updated(payment, values))
        return f"{n.status.value}, held for review: {review}"
    if n.status == PaymentStatus.FAILED and payment.pay_link_id is not None:
        uow.pay_links.record_failed_payment(payment.issuer_id, payment.pay_link_id)
    return n.status.value


def _book(
    uow: UnitOfWork, links: PublicLinks, payment: Payment, issuers: dict[str, Issuer] | None
) -> tuple[str | None, str | None]:
    """Book a succeeded payment as a credit allocated to its invoice: (credit id, None). An
    invoice that takes no payment any more (cancelled) leaves the money recorded on the
    payment, for review: (None, why)."""
    issuer = issuers.get(payment.issuer_id) if issuers is not None else None
    if issuer is None:
        issuer = uow.issuers.get(payment.issuer_id)
        assert issuer is not None
        if issuers is not None:
            issuers[issuer.id] = issuer
    try:
        credit_id, _ = allocate_credit(
            uow,
            links,
            issuer,
            payment.invoice_id,
            amount=payment.amount,
            currency=payment.currency,
            received_on=uow.now().date(),
            source="provider",
            note=f"payment {payment.id} ({payment.provider} {payment.method})",
        )
    except Conflict as exc:
        return None, exc.message
    return credit_id, None


class PipelineContext(Protocol):
    """What the notification worker needs from the composition root."""

    links: PublicLinks

    @property
    def providers(self) -> Mapping[str, Provider]: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...


def process_notifications(ctx: PipelineContext, jobs: Sequence[Job], worker_id: str) -> None:
    """The handler of ``payment.notification`` jobs. The claimed batch is applied in one
    transaction and its jobs finished in that same transaction (fenced), so the commit, the
    event-sequence reservation and the round trips of the commit are paid once per batch, not
    once per job; the notifications' stored status is written for the batch at once, and each
    issuer is read once. If any job fails, or the worker lost the lease of any of them, the
    whole transaction is rolled back and the jobs go one transaction each, as below: a worker
    that lost a lease rolls that job's effects back and leaves it to the worker that took it
    over."""
    if len(jobs) > 1:
        try:
            with ctx.uow() as uow:
                _apply_jobs(ctx, uow, jobs)
                if len(uow.jobs.finish_many(jobs, worker_id, uow.now())) == len(jobs):
                    uow.commit()
                    return
                uow.rollback()
        except Exception:
            log.warning("a batch of %d notifications failed; one by one now", len(jobs))
    for job in jobs:
        with ctx.uow() as uow:
            _apply_jobs(ctx, uow, [job])
            if job.id in uow.jobs.finish_many([job], worker_id, uow.now()):
                uow.commit()
            else:
                uow.rollback()


def _apply_jobs(ctx: PipelineContext, uow: UnitOfWork, jobs: Sequence[Job]) -> None:
    finished: Finished = []
    issuers: dict[str, Issuer] = {}
    for job in jobs:
        payload = job.payload or {}
        apply_notification(
            uow,
            ctx.links,
            ctx.providers,
            job.issuer_id,
            str(payload.get("provider")),
            str(payload.get("event_id")),
            finished=finished,
            issuers=issuers,
        )
    uow.payments.finish_events(finished, uow.now())


def set_methods(
    uow: UnitOfWork,
    issuer: Issuer,
    providers: Mapping[str, Provider],
    items: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Replace the issuer's payment methods (validated by ``domain.routing.parse_rules``)."""
    known = {name: p.methods for name, p in providers.items()}
    stored = [rule_document(rule) for rule in parse_rules(items, known)]
    uow.issuers.update(issuer.id, {"payment_methods": stored})
    return stored

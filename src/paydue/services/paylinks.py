"""Pay links: extra links with their own limits, revocation, opening and TAN checks."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paydue.adapters.db.paylinks import PageView
from paydue.adapters.db.records import Invoice, PayLink
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.invoices import InvoiceStatus
from paydue.domain.paylinks import PayLinkLimits as Limits
from paydue.domain.paylinks import (
    PayLinkState,
    Refusal,
    limits_from_request,
    refusal,
    tan_attempts_left,
)
from paydue.services.ids import hash_tan, hash_token, new_id, new_tan, new_token
from paydue.services.invoices import get_invoice

CHANNELS = frozenset(
    {
        "api",
        "email",
        "sms",
        "voice",
        "push",
        "letter",
        "whatsapp",
        "webhook",
        "qr",
        "agent",
        "other",
    }
)


@dataclass(frozen=True, slots=True)
class CreatedPayLink:
    link: PayLink
    token: str
    tan: str | None


def state_of(link: PayLink) -> PayLinkState:
    return PayLinkState(
        limits=Limits(
            link.expires_at, link.max_opens, link.max_failed_attempts, link.tan_hash is not None
        ),
        open_count=link.open_count,
        failed_attempts=link.failed_attempts,
        tan_failures=link.tan_failures,
        revoked=link.revoked_at is not None,
    )


def create_pay_link(
    uow: UnitOfWork,
    secret: bytes,
    issuer_id: str,
    invoice_id: str,
    *,
    expires_in_hours: float | None,
    max_opens: int | None,
    max_failed_attempts: int | None,
    require_tan: bool,
    channel: str | None,
) -> CreatedPayLink:
    invoice = get_invoice(uow, issuer_id, invoice_id)
    if invoice.status == InvoiceStatus.CANCELLED:
        raise Conflict(
            "the invoice is cancelled; no pay link can be made for it", code="invoice_cancelled"
        )
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; one of {sorted(CHANNELS)}")
    now = uow.now()
    limits = limits_from_request(
        now,
        expires_in_hours=expires_in_hours,
        max_opens=max_opens,
        max_failed_attempts=max_failed_attempts,
        require_tan=require_tan,
    )
    link_id = new_id("pl")
    token = new_token()
    tan = new_tan() if limits.require_tan else None
    uow.pay_links.add_many(
        [
            {
                "issuer_id": issuer_id,
                "id": link_id,
                "invoice_id": invoice.id,
                "token_hash": hash_token(token),
                "is_primary": False,
                "channel": channel,
                "expires_at": limits.expires_at,
                "max_opens": limits.max_opens,
                "open_count": 0,
                "max_failed_attempts": limits.max_failed_attempts,
                "failed_attempts": 0,
                "tan_hash": hash_tan(secret, link_id, tan) if tan else None,
                "tan_failures": 0,
                "created_at": now,
            }
        ]
    )
    link = uow.pay_links.get(issuer_id, link_id)
    assert link is not None
    uow.record(issuer_id, ev.Event(ev.PAYLINK_CREATED, link_id, pay_link_resource(link, None)))
    return CreatedPayLink(link, token, tan)


def revoke_pay_link(uow: UnitOfWork, issuer_id: str, link_id: str) -> PayLink:
    link = uow.pay_links.get(issuer_id, link_id)
    if link is None:
        raise NotFound(f"no pay link {link_id!r}", code="pay_link_not_found")
    if uow.pay_links.revoke(issuer_id, link_id, uow.now()):
        link = uow.pay_links.get(issuer_id, link_id)
        assert link is not None
        uow.record(issuer_id, ev.Event(ev.PAYLINK_REVOKED, link_id, pay_link_resource(link, None)))
    return link


def pay_link_resource(link: PayLink, url: str | None) -> dict[str, object]:
    return {
        "id": link.id,
        "object": "pay_link",
        "invoice_id": link.invoice_id,
        "primary": link.is_primary,
        "channel": link.channel,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "max_opens": link.max_opens,
        "opens": link.open_count,
        "max_failed_attempts": link.max_failed_attempts,
        "failed_attempts": link.failed_attempts,
        "require_tan": link.tan_hash is not None,
        "revoked": link.revoked_at is not None,
        "created_at": link.created_at.isoformat(),
        **({"url": url} if url else {}),
    }


class OpenOutcome(StrEnum):
    SHOW = "show"
    NEED_TAN = "need_tan"
    REFUSED = "refused"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class Opened:
    outcome: OpenOutcome
    link: PayLink
    invoice: Invoice
    refusal: Refusal | None = None
    tan_attempts_left: int | None = None


def find_link(uow: UnitOfWork, token: str) -> PayLink:
    link = uow.pay_links.by_token_hash(hash_token(token))
    if link is None:
        raise NotFound("this payment link does not exist", code="pay_link_not_found")
    return link


def open_pay_link(
    uow: UnitOfWork, token: str, *, tan_verified: bool | Callable[[PayLink], bool]
) -> Opened:
    """A payer opens a link. Counts the open atomically (the limit holds under concurrency) and
    says what the page shows. A TAN link reveals nothing about the invoice, not even that it is
    paid, before its TAN was given, and counts its open only then."""
    return count_open(uow, look_at_pay_link(uow, token, tan_verified=tan_verified))


def look_at_pay_link(
    uow: UnitOfWork, token: str, *, tan_verified: bool | Callable[[PayLink], bool]
) -> Opened:
    """What opening the link would show, reading only: ``SHOW`` still needs ``count_open``,
    which may refuse it. ``tan_verified`` may be a check of the found link (the page's TAN
    pass)."""
    link = find_link(uow, token)
    invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
    return _decide(link, invoice, uow.now(), tan_verified)


def _decide(
    link: PayLink,
    invoice: Invoice,
    now: datetime,
    tan_verified: bool | Callable[[PayLink], bool],
) -> Opened:
    if invoice.status == InvoiceStatus.CANCELLED:
        return Opened(OpenOutcome.REFUSED, link, invoice, Refusal.INVOICE_CANCELLED)
    paid = invoice.status in (InvoiceStatus.PAID, InvoiceStatus.OVERPAID)
    reason = refusal(state_of(link), now, counting_open=not paid)
    if reason is not None:
        return Opened(OpenOutcome.REFUSED, link, invoice, reason)
    verified = tan_verified(link) if callable(tan_verified) else tan_verified
    if link.tan_hash is not None and not verified:
        return Opened(
            OpenOutcome.NEED_TAN,
            link,
            invoice,
            tan_attempts_left=tan_attempts_left(link.tan_failures),
        )
    if paid:
        return Opened(OpenOutcome.PAID, link, invoice)
    return Opened(OpenOutcome.SHOW, link, invoice)


def open_for_page(
    uow: UnitOfWork, token: str, *, tan_verified: bool | Callable[[PayLink], bool]
) -> tuple[Opened, PageView]:
    """The pay page's open, in two statements: link, invoice, payer and issuer read in one
    query, and, when the page would be shown, the open counted by one conditional
    ``UPDATE … RETURNING`` that applies the refusal rules again in SQL (the limit holds under
    concurrency; a link revoked, expired or used up since the read is refused). The caller
    commits. Same outcomes as ``open_pay_link``."""
    view = uow.pay_links.page_view(hash_token(token))
    if view is None:
        raise NotFound("this payment link does not exist", code="pay_link_not_found")
    now: datetime = uow.now()
    opened = _decide(view.link, view.invoice, now, tan_verified)
    if opened.outcome != OpenOutcome.SHOW or uow.pay_links.count_open_if_usable(opened.link, now):
        return opened, view
    return _refused_now(uow, opened, now), view


def count_open(uow: UnitOfWork, opened: Opened) -> Opened:
    """Count the open of a link ``look_at_pay_link`` would show: one conditional ``UPDATE``
    (under the limit, not revoked). Refused when the limit was reached or the link revoked
    since it was read."""
    if opened.outcome != OpenOutcome.SHOW:
        return opened
    link, now = opened.link, uow.now()
    if uow.pay_links.count_open(link, now):
        return opened
    return _refused_now(uow, opened, now)


def _refused_now(uow: UnitOfWork, opened: Opened, now: datetime) -> Opened:
    """Why an open that the conditional update did not count was refused, from the link as it
    is now."""
    link = opened.link
    current = uow.pay_links.get(link.issuer_id, link.id) or link
    reason = refusal(state_of(current), now, counting_open=True) or Refusal.TOO_MANY_OPENS
    return Opened(OpenOutcome.REFUSED, current, opened.invoice, reason)


def shows_bank_details(link: PayLink, now: datetime) -> bool:
    """Whether the link's public images may carry the bank details (EPC QR): not for a link
    that is refused, nor for one behind a TAN (an image request carries no TAN)."""
    return link.tan_hash is None and refusal(state_of(link), now, counting_open=False) is None


def verify_tan(uow: UnitOfWork, secret: bytes, token: str, tan: str) -> tuple[bool, int]:
    """Check a TAN; returns (correct, attempts left). At five wrong TANs the link locks.

    Each try first takes one attempt with a conditional update and gives it back when the TAN is
    right, so concurrent guesses can never make more than five wrong tries in total."""
    link = find_link(uow, token)
    if link.tan_hash is None:
        return True, 0
    if refusal(state_of(link), uow.now(), counting_open=False) is not None:
        return False, tan_attempts_left(link.tan_failures)  # a dead link costs no try
    if not uow.pay_links.take_tan_attempt(link):
        return False, 0
    if hmac.compare_digest(link.tan_hash, hash_tan(secret, link.id, tan.strip())):
        uow.pay_links.give_back_tan_attempt(link)
        return True, tan_attempts_left(link.tan_failures)
    current = uow.pay_links.get(link.issuer_id, link.id)
    assert current is not None
    return False, tan_attempts_left(current.tan_failures)

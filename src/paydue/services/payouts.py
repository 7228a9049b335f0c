"""Provider payouts (clearing): the bank credit that pays out many provider payments at once.

A payment a provider confirmed was booked on its invoice then (a ``provider`` credit, see
``services.payments``): the invoice is settled, and the money sits in the provider's clearing
position until the provider pays it out. The provider reports a payout (``register_payout``:
its reference, and per payment the amount and the fee it kept); the payments must be this
issuer's, of that provider, succeeded and booked, and in no other payout. The payout is
``open``.

The bank credit of the payout's net amount then arrives with the payout reference in its text or
end-to-end id. The statement import asks ``domain.payouts.match_payout`` before any invoice
matching: a line that fits closes the clearing entry (``settle_line``: the payout is
``settled``, journal rows ``payout`` for the net and ``payout_fee`` for the fees, a
``payout.settled`` event). A line that carries the reference but not the net amount (or several
payouts' references) goes to suspense with the payout as its suggestion and the payout becomes
``difference`` (``difference_line``). Either way the line never pays an invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from paydue.adapters.db.payouts import PayoutItemRow, PayoutRecord
from paydue.adapters.db.statements import LineRecord
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.money import MoneyError, check_currency, describe
from paydue.domain.payments import PaymentStatus
from paydue.domain.payouts import (
    DIFFERENCE,
    SETTLED,
    STATUSES,
    PaidPayment,
    PayoutCandidate,
    PayoutDifference,
    PayoutItem,
    PayoutSettles,
    group_for_payout,
    totals,
)
from paydue.services import journal
from paydue.services.ids import new_id
from paydue.services.suspense import new_suspense_item

RULE = "payout"
"""The rule name on statement lines, journal rows and suspense suggestions of payouts."""
SIMULATOR = "simulator"
RECENT = timedelta(days=90)


def payout_resource(
    record: PayoutRecord, items: Sequence[PayoutItemRow] | None = None
) -> dict[str, Any]:
    """The public representation of a payout (with its items when given)."""
    resource: dict[str, Any] = {
        "id": record.id,
        "object": "payout",
        "provider": record.provider,
        "reference": record.reference,
        "currency": record.currency,
        "gross": record.gross,
        "fees": record.fees,
        "net": record.net,
        "status": record.status,
        "statement_line_id": record.line_id,
        "received_amount": record.received_amount,
        "difference": (
            record.received_amount - record.net
            if record.status == DIFFERENCE and record.received_amount is not None
            else None
        ),
        "created_at": record.created_at.isoformat(),
        "closed_at": record.closed_at.isoformat() if record.closed_at else None,
    }
    if items is not None:
        resource["items"] = [
            {
                "payment_id": i.payment_id,
                "invoice_id": i.invoice_id,
                "amount": i.amount,
                "fee": i.fee,
            }
            for i in items
        ]
    return resource


# --- reading ------------------------------------------------------------------------------------


def _payout(uow: UnitOfWork, issuer_id: str, payout_id: str) -> PayoutRecord:
    record = uow.payouts.get(issuer_id, payout_id)
    if record is None:
        raise NotFound(f"no payout {payout_id!r}", code="payout_not_found")
    return record


def get_payout(uow: UnitOfWork, issuer_id: str, payout_id: str) -> dict[str, Any]:
    """A payout with the payments it settles."""
    record = _payout(uow, issuer_id, payout_id)
    return payout_resource(record, uow.payouts.items_of(issuer_id, record.id))


def list_payouts(
    uow: UnitOfWork,
    issuer_id: str,
    *,
    statuses: Sequence[str] | None = None,
    provider: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Payouts in id (creation) order, for cursor pagination."""
    unknown = set(statuses or ()) - STATUSES
    if unknown:
        raise InvalidInput(f"unknown status {sorted(unknown)}; one of {sorted(STATUSES)}")
    rows = uow.payouts.page(
        issuer_id, statuses=statuses, provider=provider, after=after_id, limit=limit
    )
    return [payout_resource(r) for r in rows]


def clearing(uow: UnitOfWork, issuer_id: str) -> list[dict[str, Any]]:
    """The clearing position: per provider and currency, the booked provider payments that no
    payout lists yet, and the open payouts (reported, bank credit not arrived)."""
    position: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(provider: str, currency: str) -> dict[str, Any]:
        return position.setdefault(
            (provider, currency),
            {
                "provider": provider,
                "currency": currency,
                "not_paid_out": {"payments": 0, "amount": 0},
                "open_payouts": {"payouts": 0, "gross": 0, "net": 0},
            },
        )

    for row in uow.payouts.clearing(issuer_id):
        entry(row.provider, row.currency)["not_paid_out"] = {
            "payments": row.payments,
            "amount": row.amount,
        }
    for p in uow.payouts.open_payouts(issuer_id):
        open_ = entry(p.provider, p.currency)["open_payouts"]
        open_["payouts"] += 1
        open_["gross"] += p.gross
        open_["net"] += p.net
    return [position[k] for k in sorted(position)]


# --- a provider reports a payout ------------------------------------------------------------------


def register_payout(
    uow: UnitOfWork,
    issuer_id: str,
    *,
    provider: str,
    reference: str,
    currency: str,
    items: Sequence[PayoutItem],
) -> dict[str, Any]:
    """Record a payout the provider reported. Every payment is locked (in id order) and checked
    before anything is written: this issuer's, made through ``provider`` in ``currency``,
    succeeded and booked on its invoice, of exactly the item's amount, and in no payout yet. A
    reference the provider used before is refused."""
    reference = reference.strip()
    if not reference:
        raise InvalidInput("the payout reference is empty", code="payout_reference_missing")
    try:
        check_currency(currency)
    except MoneyError as exc:
        raise InvalidInput(str(exc)) from exc
    sums = totals(items)
    existing = uow.payouts.by_reference(issuer_id, provider, reference)
    if existing is not None:
        raise Conflict(
            f"{provider} reported payout {reference} before: {existing.id}",
            code="payout_exists",
            details={"payout_id": existing.id},
        )
    index = {item.payment_id: position for position, item in enumerate(items)}
    for payment_id in sorted(index):
        at = index[payment_id]
        item = items[at]
        where = f"items[{at}]"
        payment = uow.payments.get(issuer_id, payment_id, for_update=True)
        if payment is None:
            raise NotFound(
                f"{where}: no payment {payment_id!r}",
                code="payment_not_found",
                details={"item": at},
            )
        if payment.provider != provider:
            raise InvalidInput(
                f"{where}: payment {payment_id} was made through {payment.provider}, "
                f"not {provider}",
                code="payout_provider_mismatch",
                details={"item": at},
            )
        if payment.status != PaymentStatus.SUCCEEDED or payment.credit_id is None:
            state = (
                payment.status.value
                if payment.status != PaymentStatus.SUCCEEDED
                else "held for review, not booked"
            )
            raise Conflict(
                f"{where}: payment {payment_id} is {state}; only booked, succeeded payments "
                "are paid out",
                code="payment_not_booked",
                details={"item": at},
            )
        if payment.currency != currency or payment.amount != item.amount:
            raise InvalidInput(
                f"{where}: payment {payment_id} is {describe(payment.amount, payment.currency)}, "
                f"the payout lists {describe(item.amount, currency)}",
                code="payout_amount_mismatch",
                details={"item": at},
            )
    paid_out = uow.payouts.paid_out(issuer_id, sorted(index))
    if paid_out:
        payment_id = min(paid_out)
        raise Conflict(
            f"items[{index[payment_id]}]: payment {payment_id} is in payout "
            f"{paid_out[payment_id]} already",
            code="payment_paid_out",
            details={"item": index[payment_id], "payout_id": paid_out[payment_id]},
        )
    payout_id = new_id("po")
    uow.payouts.add(
        {
            "issuer_id": issuer_id,
            "id": payout_id,
            "provider": provider,
            "reference": reference,
            "currency": currency,
            "gross": sums.gross,
            "fees": sums.fees,
            "net": sums.net,
            "status": "open",
            "created_at": uow.now(),
        },
        [
            {
                "issuer_id": issuer_id,
                "payout_id": payout_id,
                "payment_id": i.payment_id,
                "amount": i.amount,
                "fee": i.fee,
            }
            for i in items
        ],
    )
    resource = get_payout(uow, issuer_id, payout_id)
    uow.record(issuer_id, ev.Event(ev.PAYOUT_CREATED, payout_id, resource))
    return resource


def simulator_payouts(
    uow: UnitOfWork, issuer_id: str, *, currency: str | None = None
) -> list[dict[str, Any]]:
    """What the simulator does at the end of its day: one payout per currency of the issuer's
    succeeded simulator payments not paid out yet, with its fee (``domain.payouts``); each is
    registered like a payout any provider reports. Returns the payouts (none when nothing is
    due)."""
    unpaid = [
        PaidPayment(r.id, r.amount, r.currency)
        for r in uow.payouts.unpaid_payments(issuer_id, SIMULATOR)
        if currency is None or r.currency == currency
    ]
    created = []
    for cur, items in group_for_payout(unpaid).items():
        reference = "SIMPO" + new_id("po").removeprefix("po_").upper()
        created.append(
            register_payout(
                uow, issuer_id, provider=SIMULATOR, reference=reference, currency=cur, items=items
            )
        )
    return created


# --- the bank credit of a payout ------------------------------------------------------------------


def candidates(uow: UnitOfWork, issuer_id: str) -> list[PayoutCandidate]:
    """What the matcher looks for: the issuer's open payouts, and those closed in the last
    :data:`RECENT` (a line naming one of those goes to suspense, not to an invoice)."""
    return [
        PayoutCandidate(p.id, p.provider, p.reference, p.net, p.currency, p.status)
        for p in uow.payouts.matchable(issuer_id, uow.now() - RECENT)
    ]


def settle_line(uow: UnitOfWork, issuer_id: str, line: LineRecord, decision: PayoutSettles) -> bool:
    """Close the payout's clearing entry with the bank credit ``line``: the payout becomes
    ``settled``, the journal gets a ``payout`` row (net) and a ``payout_fee`` row (fees), and
    ``payout.settled`` is recorded. False when the payout was closed meanwhile (another line,
    another import): nothing was written, and the caller queues the line."""
    payout = decision.payout
    if not uow.payouts.close(
        issuer_id,
        payout.id,
        status=SETTLED,
        line_id=line.id,
        received_amount=line.amount,
        now=uow.now(),
    ):
        return False
    record = uow.payouts.get(issuer_id, payout.id)
    assert record is not None
    uow.statements.set_line_outcome(
        issuer_id,
        line.id,
        outcome="matched",
        rule=RULE,
        confidence=1.0,
        explanation=decision.explanation,
    )
    detail = (
        f"payout {record.id} ({record.provider} {record.reference}): gross "
        f"{describe(record.gross, record.currency)}, fees {describe(record.fees, record.currency)}"
    )
    journal.record(
        uow,
        issuer_id,
        journal.PAYOUT,
        currency=record.currency,
        parts=[(None, record.net)],
        line_id=line.id,
        rule=RULE,
        detail=detail,
    )
    if record.fees:
        journal.record(
            uow,
            issuer_id,
            journal.PAYOUT_FEE,
            currency=record.currency,
            parts=[(None, record.fees)],
            line_id=line.id,
            rule=RULE,
            detail=detail,
        )
    resource = get_payout(uow, issuer_id, record.id)
    uow.record(issuer_id, ev.Event(ev.PAYOUT_SETTLED, record.id, resource))
    return True


def _suggestion(payout: PayoutCandidate, explanation: str, confidence: float) -> dict[str, Any]:
    return {
        "rule": RULE,
        "confidence": confidence,
        "explanation": explanation,
        "allocations": [],
        "payout_id": payout.id,
        "payout_reference": payout.reference,
        "provider": payout.provider,
        "net": payout.net,
        "currency": payout.currency,
    }


def difference_line(
    uow: UnitOfWork, issuer_id: str, line: LineRecord, decision: PayoutDifference
) -> dict[str, Any]:
    """Queue a line that carries a payout reference but does not settle it, with the payout(s)
    as suggestions; a single payout it names becomes ``difference`` (``payout.difference``)
    when it was open. Returns the suspense item."""
    reason = decision.explanation
    uow.statements.set_line_outcome(issuer_id, line.id, rule=RULE, explanation=reason)
    line = replace(line, rule=RULE, explanation=reason)
    confidence = 0.9 if len(decision.payouts) == 1 else 0.5
    suggestions = [
        _suggestion(
            p,
            f"payout {p.reference} of {p.provider}, net {describe(p.net, p.currency)}",
            confidence,
        )
        for p in decision.payouts
    ]
    item = new_suspense_item(uow, issuer_id, line, reason, suggestions)
    if len(decision.payouts) == 1:
        [payout] = decision.payouts
        if uow.payouts.close(
            issuer_id,
            payout.id,
            status=DIFFERENCE,
            line_id=line.id,
            received_amount=line.amount,
            now=uow.now(),
        ):
            resource = get_payout(uow, issuer_id, payout.id)
            resource["suspense_item_id"] = item["id"]
            uow.record(issuer_id, ev.Event(ev.PAYOUT_DIFFERENCE, payout.id, resource))
    return item

"""The suspense queue: credits that could not be allocated with confidence wait for a person.

An item is ``open`` until someone assigns it to invoices (``assigned``: a ``bank`` credit is
booked, split over the invoices as given, and the sender's IBAN is learned) or resolves it
otherwise (``refund_pending``, ``other_income``). ``undo`` returns an item to ``open``: an
assignment is reversed (negative allocations, invoice status derived again) and the IBAN fact it
taught is forgotten. Every action is written to the audit log with who did it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.statements import LineRecord, SuspenseRecord
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.domain.matching import Suggestion
from paydue.domain.money import describe
from paydue.services import journal
from paydue.services.credits import allocate_credit_split, reverse_credit
from paydue.services.ids import new_id
from paydue.services.links import PublicLinks

OPEN = "open"
ASSIGNED = "assigned"
RESOLUTIONS = frozenset({"refund_pending", "other_income"})
STATUSES = frozenset({OPEN, ASSIGNED, *RESOLUTIONS})


def compact_iban(iban: str) -> str:
    """An IBAN without spaces, upper case: the form IBAN facts are stored and looked up in."""
    return "".join(iban.split()).upper()


def line_resource(line: LineRecord) -> dict[str, Any]:
    """The public representation of a statement line and its outcome."""
    return {
        "id": line.id,
        "object": "statement_line",
        "statement_id": line.statement_id,
        "fingerprint": line.fingerprint,
        "booking_date": line.booking_date.isoformat(),
        "value_date": line.value_date.isoformat() if line.value_date else None,
        "amount": line.amount,
        "currency": line.currency,
        "counterparty": {
            "name": line.counterparty_name,
            "iban": line.counterparty_iban,
            "bic": line.counterparty_bic,
        },
        "structured_reference": line.structured_reference,
        "remittance_text": line.remittance_text,
        "end_to_end_id": line.end_to_end_id,
        "bank_reference": line.bank_reference,
        "return_reason": line.return_reason,
        "outcome": line.outcome,
        "rule": line.rule,
        "confidence": line.confidence,
        "explanation": line.explanation,
        "credit_id": line.credit_id,
    }


def suspense_resource(item: SuspenseRecord, line: LineRecord) -> dict[str, Any]:
    """The public representation of a suspense item, with its statement line."""
    return {
        "id": item.id,
        "object": "suspense_item",
        "status": item.status,
        "reason": item.reason,
        "suggestions": item.suggestions,
        "credit_id": item.credit_id,
        "line": line_resource(line),
        "created_at": item.created_at.isoformat(),
        "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
        "resolved_by": item.resolved_by,
        "note": item.note,
    }


def _suggestion(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "rule": suggestion.rule.value,
        "confidence": round(suggestion.confidence, 4),
        "explanation": suggestion.explanation,
        "allocations": [{"invoice_id": i, "amount": a} for i, a in suggestion.allocations],
    }


def new_suspense_item(
    uow: UnitOfWork,
    issuer_id: str,
    line: LineRecord,
    reason: str,
    suggestions: Sequence[Suggestion | dict[str, Any]],
) -> dict[str, Any]:
    """Queue ``line`` for a person with the ranked ``suggestions`` (matching suggestions, or
    documents as they are stored, such as a payout's); records ``suspense.created`` and returns
    the item's representation."""
    item = SuspenseRecord(
        issuer_id=issuer_id,
        id=new_id("sus"),
        line_id=line.id,
        status=OPEN,
        reason=reason,
        suggestions=[s if isinstance(s, dict) else _suggestion(s) for s in suggestions],
        credit_id=None,
        created_at=uow.now(),
        resolved_at=None,
        resolved_by=None,
        note=None,
    )
    uow.statements.add_suspense({f: getattr(item, f) for f in item.__slots__})
    journal.record(
        uow,
        issuer_id,
        journal.SUSPENSE_OPENED,
        currency=line.currency,
        parts=[(None, line.amount)],
        line_id=line.id,
        suspense_item_id=item.id,
        detail=reason,
    )
    resource = suspense_resource(item, line)
    uow.record(issuer_id, ev.Event(ev.SUSPENSE_CREATED, item.id, resource))
    return resource


def learn_iban(
    uow: UnitOfWork, issuer_id: str, line: LineRecord, payer_ids: set[str]
) -> tuple[str, str] | None:
    """Remember that money from the line's IBAN came from the one payer of ``payer_ids``
    (nothing is learned without an IBAN, or from a transfer that paid several payers).
    Returns the (compact IBAN, payer id) fact."""
    if not line.counterparty_iban or len(payer_ids) != 1:
        return None
    [payer_id] = payer_ids
    iban = compact_iban(line.counterparty_iban)
    uow.statements.learn_ibans(
        [
            {
                "issuer_id": issuer_id,
                "iban": iban,
                "payer_id": payer_id,
                "learned_from": line.id,
                "created_at": uow.now(),
            }
        ]
    )
    return iban, payer_id


# --- reading ----------------------------------------------------------------------------------


def _line(uow: UnitOfWork, issuer_id: str, item: SuspenseRecord) -> LineRecord:
    line = uow.statements.get_line(issuer_id, item.line_id)
    assert line is not None, "a suspense item's line is kept by a foreign key"
    return line


def _item(
    uow: UnitOfWork, issuer_id: str, item_id: str, *, for_update: bool = False
) -> SuspenseRecord:
    item = uow.statements.get_suspense(issuer_id, item_id, for_update=for_update)
    if item is None:
        raise NotFound(f"no suspense item {item_id!r}", code="suspense_item_not_found")
    return item


def get_item(uow: UnitOfWork, issuer_id: str, item_id: str) -> dict[str, Any]:
    """A suspense item with its line and its audit trail."""
    item = _item(uow, issuer_id, item_id)
    resource = suspense_resource(item, _line(uow, issuer_id, item))
    resource["audit"] = uow.statements.audit_trail(issuer_id, item.id)
    return resource


def list_items(
    uow: UnitOfWork,
    issuer_id: str,
    *,
    statuses: Sequence[str] | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Suspense items in id (creation) order, for cursor pagination."""
    unknown = set(statuses or ()) - STATUSES
    if unknown:
        raise InvalidInput(f"unknown status {sorted(unknown)}; one of {sorted(STATUSES)}")
    items = uow.statements.list_suspense(
        issuer_id, statuses=statuses, after_id=after_id, limit=limit
    )
    return [suspense_resource(item, _line(uow, issuer_id, item)) for item in items]


# --- actions ----------------------------------------------------------------------------------


def _audit(
    uow: UnitOfWork, issuer_id: str, actor: str, action: str, item_id: str, details: Any
) -> None:
    uow.statements.audit(
        {
            "issuer_id": issuer_id,
            "id": new_id("aud"),
            "actor": actor,
            "action": action,
            "subject_id": item_id,
            "details": details,
            "created_at": uow.now(),
        }
    )


def _finish(
    uow: UnitOfWork,
    issuer_id: str,
    item_id: str,
    event_type: str,
    action: str,
    actor: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Audit the action, record its event and return the item as it is now."""
    _audit(uow, issuer_id, actor, action, item_id, details)
    resource = get_item(uow, issuer_id, item_id)
    uow.record(issuer_id, ev.Event(event_type, item_id, resource))
    return resource


def _require_open(item: SuspenseRecord) -> None:
    if item.status != OPEN:
        raise Conflict(
            f"suspense item {item.id} is {item.status}; undo that first",
            code="suspense_item_not_open",
        )


def assign(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    item_id: str,
    parts: Sequence[tuple[str, int]],
    *,
    actor: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Book an open item's credit on invoices: ``parts`` is (invoice id, amount), the amounts
    adding up to the line's amount (several invoices split it; more than an invoice's amount due
    over-pays it). Learns the sender's IBAN when the invoices are of one payer."""
    item = _item(uow, issuer.id, item_id, for_update=True)
    _require_open(item)
    payout = next((s["payout_id"] for s in item.suggestions if s.get("payout_id")), None)
    if payout is not None:
        raise Conflict(
            f"suspense item {item.id} is the bank credit of provider payout {payout}, not an "
            "invoice payment; resolve it instead",
            code="payout_line",
        )
    line = _line(uow, issuer.id, item)
    total = sum(amount for _, amount in parts)
    if total != line.amount:
        raise InvalidInput(
            f"the allocations add up to {describe(total, line.currency)}, the line is"
            f" {describe(line.amount, line.currency)}",
            code="allocations_do_not_add_up",
        )
    credit_id, invoices = allocate_credit_split(
        uow,
        links,
        issuer,
        parts,
        currency=line.currency,
        received_on=line.booking_date,
        source="bank",
        note=note or f"statement line {line.id}, assigned by hand",
    )
    learned = learn_iban(uow, issuer.id, line, {invoice.payer.id for invoice in invoices})
    now = uow.now()
    uow.statements.update_suspense(
        issuer.id,
        item.id,
        status=ASSIGNED,
        credit_id=credit_id,
        resolved_at=now,
        resolved_by=actor,
        note=note,
    )
    uow.statements.set_line_outcome(issuer.id, line.id, credit_id=credit_id)
    journal.record(
        uow,
        issuer.id,
        journal.MANUAL_ASSIGNMENT,
        currency=line.currency,
        parts=[(invoice, amount) for invoice, (_, amount) in zip(invoices, parts, strict=True)],
        credit_id=credit_id,
        line_id=line.id,
        suspense_item_id=item.id,
        actor=actor,
        detail=note,
    )
    details = {
        "credit_id": credit_id,
        "allocations": [{"invoice_id": i, "amount": a} for i, a in parts],
        "learned_iban": learned[0] if learned else None,
        "note": note,
    }
    return _finish(uow, issuer.id, item.id, ev.SUSPENSE_ASSIGNED, "assign", actor, details)


def resolve(
    uow: UnitOfWork, issuer_id: str, item_id: str, status: str, *, actor: str, note: str | None
) -> dict[str, Any]:
    """Close an open item without booking it on an invoice: ``refund_pending`` (the money goes
    back) or ``other_income``. Resolving it again the same way changes nothing."""
    if status not in RESOLUTIONS:
        raise InvalidInput(f"resolve as one of {sorted(RESOLUTIONS)}, not {status!r}")
    item = _item(uow, issuer_id, item_id, for_update=True)
    if item.status == status:
        return get_item(uow, issuer_id, item_id)
    _require_open(item)
    uow.statements.update_suspense(
        issuer_id, item.id, status=status, resolved_at=uow.now(), resolved_by=actor, note=note
    )
    details = {"status": status, "note": note}
    return _finish(uow, issuer_id, item.id, ev.SUSPENSE_RESOLVED, "resolve", actor, details)


def undo(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    item_id: str,
    *,
    actor: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Return an assigned or resolved item to ``open``. An assignment's credit is reversed on
    every invoice it paid, and the IBAN fact it taught is forgotten."""
    item = _item(uow, issuer.id, item_id, for_update=True)
    if item.status == OPEN:
        raise Conflict(f"suspense item {item.id} is open; nothing to undo", code="nothing_to_undo")
    details: dict[str, Any] = {"previous_status": item.status, "note": note}
    if item.credit_id is not None:
        taken_back = reverse_credit(
            uow, links, issuer, item.credit_id, reason=f"suspense item {item.id} undone"
        )
        journal.record(
            uow,
            issuer.id,
            journal.REVERSAL,
            currency=taken_back[0][0].currency,
            parts=[(invoice, -amount) for invoice, amount in taken_back],
            credit_id=item.credit_id,
            line_id=item.line_id,
            suspense_item_id=item.id,
            actor=actor,
            detail=note,
        )
        uow.statements.forget_ibans(issuer.id, item.line_id)
        uow.statements.set_line_outcome(issuer.id, item.line_id, credit_id=None)
        details["reversed_credit_id"] = item.credit_id
    uow.statements.update_suspense(
        issuer.id,
        item.id,
        status=OPEN,
        credit_id=None,
        resolved_at=None,
        resolved_by=None,
        note=None,
    )
    return _finish(uow, issuer.id, item.id, ev.SUSPENSE_REOPENED, "undo", actor, details)

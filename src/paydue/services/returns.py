"""Returned payments and chargebacks on a bank statement: the credit they undo is reversed.

A debit line the parser or ``domain.returns.return_marker`` marks as a return is tied to the
booked bank credit it takes back (``domain.returns.match_return``); that credit's allocations are
reversed with ``services.credits.reverse_credit`` (invoices reopen, ``credit.reversed`` and the
status events are recorded) and the line's outcome becomes ``returned``. The line was claimed
by its fingerprint, so a return imported twice reverses once; a credit reversed already, or a
return that fits no credit (or several), waits in suspense for a person.
"""

from __future__ import annotations

from typing import Any

from paydue.adapters.db.reconciliation import BookedCreditRow
from paydue.adapters.db.records import Issuer
from paydue.adapters.db.statements import LineRecord
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import DomainError
from paydue.domain.returns import BookedCredit, ReturnLine, ReturnMatch, match_return
from paydue.services import journal
from paydue.services.credits import reverse_credit
from paydue.services.links import PublicLinks
from paydue.services.suspense import new_suspense_item


def _return_line(line: LineRecord) -> ReturnLine:
    return ReturnLine(
        amount=line.amount,
        currency=line.currency,
        booking_date=line.booking_date,
        reason=line.return_reason or "return",
        end_to_end_id=line.end_to_end_id or "",
        counterparty_iban=line.counterparty_iban or "",
        structured_reference=line.structured_reference or "",
        remittance_text=line.remittance_text or "",
    )


def _booked_credit(row: BookedCreditRow) -> BookedCredit:
    return BookedCredit(
        credit_id=row.credit_id,
        line_id=row.line_id,
        amount=row.amount,
        currency=row.currency,
        booking_date=row.booking_date,
        end_to_end_id=row.end_to_end_id or "",
        bank_reference=row.bank_reference or "",
        counterparty_iban=row.counterparty_iban or "",
        structured_reference=row.structured_reference or "",
    )


def book_return(
    uow: UnitOfWork, links: PublicLinks, issuer: Issuer, line: LineRecord
) -> dict[str, Any] | None:
    """Reverse the credit the return ``line`` takes back; ``None`` when it was, else the
    suspense item the line became."""
    rows = uow.statements.booked_credits(issuer.id, -line.amount, line.currency)
    decision = match_return(_return_line(line), [_booked_credit(row) for row in rows])
    if isinstance(decision, ReturnMatch):
        credit_id = decision.credit.credit_id
        try:
            reversed_parts = reverse_credit(
                uow,
                links,
                issuer,
                credit_id,
                reason=f"returned by the bank ({line.return_reason}), statement line {line.id}",
            )
        except DomainError as exc:  # reversed meanwhile: refused before anything was written
            reason = f"{decision.explanation}, but {exc.message}"
        else:
            uow.statements.set_line_outcome(
                issuer.id,
                line.id,
                outcome="returned",
                rule=decision.rule.value,
                explanation=decision.explanation,
                credit_id=credit_id,
            )
            journal.record(
                uow,
                issuer.id,
                journal.RETURN,
                currency=line.currency,
                parts=[(invoice, -amount) for invoice, amount in reversed_parts],
                credit_id=credit_id,
                line_id=line.id,
                rule=decision.rule.value,
                detail=line.return_reason,
            )
            return None
    else:
        reason = decision.reason
    return new_suspense_item(uow, issuer.id, line, reason, ())

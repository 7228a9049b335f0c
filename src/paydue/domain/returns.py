"""Returns and chargebacks: which debit lines take back an earlier credit, and which credit.

A debit is a return when the bank says so: a return reason (camt ``RtrInf/Rsn``, MT940
``/RTRN/`` or ``?34`` of a return GVC), a reversal mark (camt ``RvslInd``, MT940 ``RC``), a
bank transaction code of a returned or reversed payment (``PMNT-RCDT-RRTN``, ``…-UPDD``, GVC
109, SWIFT ``NRTI``) or the word *chargeback*. Any other debit is money the issuer sent and is
not matched at all.

A return undoes one earlier credit of the same amount and currency, found by, strongest first:

1. ``end_to_end_id`` — the return carries the original end-to-end id;
2. ``original_reference`` — the return carries the original structured reference, or names the
   credit's bank reference or end-to-end id in its text;
3. ``amount_and_iban`` — the one credit of that amount from the same IBAN.

As with invoice matching, precision comes first: two credits that fit equally well decide
nothing, and the return waits in suspense for a person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

# ISO 20022 bank transaction sub-families of returned or reversed payments.
RETURN_SUBFAMILIES = frozenset({"RRTN", "RPCR", "UPDD", "ARET", "AREV", "RCDD"})
# German business transaction codes (GVC) of returned payments: MT940 ``?34`` holds the reason.
RETURN_GVCS = frozenset({"108", "109", "159", "181", "184"})
# SWIFT MT940 ``:61:`` transaction type of a returned item.
RETURN_SWIFT_TYPES = frozenset({"NRTI", "RTI"})
_RETURN_WORDS = re.compile(r"\b(?:charge\s?back|r(?:ü|ue)cklastschrift)\b", re.IGNORECASE)
MIN_REFERENCE_LENGTH = 6  # shorter bank references are too common to be looked for in text


def return_marker(
    *,
    amount: int,
    return_reason: str | None = None,
    is_reversal: bool = False,
    bank_transaction_code: str | None = None,
    texts: Iterable[str | None] = (),
) -> str | None:
    """Why a statement line is a return: the bank's reason code (``AC04``), else the marker that
    says so (``reversal``, the bank transaction code, ``chargeback``); ``None`` for a line that
    is not a return, and for every credit."""
    if amount >= 0:
        return None
    if return_reason:
        return return_reason.strip()[:40]
    if is_reversal:
        return "reversal"
    code = (bank_transaction_code or "").strip().upper()
    if code.rsplit("-", 1)[-1] in RETURN_SUBFAMILIES or code in RETURN_GVCS | RETURN_SWIFT_TYPES:
        return code
    if any(_RETURN_WORDS.search(text) for text in texts if text):
        return "chargeback"
    return None


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """A debit that returns a payment, as the statement tells it."""

    amount: int  # minor units, negative
    currency: str
    booking_date: date
    reason: str
    end_to_end_id: str = ""
    counterparty_iban: str = ""
    structured_reference: str = ""
    remittance_text: str = ""


@dataclass(frozen=True, slots=True)
class BookedCredit:
    """A bank credit booked on invoices and not reversed: what a return may undo."""

    credit_id: str
    line_id: str
    amount: int  # minor units, positive
    currency: str
    booking_date: date
    end_to_end_id: str = ""
    bank_reference: str = ""
    counterparty_iban: str = ""
    structured_reference: str = ""


class ReturnRule(StrEnum):
    """How a return was tied to its credit, strongest first."""

    END_TO_END_ID = "end_to_end_id"
    ORIGINAL_REFERENCE = "original_reference"
    AMOUNT_AND_IBAN = "amount_and_iban"


@dataclass(frozen=True, slots=True)
class ReturnMatch:
    credit: BookedCredit
    rule: ReturnRule
    explanation: str


@dataclass(frozen=True, slots=True)
class ReturnUnmatched:
    reason: str
    candidates: tuple[BookedCredit, ...] = ()


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def _names_reference(line: ReturnLine, credit: BookedCredit) -> bool:
    if credit.structured_reference and _compact(credit.structured_reference) == _compact(
        line.structured_reference
    ):
        return True
    text = _compact(f"{line.remittance_text} {line.structured_reference}")
    return any(
        len(reference) >= MIN_REFERENCE_LENGTH and _compact(reference) in text
        for reference in (credit.bank_reference, credit.end_to_end_id)
    )


_RULES: tuple[tuple[ReturnRule, Callable[[ReturnLine, BookedCredit], bool], str], ...] = (
    (
        ReturnRule.END_TO_END_ID,
        lambda line, credit: (
            bool(line.end_to_end_id) and line.end_to_end_id == credit.end_to_end_id
        ),
        "the return carries the end-to-end id {e2e!r} of the credit",
    ),
    (
        ReturnRule.ORIGINAL_REFERENCE,
        _names_reference,
        "the return names the credit's reference",
    ),
    (
        ReturnRule.AMOUNT_AND_IBAN,
        lambda line, credit: (
            bool(line.counterparty_iban)
            and _compact(line.counterparty_iban) == _compact(credit.counterparty_iban)
        ),
        "the only credit of this amount from {iban}",
    ),
)


def match_return(
    line: ReturnLine, credits: Iterable[BookedCredit]
) -> ReturnMatch | ReturnUnmatched:
    """The one booked credit ``line`` returns, or why none can be chosen.

    Only credits of exactly the returned amount and currency, booked on or before the return,
    are considered; the first rule with exactly one such credit decides, and a rule with
    several stops the weaker ones (they could only guess among them).
    """
    eligible = [
        credit
        for credit in credits
        if credit.amount == -line.amount
        and credit.currency == line.currency
        and credit.booking_date <= line.booking_date
    ]
    if not eligible:
        return ReturnUnmatched(
            f"return ({line.reason}): no booked credit of this amount to take back"
        )
    for rule, fits, explanation in _RULES:
        hits = tuple(credit for credit in eligible if fits(line, credit))
        if len(hits) == 1:
            [credit] = hits
            text = explanation.format(e2e=line.end_to_end_id, iban=line.counterparty_iban)
            return ReturnMatch(credit, rule, f"return ({line.reason}): {text}")
        if hits:
            ids = ", ".join(sorted(credit.credit_id for credit in hits))
            return ReturnUnmatched(
                f"return ({line.reason}): {len(hits)} credits fit by {rule.value} ({ids})", hits
            )
    return ReturnUnmatched(
        f"return ({line.reason}): no booked credit of this amount carries its references or"
        " came from its IBAN",
        tuple(eligible),
    )

"""Provider payouts (clearing): a provider settles many payments in one bank credit, net of fees.

A payment a provider confirmed is booked on its invoice at once (a ``provider`` credit); until
the provider pays the money out, it sits in the provider's clearing position. The provider then
reports a payout — its reference, and per payment the amount and the fee it kept — and one bank
credit of the net amount arrives carrying the payout reference.

Pure rules here: the totals of a reported payout (:func:`totals`), the simulator's fee and how it
groups payments into payouts (:func:`simulated_fee`, :func:`group_for_payout`), and which payout
a bank credit pays (:func:`match_payout`): the payout whose reference is in the line's
remittance text, end-to-end id or structured reference. The reference decides; the amount must
then be the payout's net exactly, else the line is a :class:`PayoutDifference` for a person. A
line that carries a payout reference is never an invoice payment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from paydue.domain.errors import InvalidInput
from paydue.domain.matching import CreditLine
from paydue.domain.money import describe

OPEN = "open"
SETTLED = "settled"
DIFFERENCE = "difference"
STATUSES = frozenset({OPEN, SETTLED, DIFFERENCE})

MIN_REFERENCE_LENGTH = 6
"""A payout reference shorter than this (letters and digits) is too common to look for in
free text; such payouts are matched only by an end-to-end id equal to the reference."""

SIMULATED_FEE_PER_MILLE = 14  # 1.4 %
SIMULATED_FEE_FIXED = 25  # plus 25 minor units per payment

_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


def compact_reference(text: str) -> str:
    """Upper case letters and digits only: how references are compared (bank text breaks
    lines, drops or adds separators and changes case)."""
    return _NOT_ALNUM.sub("", text.upper())


# --- a reported payout --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutItem:
    """One payment in a payout: the amount the provider took and the fee it kept."""

    payment_id: str
    amount: int
    fee: int


@dataclass(frozen=True, slots=True)
class Totals:
    gross: int
    fees: int
    net: int


def totals(items: Sequence[PayoutItem]) -> Totals:
    """Gross, fees and net of a payout; refuses an empty payout, a payment listed twice, a fee
    that is negative or larger than its amount, and a payout that pays out nothing."""
    if not items:
        raise InvalidInput("a payout has at least one item", code="payout_empty")
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.payment_id in seen:
            raise InvalidInput(
                f"items[{index}]: payment {item.payment_id} is listed twice",
                code="payout_payment_repeated",
                details={"item": index},
            )
        seen.add(item.payment_id)
        if item.amount <= 0:
            raise InvalidInput(
                f"items[{index}]: the amount must be positive",
                code="payout_invalid_amount",
                details={"item": index},
            )
        if not 0 <= item.fee <= item.amount:
            raise InvalidInput(
                f"items[{index}]: the fee must be between 0 and the amount {item.amount}",
                code="payout_invalid_fee",
                details={"item": index},
            )
    gross = sum(item.amount for item in items)
    fees = sum(item.fee for item in items)
    if gross - fees <= 0:
        raise InvalidInput("the fees take the whole payout: nothing is paid out")
    return Totals(gross, fees, gross - fees)


# --- the simulator's payouts ----------------------------------------------------------------------


def simulated_fee(amount: int) -> int:
    """The simulator's fee for one payment: 1.4 % (rounded half up) plus 25 minor units, never
    more than the payment."""
    percent = (amount * SIMULATED_FEE_PER_MILLE * 2 + 1000) // 2000
    return min(amount, percent + SIMULATED_FEE_FIXED)


@dataclass(frozen=True, slots=True)
class PaidPayment:
    """A succeeded payment not paid out yet."""

    id: str
    amount: int
    currency: str


def group_for_payout(payments: Iterable[PaidPayment]) -> dict[str, list[PayoutItem]]:
    """The simulator pays out per currency: every payment of one currency, in id order, each
    with :func:`simulated_fee`. Currencies whose payments would pay out nothing are left out."""
    groups: dict[str, list[PayoutItem]] = {}
    for payment in sorted(payments, key=lambda p: p.id):
        groups.setdefault(payment.currency, []).append(
            PayoutItem(payment.id, payment.amount, simulated_fee(payment.amount))
        )
    return {
        currency: items
        for currency, items in sorted(groups.items())
        if sum(i.amount - i.fee for i in items) > 0
    }


# --- which payout a bank credit pays --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutCandidate:
    """A payout a bank credit may pay (``open``), or one closed lately whose reference still
    keeps a line from being taken for an invoice payment."""

    id: str
    provider: str
    reference: str
    net: int
    currency: str
    status: str = OPEN


@dataclass(frozen=True, slots=True)
class PayoutSettles:
    """The line is the payout's bank credit, to the cent."""

    payout: PayoutCandidate
    explanation: str


@dataclass(frozen=True, slots=True)
class PayoutDifference:
    """The line carries the payout's reference but not its net amount (or several payouts'
    references): a person decides. ``payouts`` are the suggestions, best first."""

    payouts: tuple[PayoutCandidate, ...]
    explanation: str


def _money(amount: int, currency: str) -> str:
    return describe(amount, currency)


def _carries(texts: tuple[str, str, str], candidate: PayoutCandidate) -> str | None:
    """Where a line with the compact ``texts`` (end-to-end id, structured reference,
    remittance text) carries the candidate's reference, or None."""
    key = compact_reference(candidate.reference)
    e2e, structured, remittance = texts
    if not key:
        return None
    if e2e == key:
        return "end-to-end id"
    if len(key) < MIN_REFERENCE_LENGTH:
        return None
    if key in structured:
        return "structured reference"
    if key in remittance:
        return "remittance text"
    if key in e2e:
        return "end-to-end id"
    return None


def match_payout(
    line: CreditLine, candidates: Sequence[PayoutCandidate]
) -> PayoutSettles | PayoutDifference | None:
    """Which payout the credit ``line`` is: ``None`` when it carries no payout's reference (it
    may pay invoices), :class:`PayoutSettles` when it carries exactly one payout's reference (a
    reference contained in another found reference does not count), that payout is open and
    the line brings its net amount; else :class:`PayoutDifference`."""
    if not candidates or line.amount <= 0:
        return None
    texts = (
        compact_reference(line.end_to_end_id),
        compact_reference(line.structured_reference),
        compact_reference(line.remittance_text),
    )
    found = [(c, where) for c in candidates if (where := _carries(texts, c)) is not None]
    if not found:
        return None
    keys = {c.id: compact_reference(c.reference) for c, _ in found}
    found = [  # "PO-12" inside "PO-123" is not a second reference
        (c, where)
        for c, where in found
        if not any(keys[c.id] != k and keys[c.id] in k for k in keys.values())
    ]
    exact = [
        (c, w)
        for c, w in found
        if c.net == line.amount and c.currency == line.currency and c.status == OPEN
    ]
    if len(found) == 1 and exact:
        payout, where = exact[0]
        return PayoutSettles(
            payout,
            f"payout {payout.reference} of {payout.provider} in the {where}, "
            f"net {_money(payout.net, payout.currency)} as expected",
        )
    if len(found) > 1:
        fits = {c.id for c, _ in exact}
        ranked = tuple(c for c, _ in found if c.id in fits) + tuple(
            c for c, _ in found if c.id not in fits
        )
        refs = ", ".join(c.reference for c, _ in found)
        return PayoutDifference(ranked, f"the line carries the references of payouts {refs}")
    payout, where = found[0]
    if payout.status != OPEN:
        why = f"the payout is {payout.status} already"
        return PayoutDifference(
            (payout,), f"payout {payout.reference} of {payout.provider} in the {where}, but {why}"
        )
    if payout.currency != line.currency:
        why = f"is in {line.currency}, the payout in {payout.currency}"
    else:
        diff = line.amount - payout.net
        why = (
            f"is {_money(line.amount, line.currency)}, the payout's net is "
            f"{_money(payout.net, payout.currency)} "
            f"({'+' if diff > 0 else '-'}{_money(abs(diff), line.currency)} unexplained)"
        )
    return PayoutDifference(
        (payout,),
        f"payout {payout.reference} of {payout.provider} in the {where}, but the line {why}",
    )

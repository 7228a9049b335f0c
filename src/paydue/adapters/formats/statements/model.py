"""What a bank statement says, whatever format it came in.

Amounts are signed integers in minor units of their currency: credits (money in) positive,
debits (money out) negative. Text fields are ``None`` when the file does not carry them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, Required, TypedDict


@dataclass(frozen=True, slots=True)
class Balance:
    """A booked balance: signed minor units, its currency and the date it refers to."""

    amount: int
    currency: str
    date: date | None


class StatementLine(NamedTuple):
    """One booked (or notified) movement; for batch bookings one individual transaction.

    ``bank_transaction_code`` is ``DOMAIN-FAMILY-SUBFAMILY`` (ISO) or the proprietary code
    for camt; for MT940 the German GVC when present, else the ``:61:`` transaction type.
    ``remittance_text`` is the joined unstructured remittance (camt ``Ustrd``, MT940 ``:86:``
    purpose). ``fingerprint`` identifies the line across overlapping files (see
    :func:`build_lines`).

    A named tuple rather than a frozen dataclass: files bring tens of thousands of lines, and
    a frozen dataclass of 21 fields costs about six times as much to build.
    """

    booking_date: date
    value_date: date | None
    amount: int
    currency: str
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    counterparty_bic: str | None = None
    structured_reference: str | None = None
    remittance_text: str | None = None
    additional_info: str | None = None
    end_to_end_id: str | None = None
    bank_reference: str | None = None
    customer_reference: str | None = None
    return_reason: str | None = None
    is_reversal: bool = False
    bank_transaction_code: str | None = None
    status: str | None = None
    entry_reference: str | None = None
    batch_id: str | None = None
    is_batch_part: bool = False
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement (camt ``Stmt``/``Ntfctn``/``Rpt``, MT940 ``:20:`` block) of one account.

    ``format`` names the message as detected, e.g. ``camt.053.001.02`` or ``mt940``.
    """

    format: str
    account: str | None
    currency: str | None
    statement_id: str | None
    sequence_number: str | None
    created_at: datetime | None
    period_from: datetime | None
    period_to: datetime | None
    opening_balance: Balance | None
    closing_balance: Balance | None
    lines: tuple[StatementLine, ...]


class LineFields(TypedDict, total=False):
    """The fields of a :class:`StatementLine` as a parser collects them, before fingerprinting."""

    booking_date: Required[date]
    value_date: date | None
    amount: Required[int]
    currency: Required[str]
    counterparty_name: str | None
    counterparty_iban: str | None
    counterparty_bic: str | None
    structured_reference: str | None
    remittance_text: str | None
    additional_info: str | None
    end_to_end_id: str | None
    bank_reference: str | None
    customer_reference: str | None
    return_reason: str | None
    is_reversal: bool
    bank_transaction_code: str | None
    status: str | None
    entry_reference: str | None
    batch_id: str | None
    is_batch_part: bool


def build_lines(account: str | None, drafts: Iterable[LineFields]) -> tuple[StatementLine, ...]:
    """The lines of one statement of ``account``, each with its ``fingerprint``.

    The fingerprint is the SHA-256 (hex, first 32 digits) of: the account, booking date,
    amount, currency, bank reference (or, without one, the end-to-end id), counterparty IBAN,
    remittance text and the line's position among the lines of the same statement that agree
    on all of these (0 for the first, 1 for the next identical one, ...). The same movement
    in two overlapping statement files therefore gets the same fingerprint, while two
    genuinely identical payments on one day stay two lines.
    """
    seen: dict[str, int] = {}
    lines: list[StatementLine] = []
    for draft in drafts:
        key = "\x1f".join(
            (
                account or "",
                draft["booking_date"].isoformat(),
                str(draft["amount"]),
                draft["currency"],
                draft.get("bank_reference") or draft.get("end_to_end_id") or "",
                draft.get("counterparty_iban") or "",
                draft.get("remittance_text") or "",
            )
        )
        position = seen.get(key, 0)
        seen[key] = position + 1
        digest = hashlib.sha256(f"{key}\x1e{position}".encode()).hexdigest()[:32]
        lines.append(StatementLine(**draft, fingerprint=digest))
    return tuple(lines)

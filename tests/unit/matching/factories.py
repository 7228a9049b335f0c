"""Builders for open invoices and credit lines with sensible defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from paydue.domain.matching import CreditLine, OpenInvoice
from paydue.domain.references import rf_for_sequence

DUE = date(2026, 3, 31)
BOOKED = date(2026, 4, 2)


def invoice(seq: int, **changes: Any) -> OpenInvoice:
    """Invoice number ``INV-2026-<seq>`` with reference ``rf_for_sequence(seq)``, 100.00 EUR."""
    base = OpenInvoice(
        id=f"inv-{seq}",
        payer_id=f"payer-{seq}",
        payer_name=f"Payer {seq}",
        number=f"INV-2026-{seq:04d}",
        reference=rf_for_sequence(seq),
        amount_due=10000,
        currency="EUR",
        due_date=DUE,
    )
    return replace(base, **changes)


def credit(amount: int = 10000, **changes: Any) -> CreditLine:
    """A credit line of ``amount`` EUR cents with nothing else filled in unless given."""
    return replace(CreditLine(amount=amount, currency="EUR", booking_date=BOOKED), **changes)

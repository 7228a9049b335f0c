"""The text of a reminder or a pay-link message: a minimal built-in English text per step
template. ``render_message`` is the one place the collections engine asks for a text, so the
issuer's own templates (per step, channel and language) replace it here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from paydue.domain.money import Money

INTROS = {
    "upcoming": "a friendly reminder that {what} will be due soon.",
    "due_today": "{what} is due today.",
    "overdue_first": "we have not yet received payment for {what}.",
    "overdue_second": "{what} is still unpaid.",
    "overdue_repeat": "{what} is still unpaid. Please pay now to avoid further steps.",
    "final_notice": "this is the final notice for {what}.",
    "pay_link": "here is your link to pay {what}.",
}
GENERIC = "this is a reminder about {what}."


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    number: str
    amount_due: Money
    due_date: date
    pay_url: str


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str


def render_message(
    *,
    template: str,
    channel: str,
    language: str,
    issuer_name: str,
    payer_name: str,
    invoices: Sequence[InvoiceLine],
    total: Money,
) -> Rendered:
    """The subject and plain text of a message; every invoice carries its own pay link."""
    if len(invoices) == 1:
        what = f"invoice {invoices[0].number} ({invoices[0].amount_due})"
    else:
        what = f"{len(invoices)} invoices totalling {total}"
    intro = INTROS.get(template, GENERIC).format(what=what)
    lines = [
        f"- {i.number}: {i.amount_due}, due {i.due_date.isoformat()}. Pay: {i.pay_url}"
        for i in invoices
    ]
    if channel in ("sms", "whatsapp", "voice", "push"):
        text = f"{issuer_name}: {intro[0].upper()}{intro[1:]} " + " ".join(
            f"{i.number}: {i.pay_url}" for i in invoices
        )
    else:
        text = "\n".join([f"Dear {payer_name},", "", intro, "", *lines, "", issuer_name])
    subject = f"{issuer_name}: {what}"
    return Rendered(subject[:300], text)

"""Payment elements of an invoice: pay URL, link QR, EPC QR, button and in-mail link.

Images are rendered on demand and cached by payload (an LRU in the process plus HTTP caching),
never precomputed for every invoice.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.formats import epc_qr, qr
from paydue.domain.errors import Conflict
from paydue.domain.invoices import UNPAID, amount_due, outstanding
from paydue.domain.money import Money


@lru_cache(maxsize=4096)
def render(payload: str, kind: str) -> bytes:
    """A QR image of ``payload``; EPC codes and link codes both use error correction M."""
    if kind == "svg":
        return qr.render_svg(payload, ec_level="M").encode()
    return qr.render_png(payload, ec_level="M")


@dataclass(frozen=True, slots=True)
class EpcUnavailable:
    reason: str


def epc_payload(issuer: Issuer, invoice: Invoice) -> str | EpcUnavailable:
    """The EPC069-12 payload for the amount still due, or why there is none."""
    if invoice.currency != "EUR":
        return EpcUnavailable("EPC QR codes are for SEPA credit transfers in EUR only")
    if not issuer.iban:
        return EpcUnavailable("the issuer has no IBAN configured")
    if invoice.status not in UNPAID:
        return EpcUnavailable(f"the invoice is {invoice.status.value}")
    try:
        return epc_qr.epc_payload(
            name=issuer.name[:70],
            iban=issuer.iban,
            bic=issuer.bic,
            amount_minor=amount_due(invoice.amount, invoice.amount_paid),
            currency=invoice.currency,
            reference=invoice.reference,
        )
    except epc_qr.EpcError as exc:
        return EpcUnavailable(str(exc))


def require_epc(issuer: Issuer, invoice: Invoice) -> str:
    payload = epc_payload(issuer, invoice)
    if isinstance(payload, EpcUnavailable):
        raise Conflict(f"no EPC QR code for this invoice: {payload.reason}", code="epc_unavailable")
    return payload


def button_html(pay_url: str, label: str, colour: str = "#1d4ed8") -> str:
    """A payment button that survives e-mail clients: a styled link, no script, no CSS file."""
    return (
        f'<a href="{html.escape(pay_url)}" style="display:inline-block;padding:12px 20px;'
        f"background:{html.escape(colour)};color:#ffffff;border-radius:6px;font:600 16px/1.2 "
        f'-apple-system,Segoe UI,Roboto,Arial,sans-serif;text-decoration:none">'
        f"{html.escape(label)}</a>"
    )


def mail_link_html(pay_url: str, text: str) -> str:
    return f'<a href="{html.escape(pay_url)}">{html.escape(text)}</a>'


def elements(issuer: Issuer, invoice: Invoice, pay_url: str, image_base: str) -> dict[str, Any]:
    """Everything an issuer can put in front of a payer for this invoice.

    ``image_base`` is the public URL prefix of the pay link's images (no API key needed, the
    unguessable token is the credential), for use in e-mails and web pages."""
    due = Money(outstanding(invoice.status, invoice.amount, invoice.amount_paid), invoice.currency)
    colour = str(issuer.branding.get("primary_colour", "#1d4ed8"))
    label = f"Pay {due}"
    epc = epc_payload(issuer, invoice)
    epc_part: dict[str, Any]
    if isinstance(epc, EpcUnavailable):
        epc_part = {"available": False, "reason": epc.reason}
    else:
        epc_part = {
            "available": True,
            "payload": epc,
            "svg_url": f"{image_base}/epc.svg",
            "png_url": f"{image_base}/epc.png",
        }
    return {
        "object": "payment_elements",
        "invoice_id": invoice.id,
        "pay_url": pay_url,
        "qr": {"svg_url": f"{image_base}/qr.svg", "png_url": f"{image_base}/qr.png"},
        "epc_qr": epc_part,
        "button_html": button_html(pay_url, label, colour),
        "mail_link_html": mail_link_html(pay_url, f"Pay invoice {invoice.number} ({due}) online"),
    }

"""The payer's entry point ``/p/{token}``.

The pay page with payment methods comes with the payment pipeline; until then this page enforces
the link's rules (expiry, opens, revocation, TAN) and shows the invoice with bank-transfer details
and the EPC QR code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paydue.domain.errors import NotFound
from paydue.domain.invoices import amount_due
from paydue.domain.money import Money
from paydue.domain.paylinks import Refusal
from paydue.domain.references import format_rf
from paydue.services import elements
from paydue.services import paylinks as svc
from paydue.services.invoices import get_invoice
from paydue.web.deps import ContainerDep
from paydue.web.images import image_response

router = APIRouter(tags=["pay page"], include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)

REFUSALS = {
    Refusal.REVOKED: "This payment link was withdrawn. Please contact the sender of your invoice.",
    Refusal.EXPIRED: "This payment link has expired. Please contact the sender of your invoice.",
    Refusal.TOO_MANY_OPENS: "This payment link was opened too often. Ask the sender for a new one.",
    Refusal.TOO_MANY_FAILED_PAYMENTS: "Too many payments failed with this link. Ask for a new one.",
    Refusal.TAN_LOCKED: "This link is locked after too many wrong TANs. Ask for a new one.",
    Refusal.INVOICE_CANCELLED: "This invoice was cancelled; there is nothing to pay.",
}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def _page(status: int = 200, **context: object) -> HTMLResponse:
    html = templates.get_template("placeholder.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _show(
    c: ContainerDep, token: str, *, tan_verified: bool, tan_error: str | None = None
) -> HTMLResponse:
    with c.uow() as uow:
        opened = svc.open_pay_link(uow, token, tan_verified=tan_verified)
        issuer = uow.issuers.get(opened.invoice.issuer_id)
        uow.commit()
    invoice = opened.invoice
    due = Money(amount_due(invoice.amount, invoice.amount_paid), invoice.currency)
    if opened.outcome == svc.OpenOutcome.REFUSED:
        assert opened.refusal is not None
        return _page(410, title="Payment link not available", message=REFUSALS[opened.refusal])
    if opened.outcome == svc.OpenOutcome.PAID:
        return _page(title="Already paid", message=f"Invoice {invoice.number} is paid. Thank you.")
    if opened.outcome == svc.OpenOutcome.NEED_TAN:
        return _page(
            401 if tan_error else 200,
            title="Enter your TAN",
            message=tan_error,
            need_tan=True,
            tan_action=f"/p/{token}/tan",
            attempts_left=opened.tan_attempts_left,
        )
    assert issuer is not None
    epc = elements.epc_payload(issuer, invoice)
    return _page(
        title=f"Invoice {invoice.number}",
        issuer=issuer,
        invoice=invoice,
        due=str(due),
        reference=format_rf(invoice.reference),
        show_bank=True,
        epc_url=None
        if isinstance(epc, elements.EpcUnavailable) or opened.link.tan_hash is not None
        else f"/p/{token}/epc.svg",
    )


@router.get("/p/{token}", response_class=HTMLResponse)
def pay_page(token: str, c: ContainerDep) -> HTMLResponse:
    return _show(c, token, tan_verified=False)


@router.post("/p/{token}/tan", response_class=HTMLResponse)
def submit_tan(
    token: str, tan: Annotated[str, Form(max_length=12)], c: ContainerDep
) -> HTMLResponse:
    with c.uow() as uow:
        ok, left = svc.verify_tan(uow, c.settings.secret_bytes, token, tan)
        uow.commit()
    if not ok:
        message = "The TAN is not correct." if left else "Too many wrong TANs."
        return _show(c, token, tan_verified=False, tan_error=message)
    return _show(c, token, tan_verified=True)


@router.get("/p/{token}/{image}.{kind}")
def pay_link_image(
    request: Request,
    token: str,
    image: Literal["qr", "epc"],
    kind: Literal["svg", "png"],
    c: ContainerDep,
) -> Response:
    """Images for e-mails and pages; viewing them does not count as opening the link."""
    with c.uow(readonly=True) as uow:
        link = svc.find_link(uow, token)
        if image == "qr":
            return image_response(request, elements.render(c.links.pay_url(token), kind), kind)
        if not svc.shows_bank_details(link, uow.now()):
            raise NotFound("no bank details for this payment link", code="epc_unavailable")
        invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
        issuer = uow.issuers.get(link.issuer_id)
    assert issuer is not None
    payload = elements.require_epc(issuer, invoice)
    return image_response(request, elements.render(payload, kind), kind)

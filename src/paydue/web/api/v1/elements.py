"""Issuer API: payment elements and their images."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from paydue.services import elements as svc
from paydue.services.invoices import get_invoice
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.images import image_response
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/invoices/{invoice_id}", tags=["payment elements"])


@router.get("/elements", summary="The payment elements of an invoice")
def get_elements(invoice_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        invoice = get_invoice(uow, issuer.id, invoice_id)
    pay_url = c.links.invoice_pay_url(invoice.id)
    return json_response(svc.elements(issuer, invoice, pay_url, pay_url))


@router.get(
    "/{image}.{kind}",
    summary="QR code of the pay link (qr) or EPC QR code of the amount due (epc-qr), svg or png",
)
def element_image(
    request: Request,
    invoice_id: str,
    image: Literal["qr", "epc-qr"],
    kind: Literal["svg", "png"],
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """``qr``: the invoice's pay link; ``epc-qr``: a SEPA credit transfer (EPC069-12) for
    banking apps, 409 where there is none (not EUR, no IBAN, nothing due)."""
    with c.uow(readonly=True) as uow:
        invoice = get_invoice(uow, issuer.id, invoice_id)
    payload = (
        c.links.invoice_pay_url(invoice.id) if image == "qr" else svc.require_epc(issuer, invoice)
    )
    return image_response(request, svc.render(payload, kind), kind)

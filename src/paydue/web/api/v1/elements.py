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


@router.get("/qr.{kind}", summary="QR code of the invoice's pay link (svg or png)")
def link_qr(
    request: Request,
    invoice_id: str,
    kind: Literal["svg", "png"],
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    with c.uow(readonly=True) as uow:
        invoice = get_invoice(uow, issuer.id, invoice_id)
    return image_response(request, svc.render(c.links.invoice_pay_url(invoice.id), kind), kind)


@router.get("/epc-qr.{kind}", summary="EPC QR code (SEPA credit transfer) of the amount due")
def epc_qr(
    request: Request,
    invoice_id: str,
    kind: Literal["svg", "png"],
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    with c.uow(readonly=True) as uow:
        invoice = get_invoice(uow, issuer.id, invoice_id)
    return image_response(request, svc.render(svc.require_epc(issuer, invoice), kind), kind)

"""Issuer API: extra pay links with their own limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from paydue.services import paylinks as svc
from paydue.web import idempotency
from paydue.web.api.v1.schemas import PayLinkIn
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(tags=["pay links"])


@router.post("/v1/invoices/{invoice_id}/pay-links", status_code=201, summary="Create a pay link")
def create_pay_link(
    request: Request,
    invoice_id: str,
    body: PayLinkIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """The response is the only time the token-bearing URL and the TAN are shown."""

    def handler(uow: Any) -> tuple[int, Any]:
        created = svc.create_pay_link(
            uow,
            c.settings.secret_bytes,
            issuer.id,
            invoice_id,
            expires_in_hours=body.expires_in_hours,
            max_opens=body.max_opens,
            max_failed_attempts=body.max_failed_attempts,
            require_tan=body.require_tan,
            channel=body.channel,
        )
        out = svc.pay_link_resource(created.link, c.links.pay_url(created.token))
        if created.tan is not None:
            out["tan"] = created.tan
        return 201, out

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("/v1/invoices/{invoice_id}/pay-links", summary="List an invoice's pay links")
def list_pay_links(invoice_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    from paydue.services.invoices import get_invoice

    with c.uow(readonly=True) as uow:
        invoice = get_invoice(uow, issuer.id, invoice_id)
        links = uow.pay_links.for_invoice(issuer.id, invoice.id)
    data = [
        svc.pay_link_resource(
            link, c.links.invoice_pay_url(invoice.id) if link.is_primary else None
        )
        for link in links
    ]
    return json_response({"object": "list", "data": data})


@router.get("/v1/pay-links/{link_id}", summary="Get a pay link")
def get_pay_link(link_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    from paydue.domain.errors import NotFound

    with c.uow(readonly=True) as uow:
        link = uow.pay_links.get(issuer.id, link_id)
    if link is None:
        raise NotFound(f"no pay link {link_id!r}", code="pay_link_not_found")
    return json_response(svc.pay_link_resource(link, None))


@router.post("/v1/pay-links/{link_id}/revoke", summary="Revoke a pay link")
def revoke_pay_link(
    request: Request, link_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    def handler(uow: Any) -> tuple[int, Any]:
        return 200, svc.pay_link_resource(svc.revoke_pay_link(uow, issuer.id, link_id), None)

    return idempotency.run(request, c, issuer, raw, handler)

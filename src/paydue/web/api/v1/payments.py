"""Issuer API: payments made through providers, and what their notifications did."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from paydue.services import payments as svc
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(tags=["payments"])


@router.get("/v1/payments", summary="List payments")
def list_payments(
    c: ContainerDep,
    issuer: IssuerDep,
    invoice_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    after = decode_cursor(cursor, "pay")
    with c.uow(readonly=True) as uow:
        rows = uow.payments.page(issuer.id, invoice_id=invoice_id, after=after, limit=limit + 1)
    return json_response(page([svc.payment_resource(p) for p in rows], limit, lambda r: r["id"]))


@router.get("/v1/payments/{payment_id}", summary="Get a payment and its notifications")
def get_payment(payment_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        payment = svc.get_payment(uow, issuer.id, payment_id)
        notifications = uow.payments.events_of(issuer.id, payment.id)
    resource = svc.payment_resource(payment)
    resource["notifications"] = [
        {
            "provider": n.provider,
            "event_id": n.event_id,
            "status": n.status,
            "outcome": n.outcome,
            "received_at": n.received_at.isoformat(),
            "processed_at": n.processed_at.isoformat() if n.processed_at else None,
        }
        for n in notifications
    ]
    return json_response(resource)

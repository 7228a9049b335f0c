"""Issuer API: invoices."""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from paydue.domain.errors import InvalidInput
from paydue.domain.invoices import InvoiceStatus
from paydue.services import credits
from paydue.services import invoices as svc
from paydue.web import idempotency
from paydue.web.api.v1.schemas import BATCH_IN, ExternalPaymentIn, InvoiceIn
from paydue.web.bodies import openapi_body, parse_json_body
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.gc_pause import paused_gc
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])


@router.post("", status_code=201, summary="Create an invoice")
def create_invoice(
    request: Request, body: InvoiceIn, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    def handler(uow: Any) -> tuple[int, Any]:
        [invoice] = svc.create_invoices(uow, c.links, issuer, [body.command()])
        return 201, svc.invoice_resource(invoice, c.links, svc.issuer_today(issuer, uow.now()))

    return idempotency.run(request, c, issuer, raw, handler)


@router.post(
    "/batch",
    status_code=201,
    summary="Create up to 10,000 invoices, all or nothing",
    openapi_extra=openapi_body(BATCH_IN),
)
def create_batch(request: Request, raw: BodyDep, c: ContainerDep, issuer: IssuerDep) -> Response:
    with paused_gc():
        # Parsed and validated in one step from the bytes (web.bodies); schema declared above.
        body = parse_json_body(BATCH_IN, request, raw)

        def handler(uow: Any) -> tuple[int, Any]:
            commands = [i.command() for i in body.invoices]
            created = svc.create_invoice_resources(uow, c.links, issuer, commands)
            return 201, {"object": "list", "count": len(created), "data": created}

        return idempotency.run(request, c, issuer, raw, handler)


_INVOICE_ID = re.compile(r"inv_[0-9a-z]{26}")


def _cursor(value: str | None) -> str | None:
    """The invoice id in a ``next_cursor``. Anything else is refused: the lenient base64 decoder
    would turn most strings into some text that silently restarts or skips the listing."""
    if value is None:
        return None
    try:
        after_id = base64.urlsafe_b64decode(value.encode() + b"==").decode()
    except Exception:
        after_id = ""
    if not _INVOICE_ID.fullmatch(after_id):
        raise InvalidInput("the cursor is not one this API gave out", code="invalid_cursor")
    return after_id


@router.get("", summary="List invoices")
def list_invoices(
    c: ContainerDep,
    issuer: IssuerDep,
    status: Annotated[
        list[str] | None,
        Query(description="open, partially_paid, paid, overpaid, cancelled, overdue"),
    ] = None,
    payer_ref: str | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    wanted = set(status or [])
    valid = {s.value for s in InvoiceStatus} | {"overdue"}
    unknown = wanted - valid
    if unknown:
        raise InvalidInput(f"unknown status {sorted(unknown)}; one of {sorted(valid)}")
    with c.uow(readonly=True) as uow:
        today = svc.issuer_today(issuer, uow.now())
        statuses = sorted(wanted - {"overdue"})
        overdue_before = today if "overdue" in wanted else None
        rows = uow.invoices.search(
            issuer.id,
            statuses=statuses or None,
            payer_ref=payer_ref,
            due_from=due_from,
            due_to=due_to,
            overdue_before=overdue_before,
            after_id=_cursor(cursor),
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        base64.urlsafe_b64encode(rows[-1].id.encode()).decode().rstrip("=") if more else None
    )
    return json_response(
        {
            "object": "list",
            "data": [svc.invoice_resource(i, c.links, today) for i in rows],
            "has_more": more,
            "next_cursor": next_cursor,
        }
    )


@router.get("/{invoice_id}", summary="Get an invoice")
def get_invoice(invoice_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        invoice = svc.get_invoice(uow, issuer.id, invoice_id)
        return json_response(
            svc.invoice_resource(invoice, c.links, svc.issuer_today(issuer, uow.now()))
        )


@router.post("/{invoice_id}/cancel", summary="Cancel an unpaid invoice")
def cancel_invoice(
    request: Request, invoice_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    def handler(uow: Any) -> tuple[int, Any]:
        invoice = svc.cancel_invoice(uow, c.links, issuer, invoice_id)
        return 200, svc.invoice_resource(invoice, c.links, svc.issuer_today(issuer, uow.now()))

    return idempotency.run(request, c, issuer, raw, handler)


@router.post(
    "/{invoice_id}/external-payments",
    status_code=201,
    summary="Record a payment made outside paydue",
)
def external_payment(
    request: Request,
    invoice_id: str,
    body: ExternalPaymentIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    def handler(uow: Any) -> tuple[int, Any]:
        current = svc.get_invoice(uow, issuer.id, invoice_id)
        credit_id, invoice = credits.allocate_credit(
            uow,
            c.links,
            issuer,
            invoice_id,
            amount=body.amount,
            currency=body.currency or current.currency,
            received_on=body.date,
            source="external",
            note=body.note,
        )
        today = svc.issuer_today(issuer, uow.now())
        return 201, {
            "object": "external_payment",
            "credit_id": credit_id,
            "amount": body.amount,
            "currency": invoice.currency,
            "date": body.date.isoformat(),
            "note": body.note,
            "invoice": svc.invoice_resource(invoice, c.links, today),
        }

    return idempotency.run(request, c, issuer, raw, handler)

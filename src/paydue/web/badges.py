"""The embeddable status icon of an invoice: ``/b/{token}.svg`` and its JSON twin.

No API key: the unguessable token is the credential. Short cache lifetimes so the icon turns
green within a minute of payment, plus an ETag so revalidation costs almost nothing.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from fastapi import APIRouter, Request, Response

from paydue.adapters.formats.badge import render_badge_svg
from paydue.domain.errors import NotFound
from paydue.domain.invoices import badge_state, is_overdue, outstanding
from paydue.services.ids import hash_token
from paydue.services.invoices import get_invoice, issuer_today
from paydue.web.deps import ContainerDep
from paydue.web.responses import dumps

router = APIRouter(tags=["status badge"])

MESSAGES = {
    "open": "open",
    "partially_paid": "partially paid",
    "overdue": "overdue",
    "paid": "paid",
    "overpaid": "paid",
    "cancelled": "cancelled",
}
CACHE = "public, max-age=30, stale-while-revalidate=30"


@router.get("/b/{token}.{ext}", summary="Invoice status icon (svg) or its JSON twin (json)")
def badge(request: Request, token: str, ext: Literal["svg", "json"], c: ContainerDep) -> Response:
    with c.uow(readonly=True) as uow:
        found = uow.invoices.issuer_and_id_for_badge(hash_token(token))
        if found is None:
            raise NotFound("no such status badge", code="badge_not_found")
        issuer = uow.issuers.get(found[0])
        assert issuer is not None
        invoice = get_invoice(uow, found[0], found[1])
        today = issuer_today(issuer, uow.now())
    overdue = is_overdue(invoice.status, invoice.due_date, today)
    state = badge_state(invoice.status, overdue)
    if ext == "svg":
        body = render_badge_svg(state, "invoice", MESSAGES[state]).encode()
        media = "image/svg+xml"
    else:
        body = dumps(
            {
                "status": invoice.status.value,
                "state": state,
                "overdue": overdue,
                "amount_due": outstanding(invoice.status, invoice.amount, invoice.amount_paid),
                "currency": invoice.currency,
                "due_date": invoice.due_date.isoformat(),
                "updated_at": invoice.updated_at.isoformat(),
            }
        )
        media = "application/json"
    etag = 'W/"' + hashlib.sha256(body).hexdigest()[:24] + '"'
    headers = {
        "Cache-Control": CACHE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)

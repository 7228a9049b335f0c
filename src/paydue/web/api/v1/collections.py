"""Issuer API: following an invoice or payer up — pause, resume, promise to pay, dispute,
payment plan, policy, the payer's channels — the agent's send-link, and the messages sent."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from paydue.services import collections as svc
from paydue.web import idempotency
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(tags=["collections"])


class PauseIn(Strict):
    until: dt.date | None = Field(
        default=None, description="last day of the pause (included); absent: until resumed"
    )


class PromiseIn(Strict):
    date: dt.date | None = Field(description="the promised day of payment; null: withdrawn")


class DisputeIn(Strict):
    reason: str = Field(min_length=1, max_length=1000, description="what the payer disputes")


class PaymentPlanIn(Strict):
    until: dt.date = Field(description="the plan's last day (included); reminders resume after")
    note: str | None = Field(default=None, max_length=500, description="e.g. the instalments")


class PolicyAssignIn(Strict):
    policy_id: str | None = Field(description="null: the payer's or the issuer's default")


class PayerChannelIn(Strict):
    address: str | None = Field(default=None, max_length=2000)
    consent: bool | None = None
    opted_out: bool | None = None


class PayerChannelsIn(Strict):
    preferred_channel: str | None = None
    channels: dict[str, PayerChannelIn] = Field(default_factory=dict)


class SendLinkIn(Strict):
    channel: str = Field(description="email, sms, voice, push, letter, webhook, whatsapp")
    expires_in_hours: float | None = Field(default=None, description="absent: no expiry")


def _post(request: Request, raw: bytes, c: Any, issuer: Any, work: Any) -> Response:
    return idempotency.run(request, c, issuer, raw, lambda uow: (200, work(uow)))


@router.post("/v1/invoices/{invoice_id}/pause", summary="Pause the invoice's reminders")
def pause_invoice(
    request: Request,
    invoice_id: str,
    body: PauseIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    return _post(
        request, raw, c, issuer, lambda uow: svc.pause_invoice(uow, issuer, invoice_id, body.until)
    )


@router.post("/v1/invoices/{invoice_id}/resume", summary="Resume the invoice's reminders")
def resume_invoice(
    request: Request, invoice_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    return _post(request, raw, c, issuer, lambda uow: svc.resume_invoice(uow, issuer, invoice_id))


@router.post("/v1/invoices/{invoice_id}/promise", summary="Record a promise to pay")
def promise(
    request: Request,
    invoice_id: str,
    body: PromiseIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """No reminder through the promised day; they resume the day after if still unpaid."""
    return _post(
        request, raw, c, issuer, lambda uow: svc.promise_to_pay(uow, issuer, invoice_id, body.date)
    )


@router.post("/v1/invoices/{invoice_id}/dispute", summary="Record that the payer disputes it")
def dispute(
    request: Request,
    invoice_id: str,
    body: DisputeIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """No reminder and no campaign message while disputed; ``invoice.disputed``."""
    return _post(
        request,
        raw,
        c,
        issuer,
        lambda uow: svc.dispute_invoice(uow, issuer, invoice_id, body.reason),
    )


@router.post("/v1/invoices/{invoice_id}/dispute/resolve", summary="The dispute is settled")
def resolve_dispute(
    request: Request, invoice_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    """Reminders resume at the step due; ``invoice.dispute_resolved``."""
    return _post(request, raw, c, issuer, lambda uow: svc.resolve_dispute(uow, issuer, invoice_id))


@router.post("/v1/invoices/{invoice_id}/payment-plan", summary="Record a payment plan")
def payment_plan(
    request: Request,
    invoice_id: str,
    body: PaymentPlanIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """No reminder through ``until``; they resume the day after if the invoice is unpaid."""
    return _post(
        request,
        raw,
        c,
        issuer,
        lambda uow: svc.set_payment_plan(uow, issuer, invoice_id, body.until, body.note),
    )


@router.delete("/v1/invoices/{invoice_id}/payment-plan", summary="End the payment plan")
def end_payment_plan(invoice_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        resource = svc.end_payment_plan(uow, issuer, invoice_id)
        uow.commit()
    return json_response(resource)


@router.put("/v1/invoices/{invoice_id}/policy", summary="Follow the invoice up by a policy")
def put_invoice_policy(
    invoice_id: str, body: PolicyAssignIn, c: ContainerDep, issuer: IssuerDep
) -> Response:
    with c.uow() as uow:
        resource = svc.set_invoice_policy(uow, issuer, invoice_id, body.policy_id)
        uow.commit()
    return json_response(resource)


@router.post("/v1/payers/{payer_ref}/pause", summary="Pause all reminders to a payer")
def pause_payer(
    request: Request,
    payer_ref: str,
    body: PauseIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    return _post(
        request, raw, c, issuer, lambda uow: svc.pause_payer(uow, issuer, payer_ref, body.until)
    )


@router.post("/v1/payers/{payer_ref}/resume", summary="Resume reminders to a payer")
def resume_payer(
    request: Request, payer_ref: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    return _post(request, raw, c, issuer, lambda uow: svc.resume_payer(uow, issuer, payer_ref))


@router.put("/v1/payers/{payer_ref}/channels", summary="The payer's channels and preference")
def put_payer_channels(
    payer_ref: str, body: PayerChannelsIn, c: ContainerDep, issuer: IssuerDep
) -> Response:
    """Per channel an extra ``address`` (a push subscription, a webhook URL), ``consent`` and
    ``opted_out``; ``preferred_channel`` goes first whenever it reaches the payer."""
    with c.uow() as uow:
        resource = svc.set_payer_channels(
            uow,
            issuer,
            payer_ref,
            preferred=body.preferred_channel,
            channels={k: v.model_dump(exclude_unset=True) for k, v in body.channels.items()},
        )
        uow.commit()
    return json_response(resource)


@router.put("/v1/payers/{payer_ref}/policy", summary="Follow a payer up by a policy")
def put_payer_policy(
    payer_ref: str, body: PolicyAssignIn, c: ContainerDep, issuer: IssuerDep
) -> Response:
    with c.uow() as uow:
        resource = svc.set_payer_policy(uow, issuer, payer_ref, body.policy_id)
        uow.commit()
    return json_response(resource)


@router.post(
    "/v1/invoices/{invoice_id}/send-link",
    status_code=201,
    summary="Send the payer a pay link now (agent mode)",
)
def send_link(
    request: Request,
    invoice_id: str,
    body: SendLinkIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """A new pay link on ``channel``, queued at once; the worker sends it within seconds. The
    contact rules apply: 409 ``contact_refused`` names the rule and when it would be allowed."""

    def handler(uow: Any) -> tuple[int, Any]:
        return 201, svc.send_link(
            uow,
            issuer,
            invoice_id,
            channel=body.channel,
            expires_in_hours=body.expires_in_hours,
            available=c.channels,
            links=c.links,
            secret=c.settings.secret_bytes,
        )

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("/v1/messages", summary="List messages, oldest first")
def list_messages(
    c: ContainerDep,
    issuer: IssuerDep,
    invoice_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = svc.list_messages(
            uow,
            issuer.id,
            invoice_id=invoice_id,
            after_id=decode_cursor(cursor, "msg"),
            limit=limit + 1,
        )
    return json_response(page(rows, limit, lambda m: m["id"]))

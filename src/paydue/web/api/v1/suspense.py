"""Issuer API: the suspense queue of credits waiting for a person."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import Field, TypeAdapter

from paydue.adapters.db.uow import UnitOfWork
from paydue.services import suspense as svc
from paydue.services.ids import hash_token
from paydue.web import idempotency
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.api.v1.schemas import Amount, Strict
from paydue.web.bodies import openapi_body, parse_json_body
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep, container
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/suspense", tags=["suspense"])


class AllocationIn(Strict):
    invoice_id: str = Field(min_length=1, max_length=40)
    amount: Amount


class SuspenseAssignIn(Strict):
    allocations: list[AllocationIn] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=500)


class SuspenseResolveIn(Strict):
    status: Literal["refund_pending", "other_income"]
    note: str | None = Field(default=None, max_length=500)


class SuspenseUndoIn(Strict):
    note: str | None = Field(default=None, max_length=500)


def actor(
    request: Request, issuer: IssuerDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """Who acts, for the audit log: the id of the API key the request was made with."""
    key = (authorization or "").partition(" ")[2].strip()
    with container(request).uow(readonly=True) as uow:
        return uow.issuers.api_key_id(issuer.id, hash_token(key)) or "api"


ActorDep = Annotated[str, Depends(actor)]


@router.get("", summary="List suspense items")
def list_items(
    c: ContainerDep,
    issuer: IssuerDep,
    status: Annotated[
        list[str] | None, Query(description="open, assigned, refund_pending, other_income")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = svc.list_items(
            uow,
            issuer.id,
            statuses=status,
            after_id=decode_cursor(cursor, "sus"),
            limit=limit + 1,
        )
    return json_response(page(rows, limit, lambda r: r["id"]))


@router.get("/{item_id}", summary="Get a suspense item with its suggestions and audit trail")
def get_item(item_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.get_item(uow, issuer.id, item_id))


@router.post("/{item_id}/assign", summary="Book the credit on invoices (a split is allowed)")
def assign(
    request: Request,
    item_id: str,
    body: SuspenseAssignIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
    who: ActorDep,
) -> Response:
    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        parts = [(a.invoice_id, a.amount) for a in body.allocations]
        return 200, svc.assign(uow, c.links, issuer, item_id, parts, actor=who, note=body.note)

    return idempotency.run(request, c, issuer, raw, handler)


@router.post("/{item_id}/resolve", summary="Resolve as refund pending or other income")
def resolve(
    request: Request,
    item_id: str,
    body: SuspenseResolveIn,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
    who: ActorDep,
) -> Response:
    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, svc.resolve(uow, issuer.id, item_id, body.status, actor=who, note=body.note)

    return idempotency.run(request, c, issuer, raw, handler)


UNDO_IN = TypeAdapter(SuspenseUndoIn)


@router.post(
    "/{item_id}/undo",
    summary="Reopen an item, reversing a manual assignment",
    openapi_extra=openapi_body(UNDO_IN),
)
def undo(
    request: Request, item_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep, who: ActorDep
) -> Response:
    # The body (a note) is optional: an empty request undoes without one.
    note = parse_json_body(UNDO_IN, request, raw).note if raw else None

    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, svc.undo(uow, c.links, issuer, item_id, actor=who, note=note)

    return idempotency.run(request, c, issuer, raw, handler)

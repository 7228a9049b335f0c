"""Issuer API: provider payouts (clearing) — reported by the provider, settled by the bank
credit that carries their reference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field, StrictInt

from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.payouts import PayoutItem
from paydue.services import payouts as svc
from paydue.web import idempotency
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.api.v1.schemas import Amount, Currency, Strict
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])


class PayoutItemIn(Strict):
    payment_id: str = Field(min_length=1, max_length=40)
    amount: Amount
    fee: Annotated[StrictInt, Field(ge=0, le=10**15, description="minor units the provider kept")]


class PayoutIn(Strict):
    provider: str = Field(min_length=1, max_length=32)
    reference: str = Field(min_length=1, max_length=140, description="the provider's payout id")
    currency: Currency
    items: list[PayoutItemIn] = Field(min_length=1, max_length=10_000)


@router.post("", status_code=201, summary="Record a payout a provider reported")
def create_payout(
    request: Request, body: PayoutIn, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    items = [PayoutItem(i.payment_id, i.amount, i.fee) for i in body.items]

    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        return 201, svc.register_payout(
            uow,
            issuer.id,
            provider=body.provider,
            reference=body.reference,
            currency=body.currency,
            items=items,
        )

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("", summary="List payouts")
def list_payouts(
    c: ContainerDep,
    issuer: IssuerDep,
    status: Annotated[list[str] | None, Query(description="open, settled, difference")] = None,
    provider: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = svc.list_payouts(
            uow,
            issuer.id,
            statuses=status,
            provider=provider,
            after_id=decode_cursor(cursor, "po"),
            limit=limit + 1,
        )
    return json_response(page(rows, limit, lambda r: r["id"]))


@router.get("/clearing", summary="The clearing position per provider and currency")
def clearing(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response({"object": "list", "data": svc.clearing(uow, issuer.id)})


@router.get("/{payout_id}", summary="Get a payout and the payments it settles")
def get_payout(payout_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.get_payout(uow, issuer.id, payout_id))

"""Issuer API: reconciliation settings and the daily reconciliation journal."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from paydue.domain.errors import InvalidInput
from paydue.services import journal
from paydue.services import reconciliation as svc
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])


class ReconciliationSettingsIn(Strict):
    match_threshold: float | None = Field(
        ge=svc.MIN_THRESHOLD,
        le=svc.MAX_THRESHOLD,
        description="book a match at once from this confidence on; null: the global default",
    )


@router.get("/settings", summary="The issuer's reconciliation settings")
def get_settings(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.settings_resource(uow, issuer.id, c.settings.match_threshold))


@router.put("/settings", summary="Change the issuer's reconciliation settings")
def put_settings(body: ReconciliationSettingsIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        svc.set_match_threshold(uow, issuer.id, body.match_threshold)
        resource = svc.settings_resource(uow, issuer.id, c.settings.match_threshold)
        uow.commit()
    return json_response(resource)


@router.get("/journal", summary="Every reconciliation booking of one day, as JSON or CSV")
def get_journal(
    c: ContainerDep,
    issuer: IssuerDep,
    date: str,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """The bookings of ``date`` (YYYY-MM-DD, a day in the issuer's timezone) in booking order:
    bank credits matched, manual assignments, reversals, returns and suspense items opened."""
    day = _day(date)
    with c.uow(readonly=True) as uow:
        entries = journal.journal(uow, issuer, day)
    if format == "csv":
        return Response(
            journal.to_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="journal-{day}.csv"'},
        )
    return json_response(
        {
            "object": "reconciliation_journal",
            "date": day.isoformat(),
            "timezone": issuer.timezone,
            "data": entries,
        }
    )


def _day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"date must be a day as YYYY-MM-DD, not {text!r}", code="invalid_date"
        ) from None

"""Issuer API: reconciliation settings and the daily reconciliation journal."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

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

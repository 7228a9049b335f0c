"""Issuer API: collections policies, the default policy, channel costs and contact rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ConfigDict

from paydue.services import policies as svc
from paydue.web import idempotency
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(tags=["collections"])


class PolicyIn(Strict):
    """A policy as ``domain.dunning.policy_from_data`` reads it; the domain checks each step and
    names the one at fault (``steps[2].offset_days: …``)."""

    model_config = ConfigDict(extra="forbid")
    name: Any = None
    bundle: Any = True
    steps: Any = None
    default: Any = False


class CollectionSettingsIn(Strict):
    channel_costs: dict[str, Any] | None = None
    contact_rules: dict[str, Any] | None = None


@router.get("/v1/policies", summary="List the issuer's policies and the one in force")
def list_policies(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        stored = uow.collections.list_policies(issuer.id)
    data = [svc.policy_resource(p) for p in stored]
    return json_response(
        {
            "object": "list",
            "data": data,
            "has_more": False,
            "builtin_default": None
            if any(p.is_default for p in stored)
            else svc.builtin_policy_resource(),
        }
    )


@router.post("/v1/policies", status_code=201, summary="Create a policy")
def create_policy(
    request: Request, body: PolicyIn, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    """``"default": true`` makes it the policy of every invoice without one of its own."""

    def handler(uow: Any) -> tuple[int, Any]:
        return 201, svc.policy_resource(svc.create_policy(uow, issuer.id, body.model_dump()))

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("/v1/policies/{policy_id}", summary="Get a policy")
def get_policy(policy_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.policy_resource(svc.get_policy(uow, issuer.id, policy_id)))


@router.put("/v1/policies/{policy_id}", summary="Replace a policy")
def put_policy(policy_id: str, body: PolicyIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        resource = svc.policy_resource(
            svc.replace_policy(uow, issuer.id, policy_id, body.model_dump())
        )
        uow.commit()
    return json_response(resource)


@router.delete("/v1/policies/{policy_id}", status_code=204, summary="Delete an unused policy")
def delete_policy(policy_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        svc.delete_policy(uow, issuer.id, policy_id)
        uow.commit()
    return Response(status_code=204)


@router.get("/v1/collections/settings", summary="Channel costs and contact rules")
def get_settings(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(_settings(uow, issuer.id, c.channels))


@router.put("/v1/collections/settings", summary="Set channel costs and contact rules")
def put_settings(body: CollectionSettingsIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    """``channel_costs``: minor units per message by channel (the channels listed are the ones
    used); ``contact_rules``: window_start, window_end, rest_days (Monday 0), skip_public_holidays,
    max_per_week, max_per_week_by_channel, delivery_timeout_hours. Null: the defaults."""
    with c.uow() as uow:
        svc.put_settings(
            uow, issuer.id, channel_costs=body.channel_costs, contact_rules=body.contact_rules
        )
        resource = _settings(uow, issuer.id, c.channels)
        uow.commit()
    return json_response(resource)


def _settings(uow: Any, issuer_id: str, channels: Any) -> dict[str, Any]:
    setup = svc.load_setup(uow, issuer_id, channels)
    row = uow.collections.settings_of([issuer_id]).get(issuer_id, {})
    costs = svc.costs_from_data(row.get("channel_costs")) or svc.DEFAULT_COSTS
    return svc.settings_resource(setup, all_costs=costs)

"""Issuer API: webhook endpoints, their delivery log and replays."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from paydue.adapters.http import check_url
from paydue.services import webhooks as svc
from paydue.web import idempotency
from paydue.web.api.v1.schemas import WebhookEndpointIn, WebhookEndpointPatch
from paydue.web.deps import BodyDep, ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


@router.post("", status_code=201, summary="Register a webhook endpoint")
def create_endpoint(
    request: Request, body: WebhookEndpointIn, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    """The response is the only time the signing secret is shown (until it is rotated)."""
    check = partial(check_url, allow_private=c.settings.webhook_allow_private)

    def handler(uow: Any) -> tuple[int, Any]:
        endpoint = svc.register_endpoint(uow, issuer.id, body.url, body.event_types, check=check)
        return 201, svc.endpoint_resource(endpoint, with_secret=True)

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("", summary="List webhook endpoints")
def list_endpoints(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        endpoints = svc.list_endpoints(uow, issuer.id)
    return json_response({"object": "list", "data": [svc.endpoint_resource(e) for e in endpoints]})


@router.get("/{endpoint_id}", summary="Get a webhook endpoint")
def get_endpoint(endpoint_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.endpoint_resource(svc.get_endpoint(uow, issuer.id, endpoint_id)))


@router.patch("/{endpoint_id}", summary="Enable, disable or change the event types")
def update_endpoint(
    endpoint_id: str, body: WebhookEndpointPatch, c: ContainerDep, issuer: IssuerDep
) -> Response:
    """Disabling gives up the endpoint's pending deliveries; enabling does not bring them back
    (replay them)."""
    with c.uow() as uow:
        endpoint = svc.update_endpoint(
            uow, issuer.id, endpoint_id, enabled=body.enabled, event_types=body.event_types
        )
        uow.commit()
    return json_response(svc.endpoint_resource(endpoint))


@router.post("/{endpoint_id}/rotate-secret", summary="Replace the signing secret")
def rotate_secret(
    request: Request, endpoint_id: str, raw: BodyDep, c: ContainerDep, issuer: IssuerDep
) -> Response:
    def handler(uow: Any) -> tuple[int, Any]:
        endpoint = svc.rotate_secret(uow, issuer.id, endpoint_id)
        return 200, svc.endpoint_resource(endpoint, with_secret=True)

    return idempotency.run(request, c, issuer, raw, handler)


@router.get("/{endpoint_id}/deliveries", summary="The delivery log, newest first")
def list_deliveries(
    endpoint_id: str,
    c: ContainerDep,
    issuer: IssuerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    with c.uow(readonly=True) as uow:
        page = svc.deliveries(uow, issuer.id, endpoint_id, cursor, limit)
    return json_response(
        {
            "object": "list",
            "data": [svc.delivery_resource(d) for d in page.deliveries],
            "has_more": page.next_cursor is not None,
            "next_cursor": page.next_cursor,
        }
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=201,
    summary="Deliver an event again (by delivery id or event id)",
)
def replay_delivery(
    request: Request,
    endpoint_id: str,
    delivery_id: str,
    raw: BodyDep,
    c: ContainerDep,
    issuer: IssuerDep,
) -> Response:
    """A new delivery with the same ``webhook-id``, so the receiver can drop a duplicate."""

    def handler(uow: Any) -> tuple[int, Any]:
        delivery = svc.replay(uow, issuer.id, endpoint_id, delivery_id)
        return 201, svc.delivery_resource(delivery)

    return idempotency.run(request, c, issuer, raw, handler)

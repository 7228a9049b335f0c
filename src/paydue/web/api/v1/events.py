"""Issuer API: the events feed, an ordered and gap-free list per issuer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from paydue.domain.errors import NotFound
from paydue.services.events import event_resource
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", summary="Poll events after a cursor")
def list_events(
    c: ContainerDep,
    issuer: IssuerDep,
    after: Annotated[int, Query(ge=0, description="the last sequence number you have seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Events come in sequence order. Sequence numbers of an issuer have no gaps and an event
    with a lower number is always committed before one with a higher number, so polling with the
    last ``sequence`` seen as ``after`` never misses one."""
    with c.uow(readonly=True) as uow:
        rows = uow.events.feed(issuer.id, after=after, limit=limit + 1, types=type)
    more = len(rows) > limit
    rows = rows[:limit]
    data = [event_resource(e) for e in rows]
    # With a type filter the cursor moves over the events returned.
    return json_response(
        {
            "object": "list",
            "data": data,
            "next_after": rows[-1].seq if rows else after,
            "has_more": more,
        }
    )


@router.get("/{event_id}", summary="Get one event")
def get_event(event_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        event = uow.events.get(issuer.id, event_id)
    if event is None:
        raise NotFound(f"no event {event_id!r}", code="event_not_found")
    return json_response(event_resource(event))

"""Webhook endpoints of an issuer: register, list, change, rotate the secret, see the delivery
log, replay a delivery.

A delivery is a ``webhook.deliver`` job (one per event and endpoint); its attempts are in the
delivery log. Every call is scoped by issuer: another issuer's ids are not found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from paydue.adapters.db.events import WEBHOOK_DELIVERY
from paydue.adapters.db.records import Job, WebhookEndpoint
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain import events as ev
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.services.ids import new_id, new_webhook_secret

URLCheck = Callable[[str], None]
"""Raises ValueError (with the reason) for a URL webhooks must not be sent to."""

DISABLED_BY_ISSUER = "disabled by the issuer"
_DELIVERY_ID = re.compile(r"^job_[0-9a-z]{26}$")

# Job status → delivery status, as the API shows it.
DELIVERY_STATUS = {
    "pending": "pending",
    "running": "sending",
    "done": "succeeded",
    "dead": "failed",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    job: Job
    attempts: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None


def endpoint_resource(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as the API shows it; the secret only when it was just made."""
    resource: dict[str, Any] = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at.isoformat(),
    }
    if with_secret:
        resource["secret"] = endpoint.secret
    return resource


def delivery_resource(delivery: Delivery) -> dict[str, Any]:
    """A delivery and its attempts, newest last."""
    job = delivery.job
    return {
        "id": job.id,
        "object": "webhook_delivery",
        "endpoint_id": job.endpoint_id,
        "event_id": job.event_id,
        "status": DELIVERY_STATUS.get(job.status, job.status),
        "attempt_count": len(delivery.attempts),
        "next_attempt_at": job.run_at.isoformat() if job.status == "pending" else None,
        "last_error": job.last_error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "attempts": [
            {
                "attempt": a["attempt"],
                "attempted_at": a["attempted_at"].isoformat(),
                "status_code": a["status_code"],
                "error": a["error"],
                "duration_ms": a["duration_ms"],
                "response_excerpt": a["response_excerpt"],
            }
            for a in delivery.attempts
        ],
    }


def _subscription(event_types: Sequence[str]) -> list[str]:
    try:
        return ev.check_subscription(event_types)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_event_type") from exc


def register_endpoint(
    uow: UnitOfWork, issuer_id: str, url: str, event_types: Sequence[str], *, check: URLCheck
) -> WebhookEndpoint:
    """Add an endpoint with a new ``whsec_`` secret; the URL must pass ``check``."""
    types = _subscription(event_types)
    try:
        check(url)
    except ValueError as exc:
        raise InvalidInput(f"webhook URL refused: {exc}", code="unsafe_url") from exc
    endpoint_id = new_id("we")
    uow.webhooks.add(
        {
            "issuer_id": issuer_id,
            "id": endpoint_id,
            "url": url,
            "event_types": types,
            "secret": new_webhook_secret(),
            "enabled": True,
            "created_at": uow.now(),
        }
    )
    return get_endpoint(uow, issuer_id, endpoint_id)


def list_endpoints(uow: UnitOfWork, issuer_id: str) -> list[WebhookEndpoint]:
    """The issuer's endpoints, oldest first."""
    return uow.webhooks.list(issuer_id)


def get_endpoint(uow: UnitOfWork, issuer_id: str, endpoint_id: str) -> WebhookEndpoint:
    """One of the issuer's endpoints, or NotFound."""
    endpoint = uow.webhooks.get(issuer_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_endpoint_not_found")
    return endpoint


def disable_endpoint(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop delivering to ``endpoint``: record ``webhook_endpoint.disabled`` and give up its
    pending deliveries. Disabling a disabled endpoint changes nothing."""
    if not uow.webhooks.set_enabled(endpoint.issuer_id, endpoint.id, False, reason):
        return
    uow.jobs.cancel_pending_for_endpoint(endpoint.issuer_id, endpoint.id, uow.now())
    uow.record(
        endpoint.issuer_id,
        ev.Event(
            ev.WEBHOOK_ENDPOINT_DISABLED,
            endpoint.id,
            {"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason},
        ),
    )


def update_endpoint(
    uow: UnitOfWork,
    issuer_id: str,
    endpoint_id: str,
    *,
    enabled: bool | None = None,
    event_types: Sequence[str] | None = None,
) -> WebhookEndpoint:
    """Enable or disable an endpoint, or change what it subscribes to."""
    endpoint = get_endpoint(uow, issuer_id, endpoint_id)
    if event_types is not None:
        uow.webhooks.update(issuer_id, endpoint_id, {"event_types": _subscription(event_types)})
    if enabled is True:
        uow.webhooks.set_enabled(issuer_id, endpoint_id, True, None)
    elif enabled is False:
        disable_endpoint(uow, endpoint, DISABLED_BY_ISSUER)
    return get_endpoint(uow, issuer_id, endpoint_id)


def rotate_secret(uow: UnitOfWork, issuer_id: str, endpoint_id: str) -> WebhookEndpoint:
    """Give the endpoint a new secret; every delivery from now on is signed with it."""
    get_endpoint(uow, issuer_id, endpoint_id)
    uow.webhooks.update(issuer_id, endpoint_id, {"secret": new_webhook_secret()})
    return get_endpoint(uow, issuer_id, endpoint_id)


def deliveries(
    uow: UnitOfWork, issuer_id: str, endpoint_id: str, cursor: str | None, limit: int
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, with their attempts; ``cursor`` is the
    ``next_cursor`` of the previous page (the id of its last delivery)."""
    get_endpoint(uow, issuer_id, endpoint_id)
    if cursor is not None and not _DELIVERY_ID.match(cursor):
        raise InvalidInput("the cursor is not one this API gave out", code="invalid_cursor")
    jobs = uow.jobs.for_endpoint(issuer_id, endpoint_id, after_id=cursor, limit=limit + 1)
    page = jobs[:limit]
    attempts = uow.webhooks.attempts(issuer_id, [j.id for j in page])
    return DeliveryPage(
        deliveries=[Delivery(j, attempts.get(j.id, [])) for j in page],
        next_cursor=page[-1].id if len(jobs) > limit else None,
    )


def replay(
    uow: UnitOfWork, issuer_id: str, endpoint_id: str, delivery_or_event_id: str
) -> Delivery:
    """Deliver an event to the endpoint again, as a new delivery with the same ``webhook-id``
    (the event id) so receivers can recognise a duplicate. Takes a delivery id or an event id.
    A disabled endpoint must be enabled first: replaying does not re-enable it."""
    endpoint = get_endpoint(uow, issuer_id, endpoint_id)
    job = uow.jobs.get(issuer_id, delivery_or_event_id)
    if job is not None and job.endpoint_id == endpoint_id and job.event_id is not None:
        event_id = job.event_id
    else:
        event = uow.events.get(issuer_id, delivery_or_event_id)
        if event is None:
            raise NotFound(
                f"no delivery or event {delivery_or_event_id!r} for this endpoint",
                code="webhook_delivery_not_found",
            )
        event_id = event.id
    if not endpoint.enabled:
        raise Conflict(
            "the endpoint is disabled; enable it before replaying", code="webhook_endpoint_disabled"
        )
    new = uow.jobs.add(
        issuer_id, WEBHOOK_DELIVERY, uow.now(), event_id=event_id, endpoint_id=endpoint_id
    )
    return Delivery(new, [])

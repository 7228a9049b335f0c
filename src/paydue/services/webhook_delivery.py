"""Webhook delivery: the handler of ``webhook.deliver`` jobs.

Jobs come in batches. One attempt per job: read the event and the endpoint, sign the event
resource (Standard Webhooks, the event id as ``webhook-id``), POST it with no database
transaction open (the batch's requests concurrently, over kept-alive connections), then in one
transaction log the attempts and settle the jobs: 2xx is done; 410 means the receiver is gone
for good, so the endpoint is disabled; anything else is retried on the schedule of
``domain.webhooks`` until it is exhausted. All times come from the container's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from paydue.adapters.clock import Clock
from paydue.adapters.db.records import Job, StoredEvent, WebhookEndpoint
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.http import HttpClient, Outcome, Request
from paydue.domain import webhooks as wh
from paydue.services.events import event_resource
from paydue.services.ids import new_id
from paydue.services.webhooks import disable_endpoint

log = logging.getLogger(__name__)

GONE_REASON = "410 Gone from receiver"


class DeliveryContext(Protocol):
    """What delivery needs from the composition root."""

    clock: Clock

    @property
    def http(self) -> HttpClient: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...


def deliver(ctx: DeliveryContext, jobs: Sequence[Job], worker_id: str) -> None:
    """Make one delivery attempt for each job and finish, retry or bury it (fenced).

    One transaction reads what the batch needs, the requests go out concurrently with no
    transaction open, one transaction logs the attempts and settles the jobs.
    """
    with ctx.uow(readonly=True) as uow:
        ready, hopeless = _load(uow, jobs)
    timestamp = int(ctx.clock.now().timestamp())
    requests: list[Request] = []
    for _, event, endpoint in ready:
        body = orjson.dumps(event_resource(event))
        requests.append(
            (endpoint.url, body, wh.headers(endpoint.secret, event.id, timestamp, body))
        )
    sent = list(zip(ready, ctx.http.post_many(requests), strict=True))
    with ctx.uow() as uow:
        now = uow.now()
        for job, reason in hopeless:
            uow.jobs.bury(job, worker_id, now, reason)
        uow.webhooks.log_attempts([_attempt(job, outcome, now) for (job, _, _), outcome in sent])
        done = [job for (job, _, _), outcome in sent if outcome.ok]
        settled = len(uow.jobs.finish_many(done, worker_id, now)) == len(done)
        for (job, _, endpoint), outcome in sent:
            if not outcome.ok:
                settled = _settle_failure(uow, job, worker_id, endpoint, outcome) and settled
        uow.commit()
    if not settled:
        log.warning("some deliveries were claimed again meanwhile; their new claims settle them")


def _load(
    uow: UnitOfWork, jobs: Sequence[Job]
) -> tuple[list[tuple[Job, StoredEvent, WebhookEndpoint]], list[tuple[Job, str]]]:
    """The jobs that can be sent, with their event and endpoint; the others with the reason."""
    events = uow.events.get_many([(job.issuer_id, job.event_id or "") for job in jobs])
    endpoints: dict[tuple[str, str], WebhookEndpoint | None] = {}
    ready: list[tuple[Job, StoredEvent, WebhookEndpoint]] = []
    hopeless: list[tuple[Job, str]] = []
    for job in jobs:
        key = (job.issuer_id, job.endpoint_id or "")
        if key not in endpoints:
            endpoints[key] = uow.webhooks.get(*key)
        endpoint = endpoints[key]
        event = events.get((job.issuer_id, job.event_id or ""))
        if endpoint is None or event is None:
            hopeless.append((job, "the endpoint or the event no longer exists"))
        elif not endpoint.enabled:
            reason = endpoint.disabled_reason or "no reason given"
            hopeless.append((job, f"endpoint disabled: {reason}"))
        else:
            ready.append((job, event, endpoint))
    return ready, hopeless


def _attempt(job: Job, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The delivery log row of one attempt."""
    return {
        "issuer_id": job.issuer_id,
        "id": new_id("wa"),
        "job_id": job.id,
        "endpoint_id": job.endpoint_id,
        "event_id": job.event_id,
        "attempt": job.attempts,
        "attempted_at": now,
        "status_code": outcome.status_code,
        "error": outcome.error[:500] if outcome.error else None,
        "duration_ms": outcome.duration_ms,
        "response_excerpt": outcome.excerpt,
    }


def _settle_failure(
    uow: UnitOfWork, job: Job, worker_id: str, endpoint: WebhookEndpoint, outcome: Outcome
) -> bool:
    """Retry or bury the job after a failed attempt; False if the job was claimed again."""
    now = uow.now()
    if outcome.status_code == 410:
        disable_endpoint(uow, endpoint, GONE_REASON)
        return uow.jobs.bury(job, worker_id, now, f"gone: {GONE_REASON}")
    error = outcome.error or f"HTTP {outcome.status_code}"
    delay = wh.retry_delay(job.attempts)
    if delay is None:
        return uow.jobs.bury(
            job, worker_id, now, f"{error} (gave up after {job.attempts} attempts)"
        )
    return uow.jobs.retry(job, worker_id, now + delay, error)

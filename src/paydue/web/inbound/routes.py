"""Provider notifications: verify on the raw bytes → store once → 2xx → processed by the worker.

``POST /inbound/{provider}/{issuer_id}``: each issuer's provider account notifies its own URL,
signed with that account's key. A forged or stale signature or an unreadable body is refused
with a 4xx naming the problem, and nothing is stored; a repeat of a stored notification is
acknowledged again (providers retry until they see a 2xx) and changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from paydue.adapters.providers.base import NotificationError
from paydue.domain.errors import NotFound
from paydue.services import payments as pay
from paydue.web.deps import ContainerDep
from paydue.web.responses import error_body, json_response

router = APIRouter(tags=["provider notifications"])

MAX_BODY = 256 * 1024


@router.post("/inbound/{provider}/{issuer_id}")
async def notification(
    request: Request, provider: str, issuer_id: str, c: ContainerDep
) -> Response:
    adapter = c.providers.get(provider)
    if adapter is None:
        raise NotFound(f"no provider {provider!r}", code="provider_not_found")
    body = await request.body()
    if len(body) > MAX_BODY:
        return json_response(
            error_body(
                "too_large",
                f"a notification is at most {MAX_BODY} bytes",
                kind="invalid_request_error",
            ),
            413,
        )
    headers = {k.lower(): v for k, v in request.headers.items()}

    def store() -> bool:
        with c.uow() as uow:
            stored = pay.receive_notification(uow, adapter, issuer_id, body, headers)
            uow.commit()
        return stored

    try:
        stored = await run_in_threadpool(store)
    except NotificationError as exc:
        return json_response(
            error_body("invalid_notification", str(exc), kind="invalid_request_error"),
            exc.status,
        )
    if stored:
        c.work_available.set()
    return json_response({"received": True, "duplicate": not stored}, 200)

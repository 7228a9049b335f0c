"""Provider notifications: verify on the raw bytes → store once → 2xx → processed by the worker.

``POST /inbound/{provider}/{issuer_id}``: each issuer's provider account notifies its own URL,
signed with that account's key. A forged or stale signature or an unreadable body is refused
with a 4xx naming the problem, and nothing is stored; a repeat of a stored notification is
acknowledged again (providers retry until they see a 2xx) and changes nothing.

Notifications arriving together share a transaction: the requests hand them to a storing
thread (``Intake``), which takes what is waiting (up to ``MAX_BATCH``), stores it with
``services.payments.receive_notifications`` and commits once; each request is answered after
that commit. If the batch fails as a whole, its notifications are stored again one transaction
each, so one bad notification costs only its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from paydue.adapters.providers.base import NotificationError, Provider
from paydue.bootstrap import Container
from paydue.domain.errors import NotFound
from paydue.services import payments as pay
from paydue.web.deps import ContainerDep
from paydue.web.responses import error_body, json_response

router = APIRouter(tags=["provider notifications"])
log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_BATCH = 200
IDLE_SECONDS = 10.0
"""A storing thread with nothing to do for this long ends; the next notification starts one."""


@dataclass(frozen=True, slots=True)
class _Waiting:
    inbound: pay.Inbound
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bool]


def _settle(future: asyncio.Future[bool], result: bool | BaseException) -> None:
    if future.done():  # the request went away
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class Intake:
    """The notifications of one container waiting to be stored, and the thread storing them."""

    def __init__(self, c: Container) -> None:
        self.c = c
        self.waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.running = False

    def submit(
        self, provider: Provider, issuer_id: str, body: bytes, headers: dict[str, str]
    ) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self.waiting.put(_Waiting(pay.Inbound(provider, issuer_id, body, headers), loop, future))
        with self.lock:
            if not self.running:
                self.running = True
                threading.Thread(target=self._run, name="inbound-store", daemon=True).start()
        return future

    def _run(self) -> None:
        while True:
            try:
                batch = [self.waiting.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                with self.lock:
                    if self.waiting.empty():
                        self.running = False
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            results = self._store([w.inbound for w in batch])
            for waiting, result in zip(batch, results, strict=True):
                # RuntimeError: that request's event loop is gone, there is nobody to answer.
                with contextlib.suppress(RuntimeError):
                    waiting.loop.call_soon_threadsafe(_settle, waiting.future, result)

    def _store(self, items: list[pay.Inbound]) -> list[bool | BaseException]:
        try:
            with self.c.uow() as uow:
                results: list[bool | BaseException] = list(pay.receive_notifications(uow, items))
                uow.commit()
            return results
        except Exception:
            if len(items) > 1:
                log.warning("a batch of %d notifications failed; one by one now", len(items))
            return self._one_by_one(items)

    def _one_by_one(self, items: list[pay.Inbound]) -> list[bool | BaseException]:
        results: list[bool | BaseException] = []
        for item in items:
            try:
                with self.c.uow() as uow:
                    stored = pay.receive_notification(
                        uow, item.provider, item.issuer_id, item.body, item.headers
                    )
                    uow.commit()
                results.append(stored)
            except Exception as exc:
                results.append(exc)
        return results


_intakes: weakref.WeakKeyDictionary[sa.Engine, Intake] = weakref.WeakKeyDictionary()
_intakes_lock = threading.Lock()


def _intake(c: Container) -> Intake:
    found = _intakes.get(c.engine)
    if found is None or found.c is not c:
        with _intakes_lock:
            found = _intakes.get(c.engine)
            if found is None or found.c is not c:
                found = _intakes[c.engine] = Intake(c)
    return found


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
    try:
        stored = await _intake(c).submit(adapter, issuer_id, body, headers)
    except NotificationError as exc:
        return json_response(
            error_body("invalid_notification", str(exc), kind="invalid_request_error"),
            exc.status,
        )
    if stored:
        c.work_available.set()
    return json_response({"received": True, "duplicate": not stored}, 200)

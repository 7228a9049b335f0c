"""``Idempotency-Key`` for every POST, scoped per issuer.

Same key and same request: the first response is replayed. Same key and another request: 422.
The first request still running: 409. The stored response is written in the same transaction as
the request's effects, so a crash can never leave an effect without its stored response.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import Request, Response

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.bootstrap import Container
from paydue.domain.errors import Conflict, DomainError, InvalidInput
from paydue.web.responses import dumps

Handler = Callable[[UnitOfWork], tuple[int, Any]]
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What identifies a request for ``Idempotency-Key``: method, path, query and body bytes."""
    h = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    h.update(body)
    return h.hexdigest()


def _request_hash(request: Request, body: bytes) -> str:
    return fingerprint(request.method, request.url.path, request.url.query, body)


def run(
    request: Request, container: Container, issuer: Issuer, body: bytes, handler: Handler
) -> Response:
    """Run ``handler`` in a unit of work and commit, honouring the Idempotency-Key header."""
    key = request.headers.get("idempotency-key")
    if key is None:
        with container.uow() as uow:
            status, data = handler(uow)
            payload = dumps(data)
            uow.commit()
        return Response(payload, status_code=status, media_type="application/json")

    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters")
    digest = _request_hash(request, body)
    lock_for = timedelta(seconds=container.settings.idempotency_lock_seconds)
    claim = secrets.token_hex(16)
    with container.uow() as uow:
        now = uow.now()
        stored = uow.idempotency.try_lock(issuer.id, key, digest, now, now + lock_for, claim=claim)
        uow.commit()
    if stored is not None:
        if stored.request_hash != digest:
            raise InvalidInput(
                "this Idempotency-Key was used with a different request; use a new key",
                code="idempotency_key_reused",
            )
        if stored.response_status is None:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry later",
                code="idempotency_request_in_progress",
            )
        return Response(
            stored.response_body or b"",
            status_code=stored.response_status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )

    try:
        with container.uow() as uow:
            status, data = handler(uow)
            payload = dumps(data)
            if not uow.idempotency.complete(issuer.id, key, claim, status, payload):
                raise _LostClaim()
            uow.commit()
    except _LostClaim:
        raise Conflict(
            "this request took longer than its Idempotency-Key lock and a retry took over; "
            "nothing was changed by this attempt",
            code="idempotency_request_in_progress",
        ) from None
    except DomainError as exc:
        _store_error(container, issuer, key, claim, exc)
        raise
    except BaseException:
        with container.uow() as uow:
            uow.idempotency.release(issuer.id, key, claim)
            uow.commit()
        raise
    return Response(payload, status_code=status, media_type="application/json")


class _LostClaim(Exception):
    """The request's claim on its key expired and a retry took it over."""


def _store_error(
    container: Container, issuer: Issuer, key: str, claim: str, exc: DomainError
) -> None:
    """A refused request is answered the same way when it is repeated with the same key."""
    from paydue.web.responses import error_body

    body = dumps(
        error_body(exc.code, exc.message, kind="invalid_request_error", details=exc.details)
    )
    with container.uow() as uow:
        uow.idempotency.complete(issuer.id, key, claim, exc.status, body)
        uow.commit()

"""Request dependencies: the container, the authenticated issuer, the raw body."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from paydue.adapters.db.records import Issuer
from paydue.bootstrap import Container
from paydue.domain.errors import Unauthorized
from paydue.services.issuers import authenticate


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def current_issuer(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Issuer:
    """The issuer whose API key is in ``Authorization: Bearer <key>``."""
    if not authorization:
        raise Unauthorized(
            "send your API key as 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(
            "the Authorization header must be 'Bearer <key>'", code="invalid_api_key"
        )
    with container(request).uow(readonly=True) as uow:
        return authenticate(uow, key.strip())


async def raw_body(request: Request) -> bytes:
    return await request.body()


ContainerDep = Annotated[Container, Depends(container)]
IssuerDep = Annotated[Issuer, Depends(current_issuer)]
BodyDep = Annotated[bytes, Depends(raw_body)]

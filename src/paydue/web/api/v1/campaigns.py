"""Issuer API: campaigns — a pay link on one channel to a list of payers, now, rate-limited,
with progress and per-recipient results."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from starlette.datastructures import UploadFile

from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import InvalidInput
from paydue.services import campaigns as svc
from paydue.web import idempotency
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

MAX_FILE_BYTES = 5 * 1024 * 1024


class CampaignIn(Strict):
    channel: str = Field(description="email, sms, voice, push, letter, webhook, whatsapp")
    name: str | None = Field(default=None, max_length=200)
    payer_refs: list[str] | None = Field(
        default=None, description="the payers (or upload a CSV of refs as multipart 'file')"
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description='payers with matching unpaid invoices: {"overdue_days_min": 30, '
        '"status": ["open", "partially_paid"]}',
    )
    rate_per_minute: int | None = Field(default=None, description="messages a minute (60)")
    expires_in_hours: float | None = Field(default=None, description="pay links; absent: none")


_CREATE_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": CampaignIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "channel": {"type": "string"},
                        "name": {"type": "string"},
                        "rate_per_minute": {"type": "integer"},
                        "expires_in_hours": {"type": "number"},
                    },
                    "required": ["file", "channel"],
                }
            },
        },
    }
}


def _validated(data: dict[str, Any]) -> CampaignIn:
    try:
        return CampaignIn.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{where}: {first['msg']}", details={"where": where}) from None


async def _body(request: Request) -> tuple[CampaignIn, bytes]:
    """The request as a ``CampaignIn`` and the bytes an Idempotency-Key is checked against
    (for a multipart upload: its fields and file, not the envelope, whose boundary differs)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("send the payer refs as the multipart field 'file'")
            data = await upload.read(MAX_FILE_BYTES + 1)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if len(data) > MAX_FILE_BYTES:
            raise InvalidInput(f"file: at most {MAX_FILE_BYTES} bytes")
        values: dict[str, Any] = dict(fields)
        values["payer_refs"] = svc.refs_from_csv(data)
        for number in ("rate_per_minute", "expires_in_hours"):
            if number in values:
                try:
                    values[number] = json.loads(values[number])
                except ValueError:
                    raise InvalidInput(f"{number}: a number", details={"where": number}) from None
        body = _validated(values)
        return body, json.dumps(values, sort_keys=True).encode() + b"\n" + data
    raw = await request.body()
    try:
        values = json.loads(raw or b"null")
    except ValueError:
        raise InvalidInput("the body is not JSON", code="invalid_json") from None
    if not isinstance(values, dict):
        raise InvalidInput("the body is a JSON object, or multipart with a CSV 'file'")
    return _validated(values), raw


@router.post(
    "",
    status_code=201,
    summary="Send a pay link to a list of payers (CSV of refs or a filter)",
    openapi_extra=_CREATE_DOC,
)
async def create_campaign(request: Request, c: ContainerDep, issuer: IssuerDep) -> Response:
    """Queued now and sent at ``rate_per_minute``; the contact rules hold (a payer outside
    their contact window waits for it, one over the weekly cap is skipped with the reason)."""
    body, fingerprint = await _body(request)

    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        return 201, svc.create_campaign(
            uow,
            issuer,
            channel=body.channel,
            refs=body.payer_refs,
            filter=body.filter,
            rate_per_minute=body.rate_per_minute,
            expires_in_hours=body.expires_in_hours,
            name=body.name,
            available=c.channels,
        )

    response: Response = await run_in_threadpool(
        idempotency.run, request, c, issuer, fingerprint, handler
    )
    return response


@router.get("", summary="List campaigns, oldest first")
def list_campaigns(
    c: ContainerDep,
    issuer: IssuerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = svc.list_campaigns(
            uow, issuer.id, after_id=decode_cursor(cursor, "cmp"), limit=limit + 1
        )
    return json_response(page(rows, limit, lambda r: r["id"]))


@router.get("/{campaign_id}", summary="A campaign and its progress")
def get_campaign(campaign_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.get_campaign(uow, issuer.id, campaign_id))


@router.get("/{campaign_id}/recipients", summary="A campaign's recipients and their results")
def list_recipients(
    campaign_id: str,
    c: ContainerDep,
    issuer: IssuerDep,
    after: Annotated[int | None, Query(ge=0, description="the last position seen")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = svc.list_recipients(
            uow, issuer.id, campaign_id, after_position=after, limit=limit + 1
        )
    more = len(rows) > limit
    shown = rows[:limit]
    return json_response(
        {
            "object": "list",
            "data": shown,
            "has_more": more,
            "next_after": shown[-1]["position"] if more else None,
        }
    )

"""Issuer API: bank statement import (camt.052/053/054, MT940/MT942, CSV with the issuer's
column mapping) and imported statements."""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import DomainError, InvalidInput, NotFound
from paydue.services import reconciliation
from paydue.services import statements as svc
from paydue.web import idempotency
from paydue.web.api.v1.pagination import decode_cursor, page
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/statements", tags=["statements"])

MAX_FILE_BYTES = 20 * 1024 * 1024
RAW_TYPES = frozenset(
    {"application/xml", "text/xml", "text/plain", "text/csv", "application/octet-stream"}
)

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            **{t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(RAW_TYPES)},
        },
    }
}


class PayloadTooLarge(DomainError):
    status = 413
    code = "file_too_large"


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"a statement file may have at most {MAX_FILE_BYTES} bytes")


def _media_type(request: Request) -> str:
    message = Message()
    message["content-type"] = request.headers.get("content-type", "")
    return message.get_content_type()


async def _raw(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise _too_large()
    return bytes(data)


async def _uploaded(request: Request) -> bytes:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the statement as the multipart field 'file'", code="no_file")
        data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large()
    return data


async def statement_bytes(request: Request) -> bytes:
    """The uploaded file: the ``file`` field of a multipart form, or the body itself when sent
    as XML, text or octets. Larger than :data:`MAX_FILE_BYTES`: 413 before it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FILE_BYTES + 64 * 1024:
        raise _too_large()
    media_type = _media_type(request)
    if media_type == "multipart/form-data":
        data = await _uploaded(request)
    elif media_type in RAW_TYPES:
        data = await _raw(request)
    else:
        raise InvalidInput(
            "send the statement as multipart/form-data (field 'file') or as the body with "
            f"Content-Type one of {sorted(RAW_TYPES)}",
            code="unsupported_media_type",
        )
    if not data:
        raise InvalidInput("the statement file is empty", code="empty_file")
    return data


@router.post(
    "",
    status_code=201,
    summary="Import a bank statement file",
    openapi_extra=_UPLOAD_DOC,
)
async def import_statement(request: Request, c: ContainerDep, issuer: IssuerDep) -> Response:
    data = await statement_bytes(request)

    def handler(uow: UnitOfWork) -> tuple[int, Any]:
        threshold = reconciliation.match_threshold(uow, issuer.id, c.settings.match_threshold)
        report = svc.import_statement(uow, c.links, issuer, data, threshold=threshold)
        return 201, report.as_dict()

    # The file's bytes, not the multipart envelope (its boundary differs per request), are
    # what an Idempotency-Key is checked against.
    response: Response = await run_in_threadpool(idempotency.run, request, c, issuer, data, handler)
    return response


@router.get("", summary="List imported statements")
def list_statements(
    c: ContainerDep,
    issuer: IssuerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    with c.uow(readonly=True) as uow:
        rows = uow.statements.list_statements(
            issuer.id, after_id=decode_cursor(cursor, "stm"), limit=limit + 1
        )
    answer = page(rows, limit, lambda r: r.id)
    answer["data"] = [svc.statement_resource(r) for r in answer["data"]]
    return json_response(answer)


Column = Annotated[str | int, Field(description="header name, or 1-based number without header")]


class CsvMappingIn(Strict):
    """How the issuer's bank writes CSV statements (see ``formats.statements.csv.CsvMapping``)."""

    booking_date: Column
    amount: Column | None = None
    credit: Column | None = None
    debit: Column | None = None
    currency: Column | None = None
    fixed_currency: str | None = Field(default=None, min_length=3, max_length=3)
    value_date: Column | None = None
    counterparty_name: Column | None = None
    counterparty_iban: Column | None = None
    counterparty_bic: Column | None = None
    remittance_text: Column | None = None
    structured_reference: Column | None = None
    end_to_end_id: Column | None = None
    bank_reference: Column | None = None
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    decimal_separator: Literal[",", "."] = ","
    thousands_separator: str | None = Field(default=None, max_length=1)
    date_format: str = Field(default="%d.%m.%Y", min_length=2, max_length=40)
    encoding: str = Field(default="utf-8", min_length=1, max_length=40)
    header_row: bool = True
    skip_rows: int = Field(default=0, ge=0, le=100)
    account: str | None = Field(default=None, max_length=64)


@router.get("/csv-mapping", summary="The issuer's CSV statement column mapping")
def get_csv_mapping(c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(reconciliation.get_csv_mapping(uow, issuer.id))


@router.put("/csv-mapping", summary="Save the column mapping CSV statements are read with")
def put_csv_mapping(body: CsvMappingIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        resource = reconciliation.set_csv_mapping(uow, issuer.id, body.model_dump())
        uow.commit()
    return json_response(resource)


@router.get("/{statement_id}", summary="Get a statement with the outcome of every line")
def get_statement(statement_id: str, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow(readonly=True) as uow:
        record = uow.statements.get_statement(issuer.id, statement_id)
        if record is None:
            raise NotFound(f"no statement {statement_id!r}", code="statement_not_found")
        lines = uow.statements.lines_of(issuer.id, statement_id)
    return json_response(svc.statement_resource(record, lines))

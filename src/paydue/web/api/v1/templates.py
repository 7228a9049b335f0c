"""Issuer API: message templates per key, channel and language (``/v1/templates``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from paydue.domain.templates import (
    MAX_SUBJECT_CHARS,
    MAX_TEMPLATE_CHARS,
    VARIABLES,
    TemplateSource,
)
from paydue.services import templates as svc
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(prefix="/v1/templates", tags=["templates"])

PATH = "/{key}/{channel}/{language}"


class TemplateIn(Strict):
    """Jinja2 source of each part the channel has: e-mail subject, text and html; push and
    webhook subject and text; sms, whatsapp, voice and letter text only."""

    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    text: str = Field(max_length=MAX_TEMPLATE_CHARS)
    html: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)

    def source(self) -> TemplateSource:
        return TemplateSource(self.subject, self.text, self.html)


class TemplatePreviewIn(Strict):
    """Render ``subject``/``text``/``html`` when given (a template being written), otherwise
    the template in effect; with ``invoice_id`` from that invoice's data, else sample data."""

    key: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    text: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    html: str | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    invoice_id: str | None = Field(default=None, max_length=40)


@router.get("", summary="The templates in effect: the issuer's own, else the defaults")
def list_templates(
    c: ContainerDep,
    issuer: IssuerDep,
    key: str | None = None,
    channel: str | None = None,
    language: str | None = None,
) -> Response:
    with c.uow(readonly=True) as uow:
        data = svc.list_effective(uow, issuer.id, key=key, channel=channel, language=language)
    return json_response({"object": "list", "data": data, "variables": VARIABLES})


@router.get(PATH, summary="One template in effect")
def get_template(
    key: str, channel: str, language: str, c: ContainerDep, issuer: IssuerDep
) -> Response:
    with c.uow(readonly=True) as uow:
        return json_response(svc.get_template(uow, issuer.id, key, channel, language))


@router.put(PATH, summary="Save the issuer's own template (checked: syntax, variables, rendering)")
def put_template(
    key: str, channel: str, language: str, body: TemplateIn, c: ContainerDep, issuer: IssuerDep
) -> Response:
    with c.uow() as uow:
        resource = svc.put_template(uow, issuer.id, key, channel, language, body.source())
        uow.commit()
    return json_response(resource)


@router.delete(PATH, summary="Drop the issuer's own template: the default applies again")
def delete_template(
    key: str, channel: str, language: str, c: ContainerDep, issuer: IssuerDep
) -> Response:
    with c.uow() as uow:
        resource = svc.delete_template(uow, issuer.id, key, channel, language)
        uow.commit()
    return json_response(resource)


@router.post("/preview", summary="Render a template with sample data or an invoice's data")
def preview(body: TemplatePreviewIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    given = body.subject is not None or body.text is not None or body.html is not None
    source = TemplateSource(body.subject, body.text or "", body.html) if given else None
    with c.uow(readonly=True) as uow:
        return json_response(
            svc.preview(
                uow,
                issuer,
                c.links,
                body.key,
                body.channel,
                body.language,
                source=source,
                invoice_id=body.invoice_id,
            )
        )

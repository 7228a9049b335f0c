"""Issuer API: the pay page's look (``/v1/branding``) and its payment methods
(``/v1/payment-methods``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import Field

from paydue.domain.routing import rule_document
from paydue.services import branding
from paydue.services.payments import method_rules, set_methods
from paydue.web.api.v1.schemas import Strict
from paydue.web.deps import ContainerDep, IssuerDep
from paydue.web.responses import json_response

router = APIRouter(tags=["pay page settings"])

Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]
HttpsUrl = Annotated[str, Field(pattern=r"^https://[^\s<>\"']{3,500}$", max_length=500)]


class BrandingIn(Strict):
    """Fields sent replace the stored ones; ``null`` clears one; fields left out stay."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    primary_color: Colour | None = None
    accent_color: Colour | None = None
    support_email: str | None = Field(default=None, pattern=r"^[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}$")
    support_phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()/-]{5,30}$")
    support_url: HttpsUrl | None = None
    website_url: HttpsUrl | None = None
    legal_footer: str | None = Field(default=None, max_length=1000)
    logo: str | None = Field(
        default=None,
        max_length=400_000,
        description="data URI of a PNG, JPEG or SVG logo (an SVG is sanitised)",
    )


class MethodIn(Strict):
    provider: str = Field(max_length=32)
    method: str = Field(max_length=32)
    min_amount: int | None = Field(default=None, ge=0, description="minor units")
    max_amount: int | None = Field(default=None, ge=0, description="minor units")
    currencies: list[str] | None = None
    countries: list[str] | None = None
    tags: list[str] | None = None


class MethodsIn(Strict):
    methods: list[MethodIn] = Field(max_length=20, description="in the order the page shows")


@router.get("/v1/branding", summary="The pay page's look")
def get_branding(issuer: IssuerDep) -> Response:
    return json_response(branding.branding_resource(issuer))


@router.put("/v1/branding", summary="Set the pay page's look")
def put_branding(body: BrandingIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        updated = branding.update_branding(uow, issuer, body.model_dump(exclude_unset=True))
        uow.commit()
    return json_response(branding.branding_resource(updated))


def _methods_resource(rules: list[dict[str, object]]) -> dict[str, object]:
    return {"object": "payment_methods", "methods": rules}


@router.get("/v1/payment-methods", summary="The payment methods the pay page offers")
def get_methods(c: ContainerDep, issuer: IssuerDep) -> Response:
    rules = method_rules(issuer, c.providers)
    return json_response(_methods_resource([rule_document(r) for r in rules]))


@router.put("/v1/payment-methods", summary="Set the payment methods and their rules")
def put_methods(body: MethodsIn, c: ContainerDep, issuer: IssuerDep) -> Response:
    with c.uow() as uow:
        stored = set_methods(uow, issuer, c.providers, [m.model_dump() for m in body.methods])
        uow.commit()
    return json_response(_methods_resource(stored))

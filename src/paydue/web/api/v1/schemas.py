"""Request bodies of the issuer API. Unknown fields are refused; amounts are integers."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    EMAIL_MAX_LENGTH,
    LOCAL_PART_MAX_LENGTH,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    field_validator,
)
from pydantic.networks import validate_email

from paydue.services.invoices import MAX_BATCH, NewInvoice, NewPayer

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
Amount = Annotated[StrictInt, Field(gt=0, le=10**15, description="integer minor units (cents)")]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def _email(value: str) -> str:
    """Check and normalise an e-mail address exactly as pydantic's ``EmailStr`` does, fast.

    ``EmailStr`` (``email_validator``: Unicode normalisation, IDNA, display names) cost about a
    quarter of a batch request. Almost every address is plain ASCII in the form the WHATWG HTML
    standard calls a "valid e-mail address", narrowed to what ``email_validator`` accepts as it
    is: an RFC 5322 dot-atom before the @ (no leading, trailing or doubled dots), at most 64
    characters, and a domain of at least two LDH labels ending in an alphabetic top-level
    domain, not a special-use name, with no ``--`` (Punycode and reserved labels), 254
    characters in all. Such an address is accepted with its domain in lower case, which is
    ``email_validator``'s result for it. Anything else (international addresses, display names,
    mailbox names that are normalised, invalid input) goes through ``EmailStr``'s own check, so
    what is accepted, how it is normalised and the message of a refusal are unchanged
    (``tests/unit/test_email_syntax.py`` compares the two)."""
    plain = _PLAIN_EMAIL.fullmatch(value)
    if plain is not None and len(value) <= EMAIL_MAX_LENGTH:
        local, domain = plain[1], plain[2].lower()
        if (
            len(local) <= LOCAL_PART_MAX_LENGTH
            and "--" not in domain
            and local.lower() not in _CASE_INSENSITIVE
            and not any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
        ):
            return f"{local}@{domain}"
    return validate_email(value)[1]


Email = Annotated[str, AfterValidator(_email), Field(json_schema_extra={"format": "email"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    line1: str = Field(max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str = Field(max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class PayerIn(Strict):
    ref: str = Field(min_length=1, max_length=100, description="the issuer's customer number")
    name: str = Field(min_length=1, max_length=200)
    email: Email | None = None
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    timezone: str | None = Field(default=None, max_length=64)
    address: AddressIn | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


class InvoiceIn(Strict):
    number: str = Field(min_length=1, max_length=100)
    payer: PayerIn
    amount: Amount
    currency: Currency
    issue_date: date
    due_date: date
    description: str | None = Field(default=None, max_length=1000)
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,39}$")]] = Field(
        default_factory=list,
        max_length=20,
        description="labels the payment-method rules can select on, e.g. 'business'",
    )

    def command(self) -> NewInvoice:
        p = self.payer
        address: dict[str, Any] | None = (
            {k: v for k, v in p.address.__dict__.items() if v is not None} if p.address else None
        )
        return NewInvoice(
            number=self.number,
            payer=NewPayer(
                ref=p.ref,
                name=p.name,
                email=p.email,
                phone=p.phone,
                language=p.language,
                timezone=p.timezone,
                address=address,
            ),
            amount=self.amount,
            currency=self.currency,
            issue_date=self.issue_date,
            due_date=self.due_date,
            description=self.description,
            tags=tuple(dict.fromkeys(self.tags)),
        )


class BatchIn(Strict):
    invoices: list[InvoiceIn] = Field(min_length=1, max_length=MAX_BATCH)


BATCH_IN = TypeAdapter(BatchIn)
"""Parses and validates a batch body in one step (``validate_json`` on the raw bytes)."""


class ExternalPaymentIn(Strict):
    amount: Amount
    currency: Currency | None = Field(default=None, description="defaults to the invoice's")
    date: date
    note: str | None = Field(default=None, max_length=500)


class PayLinkIn(Strict):
    expires_in_hours: float | None = Field(default=None, gt=0, le=24 * 366)
    max_opens: int | None = Field(default=None, ge=1, le=100_000)
    max_failed_attempts: int | None = Field(default=None, ge=1, le=100)
    require_tan: bool = False
    channel: str | None = Field(default=None, max_length=32)


class WebhookEndpointIn(Strict):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=100)


class WebhookEndpointPatch(Strict):
    enabled: bool | None = None
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=100)

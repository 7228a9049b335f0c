"""Request bodies of the issuer API. Unknown fields are refused; amounts are integers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt, field_validator

from paydue.services.invoices import MAX_BATCH, NewInvoice, NewPayer

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
Amount = Annotated[StrictInt, Field(gt=0, le=10**15, description="integer minor units (cents)")]


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
    email: EmailStr | None = None
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

    def command(self) -> NewInvoice:
        p = self.payer
        address: dict[str, Any] | None = (
            p.address.model_dump(exclude_none=True) if p.address else None
        )
        return NewInvoice(
            number=self.number,
            payer=NewPayer(
                ref=p.ref,
                name=p.name,
                email=str(p.email) if p.email else None,
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
        )


class BatchIn(Strict):
    invoices: list[InvoiceIn] = Field(min_length=1, max_length=MAX_BATCH)


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

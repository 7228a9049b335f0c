"""Plain records the repositories return. Services read them; only repositories build them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, TypeVar

from paydue.domain.invoices import InvoiceStatus
from paydue.domain.payments import PaymentStatus


@dataclass(frozen=True, slots=True)
class Issuer:
    id: str
    name: str
    iban: str | None
    bic: str | None
    country: str | None
    timezone: str
    default_currency: str
    branding: dict[str, Any]
    payment_methods: list[dict[str, Any]]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Payer:
    id: str
    ref: str
    name: str
    email: str | None
    phone: str | None
    language: str | None
    timezone: str | None
    address: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Invoice:
    issuer_id: str
    id: str
    number: str
    payer: Payer
    amount: int
    currency: str
    amount_paid: int
    status: InvoiceStatus
    issue_date: date
    due_date: date
    description: str | None
    tags: tuple[str, ...]
    reference: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class PayLink:
    issuer_id: str
    id: str
    invoice_id: str
    is_primary: bool
    channel: str | None
    expires_at: datetime | None
    max_opens: int | None
    open_count: int
    max_failed_attempts: int | None
    failed_attempts: int
    tan_hash: str | None
    tan_failures: int
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    id: str
    type: str
    subject_id: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    issuer_id: str
    id: str
    url: str
    event_types: list[str]
    secret: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Job:
    issuer_id: str
    id: str
    kind: str
    status: str
    run_at: datetime
    attempts: int
    lease_expires_at: datetime | None
    locked_by: str | None
    event_id: str | None
    endpoint_id: str | None
    payload: dict[str, Any] | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Payment:
    issuer_id: str
    id: str
    invoice_id: str
    pay_link_id: str | None
    provider: str
    method: str
    amount: int
    currency: str
    status: PaymentStatus
    failure_reason: str | None
    provider_payment_id: str | None
    received_amount: int | None
    received_currency: str | None
    review_reason: str | None
    credit_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    issuer_id: str
    provider: str
    event_id: str
    payment_id: str | None
    status: str
    outcome: str | None
    payload: bytes
    received_at: datetime
    processed_at: datetime | None


_R = TypeVar("_R")


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def from_row(cls: type[_R], row: Any) -> _R:
    """Build a record from a row whose columns carry the record's field names."""
    mapping = row._mapping
    return cls(**{name: mapping[name] for name in _field_names(cls)})

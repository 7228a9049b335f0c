"""Issuers: creation with a one-time API key, authentication by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import InvalidInput, Unauthorized
from paydue.domain.money import MoneyError, check_currency
from paydue.services.ids import hash_token, new_api_key, new_id


@dataclass(frozen=True, slots=True)
class NewIssuer:
    issuer: Issuer
    api_key: str  # shown once; only its hash is stored


def _bank_details(iban: str | None, bic: str | None) -> tuple[str | None, str | None, str | None]:
    if iban is None:
        if bic is not None:
            raise InvalidInput("a BIC without an IBAN is of no use; give --iban too")
        return None, None, None
    try:
        parsed = IBAN(iban)
    except SchwiftyException as exc:
        raise InvalidInput(f"IBAN {iban!r} is not valid: {exc}") from exc
    if bic is not None:
        try:
            bic_value: str | None = str(BIC(bic))
        except SchwiftyException as exc:
            raise InvalidInput(f"BIC {bic!r} is not valid: {exc}") from exc
    else:
        found = parsed.bic
        bic_value = str(found) if found is not None else None
    return str(parsed.compact), bic_value, parsed.country_code


def create_issuer(
    uow: UnitOfWork,
    name: str,
    *,
    iban: str | None = None,
    bic: str | None = None,
    timezone: str = "Europe/Berlin",
    currency: str = "EUR",
    branding: dict[str, Any] | None = None,
) -> NewIssuer:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("an issuer name has 1 to 200 characters")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown timezone {timezone!r}") from exc
    try:
        check_currency(currency)
    except MoneyError as exc:
        raise InvalidInput(str(exc)) from exc
    iban_value, bic_value, country = _bank_details(iban, bic)
    now = uow.now()
    issuer_id = new_id("iss")
    uow.issuers.add(
        {
            "id": issuer_id,
            "name": name,
            "iban": iban_value,
            "bic": bic_value,
            "country": country,
            "timezone": timezone,
            "default_currency": currency,
            "branding": branding or {},
            "event_seq": 0,
            "reference_seq": 0,
            "created_at": now,
        }
    )
    key = add_api_key(uow, issuer_id)
    issuer = uow.issuers.get(issuer_id)
    assert issuer is not None
    return NewIssuer(issuer, key)


def add_api_key(uow: UnitOfWork, issuer_id: str) -> str:
    """Give the issuer one more API key; returns it (shown once, only its hash is stored)."""
    key = new_api_key()
    uow.issuers.add_api_key(
        {
            "issuer_id": issuer_id,
            "id": new_id("key"),
            "key_hash": hash_token(key),
            "prefix": key[:10],
            "created_at": uow.now(),
        }
    )
    return key


def authenticate(uow: UnitOfWork, api_key: str) -> Issuer:
    issuer = uow.issuers.issuer_for_key(hash_token(api_key))
    if issuer is None:
        raise Unauthorized("the API key is not valid", code="invalid_api_key")
    return issuer

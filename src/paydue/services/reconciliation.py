"""Per-issuer reconciliation settings: the confidence at which a match is booked without a
person (default: the global ``PAYDUE_MATCH_THRESHOLD``) and the column mapping of the issuer's
CSV bank statements."""

from __future__ import annotations

from typing import Any

from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.formats.statements import CsvMapping
from paydue.domain.errors import InvalidInput, NotFound

MIN_THRESHOLD = 0.5
MAX_THRESHOLD = 1.0


def match_threshold(uow: UnitOfWork, issuer_id: str, default: float) -> float:
    """The confidence at or above which the issuer's bank credits are booked at once."""
    row = uow.statements.get_settings(issuer_id)
    if row is None or row.match_threshold is None:
        return default
    return row.match_threshold


def settings_resource(uow: UnitOfWork, issuer_id: str, default: float) -> dict[str, Any]:
    """The public representation of the issuer's reconciliation settings."""
    row = uow.statements.get_settings(issuer_id)
    own = row.match_threshold if row is not None else None
    return {
        "object": "reconciliation_settings",
        "match_threshold": default if own is None else own,
        "match_threshold_default": default,
        "uses_default": own is None,
        "updated_at": row.updated_at.isoformat() if row is not None else None,
    }


def set_match_threshold(uow: UnitOfWork, issuer_id: str, value: float | None) -> None:
    """Set the issuer's threshold (``None``: use the global default again)."""
    if value is not None and not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
        raise InvalidInput(
            f"match_threshold must be between {MIN_THRESHOLD} and {MAX_THRESHOLD}, not {value}",
            code="invalid_threshold",
        )
    uow.statements.put_settings(issuer_id, uow.now(), match_threshold=value)


def csv_mapping(uow: UnitOfWork, issuer_id: str) -> CsvMapping | None:
    """The issuer's CSV column mapping, ``None`` when it saved none."""
    row = uow.statements.get_settings(issuer_id)
    if row is None or row.csv_mapping is None:
        return None
    return CsvMapping.from_dict(row.csv_mapping)


def csv_mapping_resource(mapping: CsvMapping) -> dict[str, Any]:
    return {"object": "csv_mapping", **mapping.as_dict()}


def get_csv_mapping(uow: UnitOfWork, issuer_id: str) -> dict[str, Any]:
    mapping = csv_mapping(uow, issuer_id)
    if mapping is None:
        raise NotFound(
            "no CSV mapping saved; PUT /v1/statements/csv-mapping", code="csv_mapping_not_found"
        )
    return csv_mapping_resource(mapping)


def set_csv_mapping(uow: UnitOfWork, issuer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Save how the issuer's bank writes CSV statements; a mapping that could not read any file
    is refused naming what is wrong."""
    try:
        mapping = CsvMapping.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"the CSV mapping cannot be used: {exc}", code="invalid_csv_mapping"
        ) from None
    uow.statements.put_settings(issuer_id, uow.now(), csv_mapping=mapping.as_dict())
    return csv_mapping_resource(mapping)

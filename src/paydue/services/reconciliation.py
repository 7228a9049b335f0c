"""Per-issuer reconciliation settings: the confidence at which a match is booked without a
person (default: the global ``PAYDUE_MATCH_THRESHOLD``)."""

from __future__ import annotations

from typing import Any

from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.errors import InvalidInput

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

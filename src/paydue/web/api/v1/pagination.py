"""Cursor pagination over time-ordered ids: ``next_cursor`` is the last id, base64-encoded."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from paydue.domain.errors import InvalidInput

T = TypeVar("T")


def decode_cursor(value: str | None, prefix: str) -> str | None:
    """The id in a ``next_cursor`` of ids starting ``prefix_``. Anything else is refused: the
    lenient base64 decoder would turn most strings into text that restarts or skips a list."""
    if value is None:
        return None
    try:
        after_id = base64.urlsafe_b64decode(value.encode() + b"==").decode()
    except Exception:
        after_id = ""
    if not re.fullmatch(rf"{re.escape(prefix)}_[0-9a-z]{{26}}", after_id):
        raise InvalidInput("the cursor is not one this API gave out", code="invalid_cursor")
    return after_id


def page(rows: Sequence[T], limit: int, last_id: Callable[[T], str]) -> dict[str, Any]:
    """A list answer from ``rows`` fetched with ``limit + 1``: the extra row only says that
    there is more."""
    more = len(rows) > limit
    shown = list(rows[:limit])
    cursor = (
        base64.urlsafe_b64encode(last_id(shown[-1]).encode()).decode().rstrip("=") if more else None
    )
    return {"object": "list", "data": shown, "has_more": more, "next_cursor": cursor}

"""The public representation of events, one for the events feed and for webhooks."""

from __future__ import annotations

from typing import Any

from paydue.adapters.db.records import StoredEvent


def event_resource(e: StoredEvent) -> dict[str, Any]:
    """An event as the feed and webhooks show it."""
    return {
        "id": e.id,
        "object": "event",
        "sequence": e.seq,
        "type": e.type,
        "created_at": e.created_at.isoformat(),
        "data": e.data,
    }

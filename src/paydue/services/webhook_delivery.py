"""Webhook delivery (placeholder)."""

from __future__ import annotations

from typing import Any


def deliver(container: Any, job: Any, worker_id: str) -> None:
    raise NotImplementedError

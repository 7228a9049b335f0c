"""Helpers of the integration tests: database snapshots and truly concurrent HTTP requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

from paydue.adapters.db.tables import metadata


def row_counts(engine: sa.Engine) -> dict[str, int]:
    """The number of rows of every table."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def table_contents(engine: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal snapshots mean nothing was written."""
    with engine.connect() as conn:
        return {
            t.name: sorted(repr(tuple(row)) for row in conn.execute(sa.select(t)))
            for t in metadata.sorted_tables
        }


def count(engine: sa.Engine, table: str, **where: Any) -> int:
    t = metadata.tables[table]
    stmt = sa.select(sa.func.count()).select_from(t)
    for column, value in where.items():
        stmt = stmt.where(t.c[column] == value)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


Request = tuple[str, str, dict[str, Any]]


def send_concurrently(requests: Sequence[Request]) -> list[httpx.Response]:
    """Send all ``requests`` (method, absolute URL, httpx keyword arguments) at once, each on
    its own connection, and return the responses in the same order."""

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            return list(
                await asyncio.gather(*(client.request(m, url, **kw) for m, url, kw in requests))
            )

    # A thread of its own, so a loop running in this one (Playwright's, say) does not matter.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send_all()).result()

"""Bulk inserts: ``COPY`` on PostgreSQL (the fastest path into the database), executemany
elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

BULK_THRESHOLD = 50
"""From this many rows on, PostgreSQL gets them through ``COPY``."""


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in as few round trips as
    possible. Runs inside the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= BULK_THRESHOLD:
        copy_rows(conn, table.name, table, rows)
    else:
        conn.execute(sa.insert(table), list(rows))


def copy_rows(
    conn: sa.Connection, target: str, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """``COPY`` ``rows`` into the PostgreSQL table ``target``, whose columns are those of
    ``table`` (the table itself, or a temporary table made ``LIKE`` it)."""
    columns = list(rows[0].keys())
    json_cols = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
    convert = [(c, _json_text if c in json_cols else _plain) for c in columns]
    raw = conn.connection.driver_connection
    assert raw is not None
    cols_sql = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur, cur.copy(f'COPY "{target}" ({cols_sql}) FROM STDIN') as copy:
        write = copy.write_row
        for row in rows:
            write([f(row[c]) for c, f in convert])


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value

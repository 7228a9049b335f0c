"""Bulk inserts: ``COPY`` on PostgreSQL (the fastest path into the database), executemany
elsewhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa



def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in as few round trips as
    possible. Runs inside the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= 50:
        _copy(conn, table, rows)
    else:
        conn.execute(sa.insert(table), list(rows))


def _copy(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(rows[0].keys())
    json_cols = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
    raw = conn.connection.driver_connection
    assert raw is not None
    cols_sql = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols_sql}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    _json_text(row[c]) if c in json_cols else _plain(row[c])
                    for c in columns
                ]
            )


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value

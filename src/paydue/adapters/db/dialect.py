"""What differs between the two databases at the statement level."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT`` of the connection's dialect, which knows ``ON CONFLICT``.

    Ask ``RETURNING`` to learn whether a row went in: an ``INSERT``'s rowcount is -1 with
    psycopg."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)

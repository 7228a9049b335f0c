"""Bulk inserts: ``COPY`` on PostgreSQL (the fastest path into the database), executemany
elsewhere."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from psycopg.types.json import Json, Jsonb

BULK_THRESHOLD = 50
"""From this many rows on, PostgreSQL gets them through ``COPY``."""

_BINARY_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "int8",
    "INTEGER": "int4",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "json",
    "JSONB": "jsonb",
    "BYTEA": "bytea",
}
"""The PostgreSQL type of each column type in the schema, for binary ``COPY``."""

_JSON_WRAPPERS: dict[str, Callable[..., Any]] = {"json": Json, "jsonb": Jsonb}


def insert_rows(
    conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]], count: int | None = None
) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in as few round trips as
    possible. Runs inside the caller's transaction.

    ``rows`` may be an iterator that makes them (then ``count`` says how many): on PostgreSQL
    each row is sent as it is made, so the database writes the first rows while the caller is
    still computing the next ones."""
    total = len(rows) if count is None else count  # type: ignore[arg-type]
    if not total:
        return
    if conn.dialect.name == "postgresql" and total >= BULK_THRESHOLD:
        copy_rows(conn, table.name, table, rows)
    else:
        conn.execute(sa.insert(table), list(rows))


def copy_rows(
    conn: sa.Connection, target: str, table: sa.Table, rows: Iterable[dict[str, Any]]
) -> None:
    """``COPY`` ``rows`` into the PostgreSQL table ``target``, whose columns are those of
    ``table`` (the table itself, or a temporary table made ``LIKE`` it).

    In binary format: psycopg turns each value into PostgreSQL's own binary form in C, which
    costs a sixth of the client CPU of text format (no text rendering and escaping) and spares
    the server parsing dates, timestamps and numbers. Values must be of their column's Python
    type (``date``, aware ``datetime``, ``int``…), as SQLAlchemy would take them; JSON values
    are serialised with orjson."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    types = [
        _BINARY_TYPES[table.c[c].type.compile(dialect=conn.dialect).split("(")[0]] for c in columns
    ]
    wrap = [(i, _JSON_WRAPPERS[t]) for i, t in enumerate(types) if t in _JSON_WRAPPERS]
    values_of = operator.itemgetter(*columns) if len(columns) > 1 else lambda r: (r[columns[0]],)
    raw = conn.connection.driver_connection
    assert raw is not None
    cols_sql = ", ".join(f'"{c}"' for c in columns)
    sql = f'COPY "{target}" ({cols_sql}) FROM STDIN (FORMAT BINARY)'
    with raw.cursor() as cur, cur.copy(sql) as copy:
        copy.set_types(types)
        write = copy.write_row
        if not wrap:
            for row in itertools.chain((first,), rows):
                write(values_of(row))
            return
        for row in itertools.chain((first,), rows):
            values = list(values_of(row))
            for i, wrapper in wrap:
                if values[i] is not None:
                    values[i] = wrapper(values[i], orjson.dumps)
            write(values)

"""Conditions on a set of keys whose SQL text does not grow with the set.

A batch of jobs or events is found by its keys. Written as ``(a, b) IN ((…), (…), …)``, the
statement is new text for every batch size: compiled, sent, parsed and planned anew each time,
which on the webhook path cost more than the rows themselves. On PostgreSQL the keys travel as
one array per column instead (``unnest``), so the statement is the same whatever the batch and
is cached (and prepared) like any other; elsewhere it is the ordinary ``IN`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def in_keys(
    conn: sa.Connection, columns: Sequence[sa.Column[Any]], keys: Sequence[tuple[Any, ...]]
) -> sa.ColumnElement[bool]:
    """``(columns) IN keys``; ``keys`` holds one tuple per row, in the order of ``columns``."""
    if conn.dialect.name != "postgresql":
        return sa.tuple_(*columns).in_(list(keys))
    arrays = [
        sa.bindparam(f"keys_{col.name}", list(values), type_=postgresql.ARRAY(col.type))
        for col, values in zip(columns, zip(*keys, strict=True), strict=True)
    ]
    given = sa.func.unnest(*arrays).table_valued(*(col.name for col in columns)).render_derived()
    return sa.tuple_(*columns).in_(sa.select(*given.c))

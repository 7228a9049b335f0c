"""A PostgreSQL schema of its own for a benchmark run, migrated to the newest revision.

The database is ``PAYDUE_BENCH_POSTGRES_URL`` (default: 127.0.0.1:5432, database ``test``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from paydue.adapters.db import migrate
from paydue.adapters.db.engine import make_engine

PG_URL = os.environ.get(
    "PAYDUE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _recreate(admin: sa.Engine, schema: str, *, create: bool) -> None:
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if create:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))


@contextmanager
def bench_schema(schema: str, *, keep: bool = False) -> Iterator[str]:
    """Yield a database URL whose search path is a fresh, migrated ``schema``; drop it after,
    unless ``keep``."""
    admin = make_engine(PG_URL, poolclass=sa.NullPool)
    _recreate(admin, schema, create=True)
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url, poolclass=sa.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if not keep:
            _recreate(admin, schema, create=False)
        admin.dispose()

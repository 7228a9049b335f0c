"""The Alembic migrations build exactly the schema the code describes, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from paydue.adapters.db import migrate
from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.tables import metadata


def test_migrated_database_matches_the_tables_in_code(db_url: str) -> None:
    engine = make_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], f"tables.py and the migrations disagree: {diff}"


def test_database_is_at_the_head_revision(db_url: str) -> None:
    engine = make_engine(db_url, poolclass=sa.NullPool)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()

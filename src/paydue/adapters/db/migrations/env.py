"""Alembic environment: runs against the connection handed over by ``paydue.adapters.db.migrate``
or, from the alembic command line, against ``PAYDUE_DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context

from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(os.environ.get("PAYDUE_DATABASE_URL", "sqlite:///paydue.db"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()

"""Engines for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _sqlite_write_transactions(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


BUSY_TIMEOUT_SECONDS = 30


def _sqlite_write_transactions(engine: sa.Engine) -> None:
    """Every transaction starts with ``BEGIN IMMEDIATE`` so writers queue on the busy timeout
    instead of failing with "database is locked" when a read lock must be upgraded.

    The writers of one process also queue on a lock of their own, taken before ``BEGIN
    IMMEDIATE`` and given back once ``COMMIT`` or ``ROLLBACK`` has run: a waiting thread is woken
    as soon as the writer before it ends, instead of polling in SQLite's busy handler (which
    sleeps 1, 2, 5, 10 … 100 ms between tries, and is what made the tail latency of concurrent
    short writes long). Other processes still wait on the busy timeout."""
    writers = threading.Lock()
    holding = "paydue_holds_writer_lock"

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(holding, False):
            writers.release()

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("paydue_readonly", False):
            conn.exec_driver_sql("BEGIN")
            return
        # After the timeout, go on without the lock: SQLite's own busy timeout still applies.
        if writers.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            conn.info[holding] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    # SQLAlchemy announces commit and rollback before it runs them: run them here (with
    # ``isolation_level = None`` the driver's own commit/rollback after this finds no open
    # transaction and does nothing), then let the next writer in.
    @event.listens_for(engine, "commit")
    def _commit(conn: sa.Connection) -> None:
        try:
            conn.connection.dbapi_connection.execute("COMMIT")  # type: ignore[union-attr]
        finally:
            _release(conn.info)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: sa.Connection) -> None:
        try:
            dbapi_conn = conn.connection.dbapi_connection
            if dbapi_conn is not None and dbapi_conn.in_transaction:
                dbapi_conn.execute("ROLLBACK")
        finally:
            _release(conn.info)

    # A connection given back to the pool without either (a leaked one), or thrown away, lets go
    # too.
    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            _release(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _invalidate(_dbapi_conn: Any, record: Any, _exc: Any) -> None:
        if record is not None:
            _release(record.info)

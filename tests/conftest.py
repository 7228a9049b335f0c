"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

``PAYDUE_TEST_DB`` picks the databases: ``sqlite``, ``postgresql`` or ``all`` (default).
PostgreSQL is found at ``PAYDUE_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database ``test``);
where none is reachable its tests skip with the reason, unless ``PAYDUE_TEST_REQUIRE_POSTGRES=1``
(set by CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db import migrate
from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.tables import metadata
from paydue.bootstrap import Container, build
from paydue.config import Settings
from paydue.services.issuers import create_issuer
from paydue.web.app import create_app

PG_URL = os.environ.get(
    "PAYDUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
WANTED = os.environ.get("PAYDUE_TEST_DB", "all")
REQUIRE_PG = os.environ.get("PAYDUE_TEST_REQUIRE_POSTGRES") == "1"
IBAN = "DE89370400440532013000"


def _backends() -> list[str]:
    if WANTED == "all":
        return ["sqlite", "postgresql"]
    return [WANTED]


_pg_state: dict[str, object] = {}


def _postgres_reason() -> str | None:
    """None when PostgreSQL is reachable, else why not."""
    if "reason" not in _pg_state:
        try:
            engine = make_engine(PG_URL, poolclass=sa.NullPool)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
    return _pg_state["reason"]  # type: ignore[return-value]


def _worker_schema(worker_id: str) -> str:
    """One schema per test process, so concurrent runs on one server never share tables."""
    return f"paydue_test_{worker_id}_{os.getpid()}".replace("-", "_")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema_url(worker_id: str) -> Iterator[str]:
    reason = _postgres_reason()
    if reason is not None:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = _worker_schema(worker_id)
    admin = make_engine(PG_URL, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url, poolclass=sa.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = make_engine(url, poolclass=sa.NullPool)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgres_only"):
            pytest.skip("this test is about PostgreSQL behaviour")
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "paydue.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_pg_schema_url")
    _truncate(url)
    return url


TEST_SECRET = "test-secret-key-with-enough-characters-0123456789"


def make_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": db_url,
        "base_url": "http://testserver",
        "secret_key": TEST_SECRET,
        "worker_poll_seconds": 0.05,
        "collections_sweep_seconds": 0,  # tests sweep when they say so
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def container(db_url: str) -> Iterator[Container]:
    c = build(make_settings(db_url))
    yield c
    c.engine.dispose()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as tc:
        yield tc


class IssuerHandle:
    """An issuer created for a test and its API key."""

    def __init__(self, issuer_id: str, api_key: str) -> None:
        self.id = issuer_id
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}"}


def new_issuer(container: Container, name: str = "Stadtwerke Musterstadt") -> IssuerHandle:
    with container.uow() as uow:
        created = create_issuer(uow, name, iban=IBAN)
        uow.commit()
    return IssuerHandle(created.issuer.id, created.api_key)


@pytest.fixture
def issuer(container: Container) -> IssuerHandle:
    return new_issuer(container)


@pytest.fixture
def other_issuer(container: Container) -> IssuerHandle:
    return new_issuer(container, "Telco Beispiel AG")


def invoice_body(
    number: str = "INV-1", amount: int = 12345, **overrides: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "number": number,
        "payer": {
            "ref": "C-1001",
            "name": "Erika Mustermann",
            "email": "erika@example.org",
            "phone": "+4915123456789",
            "language": "de",
            "timezone": "Europe/Berlin",
            "address": {
                "line1": "Heidestr. 17",
                "postal_code": "51147",
                "city": "Köln",
                "country": "DE",
            },
        },
        "amount": amount,
        "currency": "EUR",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "description": "Electricity November",
    }
    body.update(overrides)
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app served by uvicorn on a local port, in a thread of the test process."""

    def __init__(
        self, container: Container, *, run_worker: bool = False, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(container, run_worker=run_worker),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            limit_concurrency=1000,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


SIMULATION_START = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulated(db_url: str) -> Iterator[tuple[Container, SimulatedClock]]:
    """A container whose clock only moves when the test says so."""
    clock = SimulatedClock(SIMULATION_START)
    c = build(make_settings(db_url), clock=clock)
    yield c, clock
    c.close()

"""What every ``paydue`` command shares: consoles, exit codes, settings and the container."""

from __future__ import annotations

from typing import Any, NoReturn

import pydantic
import sqlalchemy as sa
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paydue.adapters.db import migrate as db_migrate
from paydue.bootstrap import Container, build
from paydue.config import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_INVALID = 1
EXIT_USAGE = 2


def progress_bar() -> Progress:
    """The progress display of long commands, on stderr so ``--json`` output stays clean."""
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except pydantic.ValidationError as exc:
        fail("; ".join(str(e["msg"]) for e in exc.errors()))


def shown_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def ready_container(settings: Settings | None = None) -> Container:
    """The composition root, refusing a database whose schema is not at the newest revision."""
    container = build(settings or load_settings())
    current = db_migrate.current_revision(container.engine)
    head = db_migrate.head_revision()
    if current != head:
        state = "has no paydue schema" if current is None else f"is at revision {current}"
        container.close()
        fail(
            f"the database {shown_url(container.settings.database_url)} {state}, "
            f"the code needs {head}: run `paydue migrate` first",
            EXIT_INVALID,
        )
    return container


def run_server(container: Container, host: str, port: int, *, run_worker: bool) -> None:
    from paydue.web.app import create_app

    uvicorn.run(create_app(container, run_worker=run_worker), host=host, port=port)

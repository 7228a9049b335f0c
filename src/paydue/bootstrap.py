"""The composition root: which database, clock, links and outbound HTTP client the app uses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from paydue.adapters.clock import Clock, SystemClock
from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.uow import UnitOfWork
from paydue.config import Settings
from paydue.services.links import PublicLinks


@dataclass
class Container:
    settings: Settings
    engine: sa.Engine
    clock: Clock
    links: PublicLinks
    work_available: threading.Event = field(default_factory=threading.Event)

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        """A new unit of work; committing one that wrote events wakes the in-process worker."""
        return UnitOfWork(
            self.engine, self.clock, on_commit=self.work_available.set, readonly=readonly
        )


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    return Container(
        settings=settings,
        engine=make_engine(settings.database_url),
        clock=clock or SystemClock(),
        links=PublicLinks(settings.base_url, settings.secret_bytes),
    )

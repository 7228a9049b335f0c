"""The composition root: which database, clock, links and outbound HTTP client the app uses."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa

from paydue.adapters.channels import registry as channel_registry
from paydue.adapters.channels.base import Channel as ChannelPort
from paydue.adapters.clock import Clock, SystemClock
from paydue.adapters.db.engine import make_engine
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.http import HttpClient
from paydue.adapters.providers import registry
from paydue.adapters.providers.base import Provider
from paydue.config import Settings
from paydue.services.links import PublicLinks


@dataclass
class Container:
    settings: Settings
    engine: sa.Engine
    clock: Clock
    links: PublicLinks
    work_available: threading.Event = field(default_factory=threading.Event)
    _http: HttpClient | None = field(default=None, init=False, repr=False)
    _http_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def http(self) -> HttpClient:
        """The outbound HTTP client, made on first use and shared by this process's threads."""
        if self._http is not None:
            return self._http
        with self._http_lock:
            if self._http is None:
                s = self.settings
                self._http = HttpClient(
                    connect_timeout=s.webhook_connect_timeout_seconds,
                    read_timeout=s.webhook_timeout_seconds,
                    allow_private=s.webhook_allow_private,
                    concurrency=s.worker_concurrency,
                )
            return self._http

    @cached_property
    def providers(self) -> dict[str, Provider]:
        """The payment providers by name (``adapters.providers.registry``)."""
        return registry(self.engine, self.clock, self.settings.secret_bytes, self.settings.base_url)

    @cached_property
    def channels(self) -> Mapping[str, ChannelPort]:
        """The outbound channels by name (``adapters.channels.registry``)."""
        return channel_registry(self.settings, http=self.http, clock=self.clock)

    def close(self) -> None:
        """Release the database connections and the HTTP client."""
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None
        self.engine.dispose()

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        """A new unit of work; committing one that wrote events wakes the in-process worker."""
        return UnitOfWork(
            self.engine, self.clock, on_commit=self.work_available.set, readonly=readonly
        )


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    return Container(
        settings=settings,
        engine=make_engine(
            settings.database_url,
            **(
                {}
                if settings.is_sqlite
                else {
                    "pool_size": settings.database_pool_size,
                    "max_overflow": settings.database_max_overflow,
                }
            ),
        ),
        clock=clock or SystemClock(),
        links=PublicLinks(settings.base_url, settings.secret_bytes),
    )

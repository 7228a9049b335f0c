"""The ASGI application: the issuer API, the payer's pages and the status badges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from paydue import __version__
from paydue.bootstrap import Container
from paydue.web import badges, errors, simulator
from paydue.web.admin import routes as admin
from paydue.web.api.v1 import (
    campaigns,
    collections,
    elements,
    events,
    invoices,
    paycfg,
    paylinks,
    payments,
    payouts,
    policies,
    reconciliation,
    statements,
    suspense,
    templates,
    webhooks,
)
from paydue.web.inbound import channels as channel_callbacks
from paydue.web.inbound import routes as inbound
from paydue.web.pay import push as push_pages
from paydue.web.pay import routes as pay
from paydue.worker.runner import InProcessWorker

API_ROUTERS = (
    invoices.router,
    elements.router,
    paylinks.router,
    payments.router,
    paycfg.router,
    events.router,
    webhooks.router,
    statements.router,
    suspense.router,
    reconciliation.router,
    templates.router,
    payouts.router,
    policies.router,
    collections.router,
    campaigns.router,
)


def create_app(container: Container, *, run_worker: bool = False) -> FastAPI:
    """Build the app. ``run_worker`` runs the job worker inside the server process (the SQLite
    set-up, where a separate worker process is not needed)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker = InProcessWorker(container) if run_worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="paydue",
        version=__version__,
        description="Invoice payment collection: invoices in, payment elements out, events back.",
        lifespan=lifespan,
    )
    app.state.container = container
    errors.install(app)
    for router in API_ROUTERS:
        app.include_router(router)
    app.include_router(badges.router)
    app.include_router(pay.router)
    app.include_router(push_pages.router)
    app.include_router(channel_callbacks.router)
    app.include_router(inbound.router)
    app.include_router(simulator.router)
    app.include_router(admin.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

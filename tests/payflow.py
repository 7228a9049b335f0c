"""Driving the pay page and the simulator from tests: open a link, start a payment, and post the
simulator's notifications the way the provider would."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from paydue.adapters.providers.simulator import Simulator
from paydue.bootstrap import Container
from paydue.web.pay.security import CSRF_COOKIE, csrf_field
from paydue.worker.runner import Worker
from tests.conftest import TEST_SECRET, IssuerHandle

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
METHODS = [
    {"provider": "simulator", "method": "card"},
    {"provider": "simulator", "method": "paypal", "max_amount": 80000, "currencies": ["EUR"]},
]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found[1]


CSRF_COOKIE_VALUE = "c" * 43
"""A CSRF cookie tests set themselves, to post a form without loading its page first."""


def csrf_form(client: TestClient) -> str:
    """Give ``client`` a CSRF cookie; returns the form field that goes with it."""
    client.cookies.set(CSRF_COOKIE, CSRF_COOKIE_VALUE)
    return csrf_field(TEST_SECRET.encode(), CSRF_COOKIE_VALUE)


def token_of(url: str) -> str:
    return url.rsplit("/p/", 1)[1]


def set_methods(
    client: TestClient, issuer: IssuerHandle, methods: list[dict[str, Any]] | None = None
) -> None:
    r = client.put(
        "/v1/payment-methods",
        json={"methods": METHODS if methods is None else methods},
        headers=issuer.headers,
    )
    assert r.status_code == 200, r.text


def simulator(container: Container) -> Simulator:
    sim = container.providers["simulator"]
    assert isinstance(sim, Simulator)
    return sim


def start_payment(client: TestClient, token: str, method: str = "simulator:card") -> str:
    """Open the pay page, choose ``method``; returns the simulator charge id."""
    page = client.get(f"/p/{token}")
    assert page.status_code == 200, page.text
    r = client.post(
        f"/p/{token}/pay",
        data={"method": method, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert "/simulator/checkout/" in location, location
    return location.rsplit("/", 1)[1]


def notify(
    client: TestClient,
    container: Container,
    charge_id: str,
    status: str,
    failure_code: str | None = None,
    **overrides: Any,
) -> Any:
    """Post the simulator's signed notification that ``charge_id`` is now ``status``."""
    sim = simulator(container)
    charge = sim.charge(charge_id)
    assert charge is not None
    event_id = overrides.pop("event_id", None)
    signed_at = overrides.pop("signed_at", None)
    charge = {**charge, **overrides}
    body, headers = sim.notification(
        charge, status, failure_code, event_id=event_id, signed_at=signed_at
    )
    return client.post(f"/inbound/simulator/{charge['account']}", content=body, headers=headers)


def drain(container: Container) -> int:
    """Run the worker until no job is due; returns how many batches ran."""
    worker = Worker(container, worker_id="test-worker")
    batches = 0
    while worker.run_once():
        batches += 1
    return batches

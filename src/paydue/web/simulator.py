"""The simulator's hosted checkout (``/simulator/checkout/{charge}``): the provider's own page,
where the payer picks what happens. See ``adapters.providers.simulator``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paydue.adapters.providers.simulator import DECLINE_CODES, OUTCOMES, Simulator
from paydue.bootstrap import Container
from paydue.domain.errors import InvalidInput, NotFound
from paydue.domain.money import Money
from paydue.web.deps import ContainerDep
from paydue.web.pay.security import (
    check_csrf,
    csrf_cookie,
    csrf_field,
    page_headers,
    set_csrf_cookie,
)

router = APIRouter(tags=["simulator"], include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "pay" / "templates"),
    autoescape=select_autoescape(["html"]),
)
LABELS = {
    "success": "Pay (succeeds)",
    "pending_then_success": "Pay (pending for a moment, then succeeds)",
    "cancel": "Cancel and go back",
    **{f"decline:{code}": f"Decline: {code.replace('_', ' ')}" for code in DECLINE_CODES},
}


def _simulator(c: Container) -> Simulator:
    simulator = c.providers.get("simulator")
    assert isinstance(simulator, Simulator)
    return simulator


@router.get("/simulator/checkout/{charge_id}", response_class=HTMLResponse)
def checkout(request: Request, charge_id: str, c: ContainerDep) -> Response:
    charge = _simulator(c).charge(charge_id)
    if charge is None:
        raise NotFound("no such checkout", code="charge_not_found")
    if charge["status"] != "open":
        return RedirectResponse(charge["return_url"], 303)
    cookie = csrf_cookie(request)
    html = templates.get_template("simulator.html").render(
        charge=charge,
        amount=str(Money(charge["amount"], charge["currency"])),
        outcomes=[(o, LABELS[o]) for o in OUTCOMES],
        csrf=csrf_field(c.settings.secret_bytes, cookie),
    )
    response = HTMLResponse(html, headers=page_headers("-"))
    set_csrf_cookie(response, cookie, secure=c.settings.base_url.startswith("https"))
    return response


@router.post("/simulator/checkout/{charge_id}")
def complete(
    request: Request,
    charge_id: str,
    outcome: Annotated[str, Form(max_length=40)],
    c: ContainerDep,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, c.settings.secret_bytes, csrf)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"unknown outcome {outcome!r}; one of {list(OUTCOMES)}")
    try:
        charge = _simulator(c).complete(charge_id, outcome)
    except LookupError:
        raise NotFound("no such checkout", code="charge_not_found") from None
    # The return URL was given by paydue when the charge was opened; nothing from this request.
    return RedirectResponse(charge["return_url"], 303)

"""``paydue simulator notify``: send the simulator's notifications by hand — repeats, delays,
stale signatures, out-of-order states — to see the pipeline take each exactly once."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer

from paydue.adapters.providers.simulator import DECLINE_CODES, STATUSES, Simulator
from paydue.cli.common import fail, out, ready_container
from paydue.services.ids import new_id


def notify(
    payment_id: Annotated[str, typer.Argument(help="paydue's payment id (pay_…)")],
    status: Annotated[str, typer.Option(help=f"one of {', '.join(STATUSES)}")] = "succeeded",
    code: Annotated[
        str | None, typer.Option(help=f"decline code for failed: {', '.join(DECLINE_CODES)}")
    ] = None,
    times: Annotated[int, typer.Option(min=1, max=10_000, help="how often to send it")] = 1,
    delay: Annotated[float, typer.Option(min=0, help="seconds between sends")] = 0.0,
    new_ids: Annotated[
        bool, typer.Option("--new-ids", help="a new event id for every send (else one id)")
    ] = False,
    signed_ago: Annotated[
        int, typer.Option(help="sign as if this many seconds ago (over 300 is refused)")
    ] = 0,
) -> None:
    """Send the notification that payment PAYMENT_ID is now STATUS to the URL it was started
    with, and print each answer."""
    if status not in STATUSES:
        fail(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if code is not None and code not in DECLINE_CODES:
        fail(f"unknown decline code {code!r}; one of {', '.join(DECLINE_CODES)}")
    container = ready_container()
    simulator = container.providers["simulator"]
    assert isinstance(simulator, Simulator)
    charge = simulator.charge_for(payment_id)
    if charge is None:
        fail(f"the simulator knows no payment {payment_id!r}")
    event_id = new_id("evt")
    signed_at = int(container.clock.now().timestamp()) - signed_ago
    for attempt in range(times):
        body, headers = simulator.notification(
            charge,
            status,
            code,
            event_id=new_id("evt") if new_ids else event_id,
            signed_at=signed_at,
        )
        try:
            answer = httpx.post(charge["notify_url"], content=body, headers=headers, timeout=10)
            out.print(f"{attempt + 1}: {answer.status_code} {answer.text}", markup=False)
        except httpx.HTTPError as exc:
            fail(f"could not reach {charge['notify_url']}: {exc}", code=1)
        if delay and attempt + 1 < times:
            time.sleep(delay)
    container.close()

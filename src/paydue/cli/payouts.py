"""``paydue simulator payout``: the simulator pays out what it owes an issuer, as a provider
does at the end of its day."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paydue.cli.common import EXIT_INVALID, fail, out, ready_container
from paydue.domain.errors import DomainError
from paydue.domain.money import describe
from paydue.services import payouts as svc


def simulator_payout(
    issuer_id: Annotated[str, typer.Option("--issuer", help="the issuer's id")],
    currency: Annotated[
        str | None, typer.Option(help="only payments in this currency (default: all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the payouts as JSON")] = False,
) -> None:
    """Group the issuer's succeeded simulator payments not paid out yet into one payout per
    currency, with the simulator's fee (1.4 % + 0.25 per payment), and register them. The
    bank credit of a payout is its net amount with its reference in the remittance text."""
    container = ready_container()
    with container.uow() as uow:
        if uow.issuers.get(issuer_id) is None:
            fail(f"no issuer {issuer_id!r} (see `paydue issuer list`)")
        try:
            created = svc.simulator_payouts(uow, issuer_id, currency=currency)
        except DomainError as exc:
            fail(f"no payout was made: {exc.message}", EXIT_INVALID)
        uow.commit()
    container.close()
    if as_json:
        typer.echo(json.dumps(created))
        return
    if not created:
        out.print("nothing to pay out: no succeeded simulator payment waits for a payout")
    for p in created:
        out.print(
            f"{p['id']}  reference [bold]{p['reference']}[/]  {len(p['items'])} payment(s): "
            f"gross {describe(p['gross'], p['currency'])}, fees "
            f"{describe(p['fees'], p['currency'])}, net {describe(p['net'], p['currency'])}"
        )

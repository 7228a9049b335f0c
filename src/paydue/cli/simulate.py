"""``paydue simulate``: a portfolio through a collections policy in simulated time.

The production code path runs on a fresh database (SQLite in a temporary folder, or
``PAYDUE_DATABASE_URL``) with a :class:`SimulatedClock`: the invoices are imported as
``paydue invoices import`` does, the collections sweep runs every hour of every simulated day
(``--sweeps-per-day``), the worker's ``message.send`` handler hands the messages to simulated
channels (a recording implementation of the channel port that charges the issuer's cost per
message), bounces are reported through ``record_delivery`` and payments are booked through
``services.credits`` like an external payment.

Payers follow a simple, seeded behaviour model (``--behaviour FILE``, JSON; every field
optional)::

    {"seed": 1,
     "pay_before_due": 0.3,        # share of payers who pay each invoice before it is due
     "never_pay": 0.1,             # share who never pay, whatever they are sent
     "pay_per_contact": {"email": 0.2, "sms": 0.3, "voice": 0.4, "letter": 0.3, "push": 0.15},
     "delay_days_max": 3,          # a contact that works is paid within 0..this many days
     "bounce": {"email": 0.05, "sms": 0.02}}   # share of messages each channel bounces

The rest pay after a contact with the channel's probability. The output is the contacts and
cost per channel and the share of invoices paid by day; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import Progress
from rich.table import Table

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db import migrate as db_migrate
from paydue.adapters.db.tables import invoices, payers
from paydue.bootstrap import Container, build
from paydue.cli.common import EXIT_INVALID, fail, load_settings, out
from paydue.cli.csv_import import _check_rows, _read_csv
from paydue.domain.channels import Channel
from paydue.domain.errors import DomainError
from paydue.services import credits
from paydue.services import invoices as invoice_svc
from paydue.services.collections import record_delivery, sweep
from paydue.services.issuers import create_issuer
from paydue.services.policies import DEFAULT_COSTS, create_policy
from paydue.worker.runner import Worker

SIM_IBAN = "DE89370400440532013000"
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the simulated payers answer (see the module's docstring)."""

    seed: int = 1
    pay_before_due: float = 0.3
    never_pay: float = 0.1
    pay_per_contact: Mapping[str, float] = field(
        default_factory=lambda: {
            "email": 0.2,
            "sms": 0.3,
            "voice": 0.4,
            "letter": 0.3,
            "push": 0.15,
            "whatsapp": 0.3,
            "webhook": 0.1,
        }
    )
    delay_days_max: int = 3
    bounce: Mapping[str, float] = field(default_factory=lambda: {"email": 0.05, "sms": 0.02})

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Behaviour:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
        values = dict(data)
        base = cls()
        for name in ("pay_per_contact", "bounce"):
            if name in values:
                values[name] = {**getattr(base, name), **values[name]}
        made = cls(**values)
        shares = [made.pay_before_due, made.never_pay, *made.pay_per_contact.values()]
        if any(not 0 <= s <= 1 for s in [*shares, *made.bounce.values()]):
            raise ValueError("shares and probabilities are between 0 and 1")
        if made.pay_before_due + made.never_pay > 1:
            raise ValueError("pay_before_due + never_pay is at most 1")
        return made


@dataclass
class SimulatedChannel:
    """The channel port, simulated: accepts every message at the issuer's cost and keeps it."""

    name: str
    cost: int
    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(
            True, provider_id=f"sim-{self.name}-{len(self.sent)}", cost_minor=self.cost
        )


@dataclass
class Result:
    start: date
    days: int
    invoices: int
    currency: str
    contacts: dict[str, int]
    bounced: dict[str, int]
    cost: dict[str, int]
    paid_by_day: list[tuple[date, int]]
    paid_after_contact: int
    paid_before_due: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "invoices": self.invoices,
            "contacts": self.contacts,
            "bounced": self.bounced,
            "cost": {"by_channel": self.cost, "total": sum(self.cost.values())},
            "cost_currency": self.currency,
            "paid_before_due": self.paid_before_due,
            "paid_after_contact": self.paid_after_contact,
            "share_paid_by_day": [
                {"date": d.isoformat(), "paid": n, "share": round(n / self.invoices, 4)}
                for d, n in self.paid_by_day
            ],
        }


@dataclass
class _Invoice:
    id: str
    payer_ref: str
    amount: int
    currency: str
    issue_date: date
    due_date: date
    paid: bool = False


class Simulation:
    """One run: the container, clock, channels, payers' behaviour and what happened."""

    def __init__(
        self,
        container: Container,
        clock: SimulatedClock,
        behaviour: Behaviour,
        *,
        sweeps_per_day: int = 24,
    ) -> None:
        self.c, self.clock, self.behaviour = container, clock, behaviour
        self.sweeps_per_day = sweeps_per_day
        self.random = random.Random(behaviour.seed)
        self.channels = {
            ch.value: SimulatedChannel(ch.value, DEFAULT_COSTS.get(ch, 0)) for ch in Channel
        }
        container.channels = self.channels
        self.worker = Worker(container)
        self.issuer_id = ""
        self.invoices: dict[str, _Invoice] = {}
        self.kind: dict[str, str] = {}  # payer ref → before_due, never, responsive
        self.due_payments: list[tuple[datetime, str, str]] = []  # (when, invoice id, why)
        self.seen: dict[str, int] = dict.fromkeys(self.channels, 0)
        self.bounced: dict[str, int] = dict.fromkeys(self.channels, 0)
        self.paid_how = {"before_due": 0, "after_contact": 0}

    def setup(self, portfolio: Path, policy: Mapping[str, Any] | None) -> None:
        with self.c.uow() as uow:
            issuer = create_issuer(uow, "Simulation", iban=SIM_IBAN).issuer
            self.issuer_id = issuer.id
            if policy is not None:
                create_policy(uow, issuer.id, {**policy, "default": True})
            _header, rows = _read_csv(portfolio, ",")
            if not rows:
                fail(f"{portfolio}: no invoices after the header row", EXIT_INVALID)
            with Progress(transient=True, disable=True) as progress:
                checked = _check_rows(uow, issuer, rows, progress)
            if checked.errors:
                first = checked.errors[0]
                fail(
                    f"{portfolio}: row {first.row}, {first.column}: {first.message} "
                    f"({len(checked.errors)} problem(s))",
                    EXIT_INVALID,
                )
            invoice_svc.create_invoices(
                uow, self.c.links, issuer, [cmd for _, cmd in checked.valid()]
            )
            uow.commit()
        with self.c.engine.connect() as conn:
            rows_ = conn.execute(
                sa.select(
                    invoices.c.id,
                    payers.c.ref,
                    invoices.c.amount,
                    invoices.c.currency,
                    invoices.c.issue_date,
                    invoices.c.due_date,
                )
                .select_from(
                    invoices.join(
                        payers,
                        sa.and_(
                            payers.c.issuer_id == invoices.c.issuer_id,
                            payers.c.id == invoices.c.payer_id,
                        ),
                    )
                )
                .where(invoices.c.issuer_id == self.issuer_id)
                .order_by(invoices.c.number)
            ).all()
        self.invoices = {r.id: _Invoice(*r) for r in rows_}
        b = self.behaviour
        for ref in sorted({i.payer_ref for i in self.invoices.values()}):
            draw = self.random.random()
            self.kind[ref] = (
                "before_due"
                if draw < b.pay_before_due
                else "never"
                if draw < b.pay_before_due + b.never_pay
                else "responsive"
            )
        for invoice in self.invoices.values():
            if self.kind[invoice.payer_ref] == "before_due":
                span = max((invoice.due_date - invoice.issue_date).days, 1)
                day = invoice.issue_date + timedelta(days=self.random.randrange(span))
                at = datetime.combine(day, time(12), UTC) + timedelta(
                    minutes=self.random.randrange(600)
                )
                self.due_payments.append((at, invoice.id, "before_due"))

    def run(self, start: date, days: int) -> Result:
        paid_by_day: list[tuple[date, int]] = []
        step = timedelta(hours=24 / self.sweeps_per_day)
        for n in range(days):
            day = start + timedelta(days=n)
            at = datetime.combine(day, time(0), UTC)
            for _ in range(self.sweeps_per_day):
                self.clock.set(at)
                self._pay_due(at)
                self._sweep_and_send(at)
                at += step
            paid_by_day.append((day, sum(1 for i in self.invoices.values() if i.paid)))
        currency = next(iter(self.invoices.values())).currency if self.invoices else "EUR"
        return Result(
            start=start,
            days=days,
            invoices=len(self.invoices),
            currency=currency,
            contacts={k: v for k, v in self.seen.items() if v},
            bounced={k: v for k, v in self.bounced.items() if v},
            cost={k: v * self.channels[k].cost for k, v in self.seen.items() if v},
            paid_by_day=paid_by_day,
            paid_after_contact=self.paid_how["after_contact"],
            paid_before_due=self.paid_how["before_due"],
        )

    def _sweep_and_send(self, at: datetime) -> None:
        c = self.c
        report = sweep(c.uow, at, c.channels, links=c.links, secret=c.settings.secret_bytes)
        if not report.messages:
            return  # the simulated channels accept every message: no job is waiting
        while self.worker.run_once():
            pass
        for name, channel in self.channels.items():
            new = channel.sent[self.seen[name] :]
            self.seen[name] = len(channel.sent)
            for message in new:
                self._answer(name, message, at)

    def _answer(self, channel: str, message: OutboundMessage, at: datetime) -> None:
        """The payer's side of one message: it bounces, or it may get them to pay."""
        b = self.behaviour
        if self.random.random() < b.bounce.get(channel, 0.0):
            self.bounced[channel] += 1
            with self.c.uow() as uow:
                record_delivery(uow, self.issuer_id, message.id, "bounced", at)
                uow.commit()
            return
        with self.c.uow(readonly=True) as uow:
            ids = uow.collections.message_invoice_ids(self.issuer_id, message.id)
        open_ids = [i for i in ids if i in self.invoices and not self.invoices[i].paid]
        if not open_ids or self.kind[self.invoices[open_ids[0]].payer_ref] != "responsive":
            return
        if self.random.random() < b.pay_per_contact.get(channel, 0.0):
            when = at + timedelta(hours=self.random.randrange(1, 24 * max(b.delay_days_max, 0) + 2))
            for invoice_id in open_ids:
                self.due_payments.append((when, invoice_id, "after_contact"))

    def _pay_due(self, at: datetime) -> None:
        due = [p for p in self.due_payments if p[0] <= at]
        if not due:
            return
        self.due_payments = [p for p in self.due_payments if p[0] > at]
        with self.c.uow() as uow:
            issuer = uow.issuers.get(self.issuer_id)
            assert issuer is not None
            for _, invoice_id, why in sorted(due):
                invoice = self.invoices[invoice_id]
                if invoice.paid:
                    continue
                try:
                    credits.allocate_credit(
                        uow,
                        self.c.links,
                        issuer,
                        invoice_id,
                        amount=invoice.amount,
                        currency=invoice.currency,
                        received_on=at.date(),
                        source="external",
                        note=f"simulated payer ({why})",
                    )
                except DomainError:
                    continue
                invoice.paid = True
                self.paid_how[why] += 1
            uow.commit()


def simulate_portfolio(
    portfolio: Path,
    *,
    policy: Mapping[str, Any] | None = None,
    behaviour: Behaviour | None = None,
    days: int = 90,
    start: date | None = None,
    database_url: str | None = None,
    sweeps_per_day: int = 24,
) -> Result:
    """Run ``portfolio`` (a CSV like ``paydue invoices import`` reads) through ``policy`` (a
    policy document; None: the built-in default) for ``days`` from ``start`` (default: ten days
    before the earliest due date) on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="paydue-simulate-") as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'simulation.db'}"
        settings = load_settings(
            database_url=url, base_url="https://pay.simulation.invalid", collections_sweep_seconds=0
        )
        first_due = _earliest_due(portfolio)
        begin = start or (first_due - timedelta(days=10))
        clock = SimulatedClock(datetime.combine(begin, time(0), UTC) - timedelta(days=1))
        container = build(settings, clock=clock)
        try:
            db_migrate.upgrade(container.engine)
            sim = Simulation(
                container, clock, behaviour or Behaviour(), sweeps_per_day=sweeps_per_day
            )
            sim.setup(portfolio, policy)
            return sim.run(begin, days)
        finally:
            container.close()


def _earliest_due(portfolio: Path) -> date:
    _header, rows = _read_csv(portfolio, ",")
    dues = []
    for r in rows:
        try:
            dues.append(date.fromisoformat(r.values.get("due_date", "").strip()))
        except ValueError:
            continue
    if not dues:
        fail(f"{portfolio}: no invoice with a due date (YYYY-MM-DD)", EXIT_INVALID)
    return min(dues)


def _spark(shares: list[float]) -> str:
    return "".join(SPARK[min(int(s * len(SPARK)), len(SPARK) - 1)] for s in shares)


def _print(result: Result) -> None:
    money = 10**2
    table = Table(title="Contacts per channel")
    for col in ("channel", "contacts", "bounced", f"cost ({result.currency})"):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for name, n in sorted(result.contacts.items(), key=lambda kv: -kv[1]):
        cost = result.cost.get(name, 0)
        table.add_row(name, str(n), str(result.bounced.get(name, 0)), f"{cost / money:.2f}")
    total_cost = sum(result.cost.values())
    table.add_row(
        "total",
        str(sum(result.contacts.values())),
        str(sum(result.bounced.values())),
        f"{total_cost / money:.2f}",
        style="bold",
    )
    out.print(table)
    shares = [n / result.invoices for _, n in result.paid_by_day] if result.invoices else []
    final = shares[-1] if shares else 0.0
    out.print(
        f"{result.invoices} invoices over {result.days} days from {result.start}: "
        f"[bold]{final:.1%}[/] paid ({result.paid_before_due} before due, "
        f"{result.paid_after_contact} after a contact); cost per paid invoice "
        f"{(total_cost / money / max(result.paid_before_due + result.paid_after_contact, 1)):.2f} "
        f"{result.currency}"
    )
    out.print(f"share paid by day  {_spark(shares)}")
    weekly = Table(title="Share paid by day (weekly)")
    weekly.add_column("day", justify="right")
    weekly.add_column("date")
    weekly.add_column("paid", justify="right")
    weekly.add_column("share", justify="right")
    for n, (day, paid) in enumerate(result.paid_by_day):
        if n % 7 == 0 or n == len(result.paid_by_day) - 1:
            weekly.add_row(str(n + 1), day.isoformat(), str(paid), f"{paid / result.invoices:.1%}")
    out.print(weekly)


def simulate(
    portfolio: Annotated[
        Path, typer.Option(help="CSV of invoices, the columns of `paydue invoices import`")
    ],
    policy: Annotated[
        Path | None,
        typer.Option(help="a policy as JSON (the body of POST /v1/policies); default: built in"),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="simulated days")] = 90,
    start: Annotated[
        str | None,
        typer.Option(help="first day, YYYY-MM-DD; default: 10 days before the first due"),
    ] = None,
    behaviour: Annotated[
        Path | None, typer.Option(help="the payers' behaviour model as JSON (see --help of module)")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="random seed (overrides the behaviour's)")
    ] = None,
    sweeps_per_day: Annotated[int, typer.Option(min=1, max=96, help="sweeps per day")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Run a portfolio through a collections policy in simulated time, on the production code
    path with simulated channels and payers; print contacts and cost per channel and the share
    paid by day. Uses a fresh SQLite database, or PAYDUE_DATABASE_URL when set (it must be
    empty or a scratch database: the simulation writes to it)."""
    policy_data = _json_file(policy, "policy") if policy else None
    try:
        model = Behaviour.from_data(_json_file(behaviour, "behaviour") if behaviour else {})
    except (TypeError, ValueError) as exc:
        fail(f"behaviour: {exc}")
    if seed is not None:
        model = Behaviour.from_data({**_behaviour_data(model), "seed": seed})
    first_day = None
    if start is not None:
        try:
            first_day = date.fromisoformat(start)
        except ValueError:
            fail(f"--start: {start!r} is not a date YYYY-MM-DD")
    url = os.environ.get("PAYDUE_DATABASE_URL") or None
    try:
        result = simulate_portfolio(
            portfolio,
            policy=policy_data,
            behaviour=model,
            days=days,
            start=first_day,
            database_url=url,
            sweeps_per_day=sweeps_per_day,
        )
    except DomainError as exc:
        fail(exc.message, EXIT_INVALID)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        _print(result)


def _behaviour_data(b: Behaviour) -> dict[str, Any]:
    return {
        "seed": b.seed,
        "pay_before_due": b.pay_before_due,
        "never_pay": b.never_pay,
        "pay_per_contact": dict(b.pay_per_contact),
        "delay_days_max": b.delay_days_max,
        "bounce": dict(b.bounce),
    }


def _json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{what}: {path}: no such file")
    except ValueError as exc:
        fail(f"{what}: {path}: not JSON ({exc})", EXIT_INVALID)
    if not isinstance(data, dict):
        fail(f"{what}: {path}: a JSON object")
    return data

"""``paydue demo``: a demo issuer with invoices in every state on SQLite, then the server."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from paydue.adapters.channels.outbox import Outbox
from paydue.adapters.db import migrate as db_migrate
from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.bootstrap import Container, build
from paydue.cli.common import load_settings, out, run_server, shown_url
from paydue.domain.money import Money
from paydue.services import credits
from paydue.services import invoices as invoice_svc
from paydue.services import issuers as issuer_svc
from paydue.services import payments as payment_svc

# --- demo -------------------------------------------------------------------------------------

DEMO_ISSUER = "Stadtwerke Musterstadt"
DEMO_IBAN = "DE89370400440532013000"
DEMO_BRANDING = {
    "display_name": DEMO_ISSUER,
    "primary_color": "#0b6e4f",
    "accent_color": "#083d2c",
    "support_email": "kundenservice@stadtwerke-musterstadt.example",
    "support_phone": "+49 30 1234567",
    "legal_footer": "Stadtwerke Musterstadt GmbH · Am Markt 1 · 12345 Musterstadt · "
    "Amtsgericht Musterstadt HRB 4711 · USt-IdNr. DE123456789",
}
DEMO_METHODS: list[dict[str, Any]] = [
    {"provider": "simulator", "method": "card"},
    {"provider": "simulator", "method": "paypal", "max_amount": 80_000, "currencies": ["EUR"]},
    {"provider": "simulator", "method": "bank_payment", "countries": ["DE", "AT", "NL"]},
]
"""The simulator takes every payment of the demo: PayPal only up to EUR 800."""
DEMO_PAYERS = (
    ("Erika Mustermann", "de"),
    ("Max Mustermann", "de"),
    ("Ayşe Kaya", "tr"),
    ("Jan Kowalski", "pl"),
    ("Sophie Martin", "fr"),
    ("Luca Rossi", "it"),
    ("Anna Schmidt", "de"),
    ("John Smith", "en"),
    ("Fatima Haddad", "ar"),
    ("Lena Becker", "de"),
    ("Olena Kovalenko", "uk"),
    ("Paul Wagner", "de"),
    ("Maria García", "es"),
    ("Jonas Hoffmann", "de"),
    ("Nguyen Van An", "vi"),
    ("Klara Schulz", "de"),
    ("Mehmet Demir", "tr"),
    ("Hanna Koch", "de"),
    ("Emma Richter", "de"),
    ("Felix Wolf", "de"),
)
DEMO_SERVICES = ("Strom", "Gas", "Wasser", "Fernwärme", "Abwasser")
# The states the demo invoices end up in, one per invoice in turn (50 invoices, 10 per round).
DEMO_STATES = (
    "open",
    "open",
    "due_soon",
    "overdue",
    "overdue",
    "partially_paid",
    "paid",
    "paid",
    "cancelled",
    "open",
)
DEMO_INVOICES = 50


def _demo_invoice(index: int, today: date) -> invoice_svc.NewInvoice:
    """Invoice ``index`` of the demo: its due date places it in ``DEMO_STATES[index % 10]``."""
    name, language = DEMO_PAYERS[index % len(DEMO_PAYERS)]
    state = DEMO_STATES[index % len(DEMO_STATES)]
    due_in = {"due_soon": 3, "overdue": -12 - index}.get(state, 14 + index)
    due = today + timedelta(days=due_in)
    service = DEMO_SERVICES[index % len(DEMO_SERVICES)]
    return invoice_svc.NewInvoice(
        number=f"SWM-{today.year}-{index + 1:04d}",
        payer=invoice_svc.NewPayer(
            ref=f"K-{10001 + index % len(DEMO_PAYERS)}",
            name=name,
            email=f"kunde{10001 + index % len(DEMO_PAYERS)}@example.org",
            phone=f"+49151{5550100 + index % len(DEMO_PAYERS)}",
            language=language,
            timezone="Europe/Berlin",
            address={
                "line1": f"Lindenallee {index % len(DEMO_PAYERS) + 1}",
                "postal_code": "12345",
                "city": "Musterstadt",
                "country": "DE",
            },
        ),
        amount=2_000 + (index * 7_919) % 48_000,
        currency="EUR",
        issue_date=due - timedelta(days=30),
        due_date=due,
        description=f"{service} {due:%m/%Y}",
    )


def _create_demo_invoices(uow: UnitOfWork, container: Container, issuer: Issuer) -> None:
    """About fifty invoices to twenty payers: open, due soon, overdue, partially paid, paid
    (payments recorded as made outside paydue) and cancelled."""
    today = invoice_svc.issuer_today(issuer, uow.now())
    items = [_demo_invoice(i, today) for i in range(DEMO_INVOICES)]
    created = invoice_svc.create_invoices(uow, container.links, issuer, items)
    for index, invoice in enumerate(created):
        state = DEMO_STATES[index % len(DEMO_STATES)]
        if state == "cancelled":
            invoice_svc.cancel_invoice(uow, container.links, issuer, invoice.id)
        elif state in ("partially_paid", "paid"):
            credits.allocate_credit(
                uow,
                container.links,
                issuer,
                invoice.id,
                amount=invoice.amount // 2 if state == "partially_paid" else invoice.amount,
                currency=invoice.currency,
                received_on=today,
                source="external",
                note="cash desk" if state == "paid" else "first instalment",
            )


def _demo_issuer(uow: UnitOfWork, container: Container) -> tuple[Issuer, str]:
    """The demo issuer with a new API key: created with its invoices, or found again."""
    found = next((i for i in uow.issuers.list() if i.name == DEMO_ISSUER), None)
    if found is not None:
        return found, issuer_svc.add_api_key(uow, found.id)
    created = issuer_svc.create_issuer(
        uow, DEMO_ISSUER, iban=DEMO_IBAN, branding=dict(DEMO_BRANDING)
    )
    payment_svc.set_methods(uow, created.issuer, container.providers, DEMO_METHODS)
    _create_demo_invoices(uow, container, created.issuer)
    return created.issuer, created.api_key


def _print_demo(container: Container, issuer: Issuer, api_key: str) -> None:
    base = container.settings.base_url.rstrip("/")
    with container.uow(readonly=True) as uow:
        today = invoice_svc.issuer_today(issuer, uow.now())
        invoices = uow.invoices.search(issuer.id, limit=DEMO_INVOICES)
    out.rule(f"[bold]paydue demo[/] · {issuer.name}")
    out.print(f"API key   [bold]{api_key}[/]  (a new one on every run)")
    out.print(f"API docs  {base}/docs")
    out.print(f"database  {shown_url(container.settings.database_url)}")
    outboxed = sorted(n for n, ch in container.channels.items() if isinstance(ch, Outbox))
    if outboxed:
        folder = Path(container.settings.outbox_dir).resolve()
        out.print(
            f"outbox    {folder}  (reminders on {', '.join(outboxed)} are written there as "
            "files, nothing is sent; PAYDUE_OUTBOX_DIR moves it)",
            markup=False,
        )
    shown: set[str] = set()
    for invoice in invoices:
        resource = invoice_svc.invoice_resource(invoice, container.links, today)
        state = resource["status"]
        if resource["overdue"]:
            state = "overdue"
        elif resource["amount_due"] and invoice.due_date <= today + timedelta(days=7):
            state = "due soon"
        if state in shown:
            continue
        shown.add(state)
        out.print(
            f"[bold]{state:<15}[/] {invoice.number}  {invoice.payer.name}, "
            f"{Money(resource['amount_due'], invoice.currency)} due {invoice.due_date}"
        )
        out.print(f"  pay link  {resource['pay_url']}", markup=False)
        out.print(f"  badge     {resource['badge_url']}", markup=False)
    auth = f'-H "Authorization: Bearer {api_key}"'
    out.print("[bold]The whole loop[/]:")
    out.print("  1. open an open invoice's pay link above and pick Card (or PayPal)")
    out.print("  2. in the simulator's checkout choose an outcome: success, a decline, pending…")
    out.print("  3. the result page turns to paid within a second or two; then see it in")
    out.print(f'     curl -s "{base}/v1/invoices?status=paid" {auth}', markup=False)
    out.print(f'     curl -s "{base}/v1/events?limit=20" {auth}', markup=False)
    out.print("     and the invoice's badge link above, now green")
    out.print("  send a notification again by hand (it changes nothing twice):")
    out.print(
        f"     PAYDUE_DATABASE_URL={container.settings.database_url} "
        "paydue simulator notify <payment id> --times 3",
        markup=False,
    )


def demo(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
    db: Annotated[Path, typer.Option(help="SQLite file for the demo")] = Path("paydue-demo.db"),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve after setting up")
    ] = True,
) -> None:
    """Set up a demo issuer with invoices in every state on SQLite, print how to try it, serve.

    Running it again reuses the issuer and its invoices and prints a new API key."""
    overrides: dict[str, Any] = {"database_url": f"sqlite:///{db}"}
    from_env = load_settings().model_fields_set
    if "base_url" not in from_env:
        overrides["base_url"] = f"http://127.0.0.1:{port}"
    if "webhook_allow_private" not in from_env:
        # The demo runs on one machine: let its webhooks reach a receiver on this machine.
        overrides["webhook_allow_private"] = True
    settings = load_settings(**overrides)
    container = build(settings)
    db_migrate.upgrade(container.engine)
    with container.uow() as uow:
        issuer, api_key = _demo_issuer(uow, container)
        uow.commit()
    _print_demo(container, issuer, api_key)
    if serve_after:
        out.print(f"serving on {settings.base_url} with the worker in-process; Ctrl-C stops")
        run_server(container, "127.0.0.1", port, run_worker=True)
    container.close()

"""``paydue statements import``: a bank statement file, matched against the open invoices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from paydue.cli.common import EXIT_INVALID, fail, out, progress_bar, ready_container
from paydue.domain.errors import DomainError
from paydue.domain.money import describe
from paydue.services import statements as svc
from paydue.services.reconciliation import csv_mapping, match_threshold


def _print_report(report: svc.ImportReport, issuer_name: str) -> None:
    counts = report.counts
    out.print(
        f"[green]imported {len(report.statements)} statement(s)[/] for {issuer_name}: "
        f"{counts['matched']} matched, {counts['suspense']} to suspense, "
        f"{counts['debit']} debit, {counts['ignored']} ignored, "
        f"{counts['duplicate']} imported before, {counts['unbooked']} not booked"
    )
    for item in report.suspense:
        line: dict[str, Any] = item["line"]
        amount = describe(line["amount"], line["currency"])
        sender = line["counterparty"]["name"] or line["counterparty"]["iban"] or "unknown sender"
        out.print(f"  {item['id']}  {amount}  {sender}: {item['reason']}", markup=False)
        for suggestion in item["suggestions"][:3]:
            confidence = suggestion["confidence"]
            out.print(f"      {confidence:.2f} {suggestion['explanation']}", markup=False)


def statements_import(
    file: Annotated[
        Path,
        typer.Argument(help="camt.052/053/054 (XML), MT940/MT942 or CSV (with a saved mapping)"),
    ],
    issuer_id: Annotated[str, typer.Option("--issuer", help="the issuer's id")],
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            max=1.0,
            help="default: the issuer's setting (GET /v1/reconciliation/settings), else"
            " PAYDUE_MATCH_THRESHOLD",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Import a bank statement: credits that match an open invoice with confidence are booked,
    the others wait in the suspense queue; lines imported before are skipped. A file that
    cannot be read changes nothing (exit 1)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    container = ready_container()
    with container.uow() as uow, progress_bar() as progress:
        issuer = uow.issuers.get(issuer_id)
        if issuer is None:
            fail(f"no issuer {issuer_id!r} (see `paydue issuer list`)")
        try:
            parsed = svc.parse(data, csv_mapping(uow, issuer.id))
        except DomainError as exc:
            fail(f"{file}: {exc.message}; nothing was imported", EXIT_INVALID)
        total = sum(len(statement.lines) for statement in parsed)
        task = progress.add_task("importing", total=total)
        try:
            report = svc.import_parsed(
                uow,
                container.links,
                issuer,
                parsed,
                svc.file_sha256(data),
                threshold=threshold
                or match_threshold(uow, issuer.id, container.settings.match_threshold),
                progress=lambda done: progress.advance(task, done),
            )
        except DomainError as exc:
            fail(f"nothing was imported: {exc.message}", EXIT_INVALID)
        uow.commit()
    container.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        _print_report(report, issuer.name)

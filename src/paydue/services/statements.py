"""Bank statement import: every booked line is stored once and gets an explicit outcome.

A credit (money in) is matched against the issuer's open invoices (``domain.matching``); a
certain match is booked as a ``bank`` credit, anything else becomes a suspense item with the
ranked suggestions. A debit that returns a payment (``domain.returns``) reverses the credit it
takes back (``services.returns``); any other debit is recorded as such.

Exactly once: lines are claimed with ``INSERT … ON CONFLICT DO NOTHING`` on the per-issuer
unique fingerprint before anything is booked, and only the lines this import inserted are
applied. A repeated file, an overlapping statement or a second import running at the same time
therefore books nothing twice; a statement that brought no new line is not stored at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.statements import LineRecord, OpenInvoiceRow, StatementRecord
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.formats.statements import (
    CsvMapping,
    Statement,
    StatementFormatError,
    StatementLine,
    parse_statement,
)
from paydue.domain import events as ev
from paydue.domain.errors import DomainError, InvalidInput
from paydue.domain.invoices import amount_due
from paydue.domain.matching import (
    DEFAULT_THRESHOLD,
    CandidateIndex,
    CreditLine,
    Match,
    OpenInvoice,
    Suggestion,
    SuspenseDecision,
    decide,
)
from paydue.domain.payouts import PayoutCandidate, PayoutDifference, PayoutSettles, match_payout
from paydue.domain.returns import return_marker
from paydue.services import journal, payouts
from paydue.services.credits import allocate_credit_split
from paydue.services.ids import new_id
from paydue.services.links import PublicLinks
from paydue.services.reconciliation import csv_mapping
from paydue.services.returns import book_return
from paydue.services.suspense import compact_iban, learn_iban, line_resource, new_suspense_item

BOOKED = frozenset({None, "BOOK", "BOOKED"})
"""Entry statuses that are bookings; pending or informational entries are not imported."""

OUTCOMES = ("matched", "suspense", "debit", "returned", "ignored", "duplicate")

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportReport:
    """What one import did: the statements it stored, line counts by outcome (plus lines that
    were not bookings) and the suspense items it created."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*OUTCOMES, "unbooked"), 0)
    )
    suspense: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the API and ``--json`` print."""
        return {
            "object": "statement_import",
            "statements": self.statements,
            "counts": self.counts,
            "suspense_items": self.suspense,
        }


def statement_resource(
    record: StatementRecord, lines: Iterable[LineRecord] | None = None
) -> dict[str, Any]:
    """The public representation of a stored statement (with its lines when given)."""
    resource: dict[str, Any] = {
        "id": record.id,
        "object": "statement",
        "format": record.format,
        "account": record.account,
        "bank_statement_id": record.bank_statement_id,
        "file_sha256": record.file_sha256,
        "counts": {
            "total": record.lines_total,
            "matched": record.lines_matched,
            "suspense": record.lines_suspense,
            "debit": record.lines_debit,
            "returned": record.lines_returned,
            "ignored": record.lines_ignored,
            "duplicate": record.lines_duplicate,
        },
        "imported_at": record.imported_at.isoformat(),
    }
    if lines is not None:
        resource["lines"] = [line_resource(line) for line in lines]
    return resource


def parse(data: bytes, csv_mapping: CsvMapping | None = None) -> list[Statement]:
    """The statements of a camt or MT940 file, or of a CSV file read with ``csv_mapping``; a
    file that cannot be read is refused with the place where reading stopped
    (``details.where``)."""
    try:
        return parse_statement(data, csv_mapping)
    except StatementFormatError as exc:
        raise InvalidInput(
            f"the statement file cannot be read at {exc.where}: {exc.reason}",
            code="invalid_statement",
            details={"where": exc.where, "reason": exc.reason},
        ) from exc


def import_statement(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    data: bytes,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a camt.05x, MT940 or (with the issuer's mapping) CSV file for ``issuer``: store
    each new booked line, match the credits, book the certain matches, queue the rest in
    suspense, record the events. Nothing is committed here; a file that cannot be parsed stores
    nothing."""
    parsed = parse(data, csv_mapping(uow, issuer.id))
    return import_parsed(
        uow, links, issuer, parsed, file_sha256(data), threshold=threshold, progress=progress
    )


def file_sha256(data: bytes) -> str:
    """The hex SHA-256 of a statement file, as stored with its statements."""
    return hashlib.sha256(data).hexdigest()


def import_parsed(
    uow: UnitOfWork,
    links: PublicLinks,
    issuer: Issuer,
    parsed: Sequence[Statement],
    digest: str,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
) -> ImportReport:
    """:func:`import_statement` for a file parsed already (the CLI parses first to size its
    progress bar); ``progress`` is called with the number of lines done as they are."""
    run = _Import(uow, links, issuer, threshold, progress)
    for statement in parsed:
        run.statement(statement, digest)
    return run.report


def _credit_line(line: LineRecord) -> CreditLine:
    return CreditLine(
        amount=line.amount,
        currency=line.currency,
        booking_date=line.booking_date,
        counterparty_name=line.counterparty_name or "",
        counterparty_iban=line.counterparty_iban or "",
        structured_reference=line.structured_reference or "",
        remittance_text=line.remittance_text or "",
        end_to_end_id=line.end_to_end_id or "",
    )


def _open_invoice(row: OpenInvoiceRow) -> OpenInvoice:
    return OpenInvoice(
        id=row.id,
        payer_id=row.payer_id,
        payer_name=row.payer_name,
        number=row.number,
        reference=row.reference,
        amount_due=amount_due(row.amount, row.amount_paid),
        currency=row.currency,
        due_date=row.due_date,
    )


class _Import:
    """One import run: the candidate index is built once, on the first credit, and kept up to
    date in place: an invoice a line pays owes that much less (or leaves the index), and the
    invoices a return reopens are read again."""

    def __init__(
        self,
        uow: UnitOfWork,
        links: PublicLinks,
        issuer: Issuer,
        threshold: float,
        progress: Progress | None,
    ) -> None:
        self.uow, self.links, self.issuer = uow, links, issuer
        self.threshold = threshold
        self.progress = progress
        self.report = ImportReport()
        self._index: CandidateIndex | None = None
        self._payers: dict[str, str] = {}  # invoice id -> payer id
        self._due: dict[str, int] = {}  # invoice id -> amount due as the index has it
        self._known: dict[str, frozenset[str]] | None = None
        self._payouts: list[PayoutCandidate] | None = None

    # --- statements -------------------------------------------------------------------------

    def statement(self, statement: Statement, digest: str) -> None:
        uow, issuer_id = self.uow, self.issuer.id
        now = uow.now()
        statement_id = new_id("stm")
        uow.statements.add_statement(
            {
                "issuer_id": issuer_id,
                "id": statement_id,
                "format": statement.format,
                "account": statement.account,
                "bank_statement_id": statement.statement_id,
                "file_sha256": digest,
                "imported_at": now,
            }
        )
        booked = [
            (position, line)
            for position, line in enumerate(statement.lines)
            if line.status in BOOKED
        ]
        rows = [self._row(statement_id, position, line, now) for position, line in booked]
        # Claimed in fingerprint order: two imports of overlapping files lock the same
        # fingerprints in the same order and cannot deadlock.
        claimed = uow.statements.claim_lines(sorted(rows, key=lambda r: r["fingerprint"]))
        counts = dict.fromkeys(OUTCOMES, 0)
        counts["duplicate"] = len(rows) - len(claimed)
        self.report.counts["duplicate"] += counts["duplicate"]
        self.report.counts["unbooked"] += len(statement.lines) - len(booked)
        if not claimed:
            uow.statements.delete_statement(issuer_id, statement_id)
            self._advance(len(statement.lines))
            return
        for row in rows:
            if row["fingerprint"] in claimed:
                outcome = self._apply(LineRecord(**row))
                counts[outcome] += 1
                self.report.counts[outcome] += 1
            self._advance(1)
        self._advance(len(statement.lines) - len(booked))
        uow.statements.set_counts(
            issuer_id,
            statement_id,
            {"lines_total": len(rows), **{f"lines_{k}": v for k, v in counts.items()}},
        )
        record = uow.statements.get_statement(issuer_id, statement_id)
        assert record is not None
        resource = statement_resource(record)
        self.report.statements.append(resource)
        uow.record(issuer_id, ev.Event(ev.STATEMENT_IMPORTED, statement_id, resource))

    def _advance(self, lines: int) -> None:
        if self.progress is not None and lines:
            self.progress(lines)

    def _row(
        self, statement_id: str, position: int, line: StatementLine, now: Any
    ) -> dict[str, Any]:
        returned = return_marker(
            amount=line.amount,
            return_reason=line.return_reason,
            is_reversal=line.is_reversal,
            bank_transaction_code=line.bank_transaction_code,
            texts=(line.remittance_text, line.additional_info),
        )
        return {
            "issuer_id": self.issuer.id,
            "id": new_id("sl"),
            "statement_id": statement_id,
            "position": position,
            "fingerprint": line.fingerprint,
            "booking_date": line.booking_date,
            "value_date": line.value_date,
            "amount": line.amount,
            "currency": line.currency,
            "counterparty_name": line.counterparty_name,
            "counterparty_iban": line.counterparty_iban,
            "counterparty_bic": line.counterparty_bic,
            "structured_reference": line.structured_reference,
            "remittance_text": line.remittance_text,
            "end_to_end_id": line.end_to_end_id,
            "bank_reference": line.bank_reference,
            "return_reason": returned,
            # what the line is unless it is booked: a return or credit waits in suspense
            "outcome": "suspense"
            if line.amount > 0 or returned
            else "debit"
            if line.amount
            else "ignored",
            "rule": None,
            "confidence": None,
            "explanation": None,
            "credit_id": None,
            "created_at": now,
        }

    # --- lines ------------------------------------------------------------------------------

    def _apply(self, line: LineRecord) -> str:
        """Book or queue one newly claimed line; returns its outcome."""
        if line.return_reason is not None:
            item = book_return(self.uow, self.links, self.issuer, line)
            if item is None:
                self._reopened(line)
                return "returned"
            self.report.suspense.append(item)
            return "suspense"
        if line.amount <= 0:
            return line.outcome
        payout = self._payout(line)
        if payout is not None:
            return payout
        decision = self._decide(line)
        if isinstance(decision, Match):
            try:
                self._book(line, decision)
            except DomainError as exc:  # refused before anything was written
                decision = SuspenseDecision(exc.message, (decision,))
            else:
                return "matched"
        item = new_suspense_item(
            self.uow, self.issuer.id, line, decision.reason, decision.suggestions
        )
        self.report.suspense.append(item)
        return "suspense"

    def _payout(self, line: LineRecord) -> str | None:
        """Settle the provider payout the line carries the reference of, or queue the line with
        it; returns the outcome, or None when the line names no payout (it may pay invoices)."""
        if self._payouts is None:
            self._payouts = payouts.candidates(self.uow, self.issuer.id)
        if not self._payouts:
            return None
        decision = match_payout(_credit_line(line), self._payouts)
        if decision is None:
            return None
        if isinstance(decision, PayoutSettles):
            if payouts.settle_line(self.uow, self.issuer.id, line, decision):
                self._payouts = None  # read again: it is settled now
                return "matched"
            decision = PayoutDifference(
                (decision.payout,), f"{decision.explanation}, but it was closed meanwhile"
            )
        self.report.suspense.append(
            payouts.difference_line(self.uow, self.issuer.id, line, decision)
        )
        self._payouts = None
        return "suspense"

    def _decide(self, line: LineRecord) -> Match | SuspenseDecision:
        credit = _credit_line(line)
        return decide(credit, self._candidates(), self._known_ibans(), self.threshold)

    def _candidates(self) -> CandidateIndex:
        if self._index is None:
            rows = self.uow.statements.open_invoices(self.issuer.id)
            self._payers = {row.id: row.payer_id for row in rows}
            self._due = {row.id: amount_due(row.amount, row.amount_paid) for row in rows}
            self._index = CandidateIndex.build(_open_invoice(row) for row in rows)
        return self._index

    def _paid(self, match: Suggestion) -> None:
        """The index after ``match`` was booked: each invoice owes what was allocated less."""
        if self._index is None:
            return
        for invoice_id, amount in match.allocations:
            indexed = self._index.get(invoice_id)
            self._due[invoice_id] -= amount
            if indexed is not None:
                self._index.put(replace(indexed, amount_due=self._due[invoice_id]))

    def _reopened(self, line: LineRecord) -> None:
        """The index after the return ``line`` reversed a credit: its invoices are read again."""
        if self._index is None:
            return
        record = self.uow.statements.get_line(self.issuer.id, line.id)
        if record is None or record.credit_id is None:
            self._index = None
            return
        parts = self.uow.invoices.allocations_of_credit(self.issuer.id, record.credit_id)
        ids = [invoice_id for invoice_id, _ in parts]
        for invoice_id in ids:
            self._index.remove(invoice_id)
            self._due.pop(invoice_id, None)
        for row in self.uow.statements.open_invoices(self.issuer.id, ids=ids):
            self._payers[row.id] = row.payer_id
            self._due[row.id] = amount_due(row.amount, row.amount_paid)
            self._index.put(_open_invoice(row))

    def _known_ibans(self) -> dict[str, frozenset[str]]:
        if self._known is None:
            known: dict[str, set[str]] = {}
            for iban, payer_id in self.uow.statements.payer_ibans(self.issuer.id):
                known.setdefault(compact_iban(iban), set()).add(payer_id)
            self._known = {iban: frozenset(payers) for iban, payers in known.items()}
        return self._known

    def _book(self, line: LineRecord, match: Suggestion) -> None:
        credit_id, invoices = allocate_credit_split(
            self.uow,
            self.links,
            self.issuer,
            list(match.allocations),
            currency=line.currency,
            received_on=line.booking_date,
            source="bank",
            note=f"statement line {line.id}",
            expected_due={i: self._due[i] for i in match.invoice_ids},
        )
        self._paid(match)
        journal.record(
            self.uow,
            self.issuer.id,
            journal.BANK_CREDIT,
            currency=line.currency,
            parts=[
                (inv, amount) for inv, (_, amount) in zip(invoices, match.allocations, strict=True)
            ],
            credit_id=credit_id,
            line_id=line.id,
            rule=match.rule.value,
            detail=match.explanation,
        )
        self.uow.statements.set_line_outcome(
            self.issuer.id,
            line.id,
            outcome="matched",
            rule=match.rule.value,
            confidence=match.confidence,
            explanation=match.explanation,
            credit_id=credit_id,
        )
        payers = {self._payers[invoice_id] for invoice_id in match.invoice_ids}
        learned = learn_iban(self.uow, self.issuer.id, line, payers)
        if learned is not None:
            iban, payer_id = learned
            known = self._known_ibans()
            known[iban] = known.get(iban, frozenset()) | {payer_id}

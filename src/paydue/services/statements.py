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

from paydue.adapters.db.records import Invoice, Issuer
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
from paydue.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from paydue.domain.invoices import (
    UNPAID,
    InvoiceStatus,
    amount_due,
    check_allocatable,
    derive_status,
    status_event,
)
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
from paydue.domain.money import MoneyError, check_amount, check_currency
from paydue.domain.payouts import PayoutCandidate, PayoutDifference, PayoutSettles, match_payout
from paydue.domain.returns import return_marker
from paydue.services import journal, payouts
from paydue.services.ids import new_id
from paydue.services.invoices import invoice_resource, issuer_today
from paydue.services.links import PublicLinks
from paydue.services.reconciliation import csv_mapping
from paydue.services.returns import book_return
from paydue.services.suspense import compact_iban, line_resource, new_suspense_item

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
        self._queue: list[_Queued] = []  # lines decided, waiting to be booked or queued
        self._learned: list[dict[str, Any]] = []  # payer IBANs the queued matches teach
        self._counts: dict[str, int] = {}

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
        self._counts = counts
        for row in rows:
            if row["fingerprint"] in claimed:
                outcome = self._apply(LineRecord(**row))
                if outcome is not None:
                    self._count(outcome)
            self._advance(1)
        self._flush()
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

    def _count(self, outcome: str) -> None:
        self._counts[outcome] += 1
        self.report.counts[outcome] += 1

    def _apply(self, line: LineRecord) -> str | None:
        """Book or queue one newly claimed line; returns its outcome, or None when the line
        waits in the booking queue (:meth:`_flush` counts it)."""
        if line.return_reason is not None:
            self._flush()  # the credit it takes back may be in the queue
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
            # Decided on the index as if the queue were booked: it owes that much less now.
            self._queue.append(
                _Queued(line, decision, {i: self._due[i] for i in decision.invoice_ids})
            )
            self._paid(decision)
            self._learn(line, decision)
        else:
            self._queue.append(_Queued(line, decision))
        return None

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
        self._flush()  # in line order
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

    def _learn(self, line: LineRecord, match: Suggestion) -> None:
        """What a booked match teaches: the sender's IBAN belongs to the one payer it paid (used
        by the next decisions at once, written with the queue)."""
        payers = {self._payers[invoice_id] for invoice_id in match.invoice_ids}
        if not line.counterparty_iban or len(payers) != 1:
            return
        [payer_id] = payers
        iban = compact_iban(line.counterparty_iban)
        self._learned.append(
            {
                "issuer_id": self.issuer.id,
                "iban": iban,
                "payer_id": payer_id,
                "learned_from": line.id,
                "created_at": self.uow.now(),
            }
        )
        known = self._known_ibans()
        known[iban] = known.get(iban, frozenset()) | {payer_id}

    def _flush(self) -> None:
        """Book the queued matches and queue the suspense lines, in line order, with a few
        statements for all of them: the invoices are locked in one query (id order), checked
        and updated in memory as :func:`allocate_credit_split` would one by one, then credits,
        allocations, invoice states, journal rows, line outcomes and learned IBANs are written
        in bulk. Events are recorded in line order. A match refused on the locked numbers (a
        concurrent payment changed what an invoice owes, or it was cancelled) goes to suspense
        with the reason, as before."""
        queue, self._queue = self._queue, []
        learned, self._learned = self._learned, []
        if not queue:
            self.uow.statements.learn_ibans(learned)
            return
        uow, issuer = self.uow, self.issuer
        ids = {i for q in queue if isinstance(q.decision, Match) for i in q.decision.invoice_ids}
        locked = uow.invoices.lock_many(issuer.id, sorted(ids)) if ids else {}
        batch = _Booking(uow, self.links, issuer, locked)
        refused: set[str] = set()
        for queued in queue:
            line, decision = queued.line, queued.decision
            if isinstance(decision, Match):
                try:
                    batch.book(line, decision, queued.expected_due)
                except DomainError as exc:  # refused before anything was written for it
                    refused.add(line.id)
                    self._refused(decision, locked)
                    decision = SuspenseDecision(exc.message, (decision,))
                else:
                    self._count("matched")
                    continue
            item = new_suspense_item(uow, issuer.id, line, decision.reason, decision.suggestions)
            self.report.suspense.append(item)
            self._count("suspense")
        batch.write()
        uow.statements.learn_ibans([row for row in learned if row["learned_from"] not in refused])

    def _refused(self, match: Suggestion, locked: dict[str, Invoice]) -> None:
        """The index after a queued match was refused: its invoices as they are locked."""
        if self._index is None:
            return
        for invoice_id in match.invoice_ids:
            invoice = locked.get(invoice_id)
            self._index.remove(invoice_id)
            self._due.pop(invoice_id, None)
            if invoice is not None and invoice.status in UNPAID:
                due = amount_due(invoice.amount, invoice.amount_paid)
                self._due[invoice_id] = due
                self._index.put(_invoice_candidate(invoice, due))


@dataclass(slots=True)
class _Queued:
    """A line waiting to be booked (``decision`` a match) or queued in suspense."""

    line: LineRecord
    decision: Match | SuspenseDecision
    expected_due: dict[str, int] = field(default_factory=dict)


def _invoice_candidate(invoice: Invoice, due: int) -> OpenInvoice:
    return OpenInvoice(
        id=invoice.id,
        payer_id=invoice.payer.id,
        payer_name=invoice.payer.name,
        number=invoice.number,
        reference=invoice.reference,
        amount_due=due,
        currency=invoice.currency,
        due_date=invoice.due_date,
    )


class _Booking:
    """The bank credits of one queue flush, booked in memory on locked invoices and written
    together: what :func:`services.credits.allocate_credit_split` (with ``expected_due``) and
    the journal, line outcome and events of a match do line by line, with the same checks in
    the same order and the same events."""

    def __init__(
        self, uow: UnitOfWork, links: PublicLinks, issuer: Issuer, locked: dict[str, Invoice]
    ) -> None:
        self.uow, self.links, self.issuer, self.locked = uow, links, issuer, locked
        self.now = uow.now()
        self.today = issuer_today(issuer, self.now)
        self.credits: list[dict[str, Any]] = []
        self.allocations: list[dict[str, Any]] = []
        self.journal: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []
        self.changed: dict[str, Invoice] = {}

    def book(self, line: LineRecord, match: Suggestion, expected_due: dict[str, int]) -> None:
        parts = list(match.allocations)
        invoice_ids = [invoice_id for invoice_id, _ in parts]
        if not parts:
            raise InvalidInput("allocate the credit to at least one invoice")
        if len(set(invoice_ids)) != len(invoice_ids):
            raise InvalidInput("an invoice appears more than once in the allocation")
        try:
            check_currency(line.currency)
            for _, amount in parts:
                check_amount(amount)
        except MoneyError as exc:
            raise InvalidInput(str(exc)) from exc
        for invoice_id in sorted(invoice_ids):
            invoice = self.locked.get(invoice_id)
            if invoice is None:
                raise NotFound(f"no invoice {invoice_id!r}", code="invoice_not_found")
            check_allocatable(invoice.status)
            due_now = amount_due(invoice.amount, invoice.amount_paid)
            if invoice_id in expected_due and due_now != expected_due[invoice_id]:
                raise Conflict(
                    f"invoice {invoice.number} owes {due_now} now, not "
                    f"{expected_due[invoice_id]}: it changed since the decision",
                    code="invoice_changed",
                )
            if line.currency != invoice.currency:
                raise InvalidInput(
                    f"the payment is in {line.currency} but the invoice is in {invoice.currency}",
                    code="currency_mismatch",
                )
        issuer_id, now = self.issuer.id, self.now
        credit_id = new_id("cr")
        total = sum(amount for _, amount in parts)
        note = f"statement line {line.id}"
        self.credits.append(
            {
                "issuer_id": issuer_id,
                "id": credit_id,
                "source": "bank",
                "amount": total,
                "currency": line.currency,
                "received_on": line.booking_date,
                "note": note,
                "created_at": now,
            }
        )
        self.uow.record(
            issuer_id,
            ev.Event(
                ev.CREDIT_RECEIVED,
                credit_id,
                {
                    "id": credit_id,
                    "object": "credit",
                    "source": "bank",
                    "amount": total,
                    "currency": line.currency,
                    "received_on": line.booking_date.isoformat(),
                    "note": note,
                    "invoice_id": invoice_ids[0] if len(parts) == 1 else None,
                    "allocations": [{"invoice_id": i, "amount": a} for i, a in parts],
                },
            ),
        )
        updated = [self._allocate(invoice_id, credit_id, amount) for invoice_id, amount in parts]
        self.journal.extend(
            journal.rows(
                issuer_id,
                journal.BANK_CREDIT,
                now,
                currency=line.currency,
                parts=[(inv, amount) for inv, (_, amount) in zip(updated, parts, strict=True)],
                credit_id=credit_id,
                line_id=line.id,
                rule=match.rule.value,
                detail=match.explanation,
            )
        )
        self.outcomes.append(
            {
                "id": line.id,
                "outcome": "matched",
                "rule": match.rule.value,
                "confidence": match.confidence,
                "explanation": match.explanation,
                "credit_id": credit_id,
            }
        )

    def _allocate(self, invoice_id: str, credit_id: str, amount: int) -> Invoice:
        invoice = self.locked[invoice_id]
        self.allocations.append(
            {
                "issuer_id": self.issuer.id,
                "id": new_id("al"),
                "credit_id": credit_id,
                "invoice_id": invoice_id,
                "amount": amount,
                "created_at": self.now,
            }
        )
        paid = invoice.amount_paid + amount
        cancelled = invoice.status == InvoiceStatus.CANCELLED
        status = derive_status(invoice.amount, paid, cancelled=cancelled)
        updated = replace(invoice, amount_paid=paid, status=status, updated_at=self.now)
        self.locked[invoice_id] = self.changed[invoice_id] = updated
        changed = status_event(invoice.status, status)
        if changed is not None:
            resource = invoice_resource(updated, self.links, self.today)
            self.uow.record(self.issuer.id, ev.Event(changed, invoice_id, resource))
        if invoice.status not in UNPAID and status in UNPAID:
            self.uow.collections.look_again(self.issuer.id, self.now, invoice_ids=[invoice_id])
        return updated

    def write(self) -> None:
        """Everything booked, in a few statements (foreign keys first)."""
        uow, issuer_id = self.uow, self.issuer.id
        uow.invoices.add_credits(self.credits)
        uow.invoices.add_allocations(self.allocations)
        uow.invoices.set_paid_states(
            issuer_id,
            [(i, inv.amount_paid, inv.status) for i, inv in sorted(self.changed.items())],
            self.now,
        )
        uow.statements.add_journal(self.journal)
        uow.statements.set_line_outcomes(issuer_id, self.outcomes)

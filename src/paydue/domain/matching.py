"""Matching rules of bank reconciliation: which open invoice(s) a received credit pays.

A credit line is tried against the rules below, strongest first; the first rule that is certain
(one answer, confidence at or above the threshold, nothing stronger pointing elsewhere) decides.
Otherwise the line goes to suspense with the ranked suggestions of every rule.

1. ``reference`` — a verified RF, Belgian OGM-VCS or Swiss QR reference equals an invoice's.
2. ``invoice_number`` — the invoice number appears as whole tokens in the remittance text
   (and the sender is not recognised as another payer: a number has no check digit).
3. ``known_iban`` — the sender's IBAN is known for a payer who owes exactly this amount once.
4. ``name_and_amount`` — the sender's name resembles a payer who owes exactly this amount once.
5. ``combination`` — one transfer pays several invoices of one payer (an exact sum), or a part
   or more of the one invoice a recognised payer has open.

Precision comes first: a wrong automatic match is worse than none. So an ambiguity (two
invoices with the same number key, two candidates with the same amount) never decides, and a
verified structured reference that matches no open invoice stops the weaker rules from deciding.

Matching one line costs a few dictionary look-ups in a :class:`CandidateIndex` built once per
issuer, not a scan of the open invoices. Everything is pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

from rapidfuzz import fuzz

from paydue.domain.money import Money
from paydue.domain.remittance import (
    FoundReference,
    Scheme,
    compact_invoice_number,
    find_ogm,
    find_qrr,
    find_references,
    find_rf,
    fold_name,
    name_key,
    normalise_invoice_number,
    number_windows,
    parse_reference,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_COMBINATION_INVOICES",
    "MAX_SUGGESTIONS",
    "Allocation",
    "CandidateIndex",
    "CreditLine",
    "KnownIban",
    "Match",
    "OpenInvoice",
    "Rule",
    "Suggestion",
    "SuspenseDecision",
    "decide",
    "exact_combinations",
    "find_ogm",
    "find_qrr",
    "find_rf",
    "fold_name",
    "known_iban_index",
    "normalise_invoice_number",
]

DEFAULT_THRESHOLD = 0.8
MAX_SUGGESTIONS = 5
MAX_COMBINATION_INVOICES = 12  # at most 2**12 subsets of one payer's open invoices
MIN_NUMBER_LENGTH = 4  # shorter invoice numbers are too common in free text to be looked for
MAX_NUMBER_CHUNKS = 6  # an invoice number spans at most this many chunks of text
MAX_NAME_SCAN = 2000  # larger same-amount buckets are searched by exact name only
NAME_MIN_SCORE = 85.0  # token_sort_ratio below which a name is no evidence at all

# Confidence of each kind of evidence (0..1). Defaults decide at 0.8.
REFERENCE_STRUCTURED = 1.0
REFERENCE_IN_TEXT = 0.99
REFERENCE_AMOUNT_DIFFERS = 0.9
REFERENCE_COMBINED = 0.97
NUMBER_EXACT = 0.95
NUMBER_COMBINED = 0.9
NUMBER_DIFFERS_CORROBORATED = 0.85
NUMBER_DIFFERS = 0.7
NUMBER_CONTRADICTED = 0.6  # the sender is recognised as another payer
KNOWN_IBAN_EXACT = 0.9
NAME_AMOUNT_BEST = 0.9  # at a name score of 100, falling linearly to NAME_AMOUNT_WORST
NAME_AMOUNT_WORST = 0.6  # at NAME_MIN_SCORE
COMBINATION_BY_IBAN = 0.85
COMBINATION_BY_NAME = 0.8
SINGLE_DIFFERS_BY_IBAN = 0.7
SINGLE_DIFFERS_BY_NAME = 0.6
AMBIGUOUS = 0.5  # one of several equally good candidates
CURRENCY_DIFFERS = 0.3


class Rule(StrEnum):
    """The matching rules, strongest first."""

    REFERENCE = "reference"
    INVOICE_NUMBER = "invoice_number"
    KNOWN_IBAN = "known_iban"
    NAME_AND_AMOUNT = "name_and_amount"
    COMBINATION = "combination"


@dataclass(frozen=True, slots=True)
class CreditLine:
    """Money received on the issuer's account, as a bank statement tells it."""

    amount: int  # minor units, positive
    currency: str
    booking_date: date
    counterparty_name: str = ""
    counterparty_iban: str = ""
    structured_reference: str = ""
    remittance_text: str = ""
    end_to_end_id: str = ""


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice that can still take money; ``reference`` is an RF, OGM or QR reference."""

    id: str
    payer_id: str
    payer_name: str
    number: str
    reference: str
    amount_due: int  # minor units still owed
    currency: str
    due_date: date


@dataclass(frozen=True, slots=True)
class KnownIban:
    """A fact learned from earlier matches: money from ``iban`` came from payer ``payer_id``."""

    iban: str
    payer_id: str


class Allocation(NamedTuple):
    """Part of the credit applied to one invoice."""

    invoice_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A possible allocation of a credit line, the rule that found it and why."""

    rule: Rule
    confidence: float
    explanation: str
    allocations: tuple[Allocation, ...]

    @property
    def invoice_ids(self) -> frozenset[str]:
        """The invoices this suggestion pays."""
        return frozenset(allocation.invoice_id for allocation in self.allocations)


@dataclass(frozen=True, slots=True)
class Match(Suggestion):
    """A suggestion certain enough to be applied without a person looking at it."""


@dataclass(frozen=True, slots=True)
class SuspenseDecision:
    """Nothing is certain: the credit waits for a person, with the best suggestions first."""

    reason: str
    suggestions: tuple[Suggestion, ...]


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Multimap(Generic[_K, _V]):
    """A dict of key to values that stores the common single value without a list around it."""

    __slots__ = ("_more", "_one")

    def __init__(self) -> None:
        self._one: dict[_K, _V] = {}
        self._more: dict[_K, list[_V]] = {}

    def add(self, key: _K, value: _V) -> None:
        if key in self._more:
            self._more[key].append(value)
        elif key in self._one:
            self._more[key] = [self._one.pop(key), value]
        else:
            self._one[key] = value

    def get(self, key: _K) -> Sequence[_V]:
        if key in self._one:
            return (self._one[key],)
        return self._more.get(key, ())

    def discard(self, key: _K, value: _V) -> None:
        if self._one.get(key) == value:
            del self._one[key]
        elif key in self._more:
            values = [v for v in self._more[key] if v != value]
            if len(values) > 1:
                self._more[key] = values
            else:
                del self._more[key]
                if values:
                    self._one[key] = values[0]


class CandidateIndex:
    """One issuer's open invoices, indexed by everything a credit line can be matched on.

    Build it once per reconciliation run with :meth:`build`; matching a line then costs a few
    dictionary look-ups (plus a bounded name comparison within one amount).
    """

    __slots__ = (
        "_amounts",
        "_by_id",
        "_compact_numbers",
        "_display_names",
        "_names",
        "_numbers",
        "_payer_amounts",
        "_payer_names",
        "_payers",
        "_references",
    )

    def __init__(self) -> None:
        self._references: _Multimap[str, OpenInvoice] = _Multimap()
        self._numbers: _Multimap[str, OpenInvoice] = _Multimap()
        self._compact_numbers: _Multimap[str, OpenInvoice] = _Multimap()
        self._payers: _Multimap[str, OpenInvoice] = _Multimap()
        self._payer_amounts: _Multimap[tuple[str, int], OpenInvoice] = _Multimap()
        self._amounts: _Multimap[int, OpenInvoice] = _Multimap()
        self._names: _Multimap[str, str] = _Multimap()
        self._payer_names: dict[str, str] = {}
        self._display_names: dict[str, str] = {}
        self._by_id: dict[str, OpenInvoice] = {}

    @classmethod
    def build(cls, invoices: Iterable[OpenInvoice]) -> CandidateIndex:
        """Index ``invoices`` (all of one issuer)."""
        index = cls()
        for invoice in invoices:
            index._add(invoice)
        return index

    def _keys(self, invoice: OpenInvoice) -> tuple[str | None, str | None, str | None]:
        """Reference, number and compact number keys of ``invoice`` (None: not indexed)."""
        reference = parse_reference(invoice.reference)
        compact = compact_invoice_number(invoice.number)
        if len(compact) < MIN_NUMBER_LENGTH:
            return (reference.value if reference else None, None, None)
        number = normalise_invoice_number(invoice.number)
        return (reference.value if reference else None, number, compact)

    def _add(self, invoice: OpenInvoice) -> None:
        reference, number, compact = self._keys(invoice)
        if reference is not None:
            self._references.add(reference, invoice)
        if number is not None and compact is not None:
            self._numbers.add(number, invoice)
            self._compact_numbers.add(compact, invoice)
        self._payers.add(invoice.payer_id, invoice)
        self._payer_amounts.add((invoice.payer_id, invoice.amount_due), invoice)
        self._amounts.add(invoice.amount_due, invoice)
        self._by_id[invoice.id] = invoice
        if invoice.payer_id not in self._payer_names:
            self._payer_names[invoice.payer_id] = name_key(invoice.payer_name)
            self._display_names[invoice.payer_id] = invoice.payer_name
            self._names.add(self._payer_names[invoice.payer_id], invoice.payer_id)

    def remove(self, invoice_id: str) -> OpenInvoice | None:
        """Take an invoice out (it was paid); returns it as it was indexed, if it was."""
        invoice = self._by_id.pop(invoice_id, None)
        if invoice is None:
            return None
        reference, number, compact = self._keys(invoice)
        if reference is not None:
            self._references.discard(reference, invoice)
        if number is not None and compact is not None:
            self._numbers.discard(number, invoice)
            self._compact_numbers.discard(compact, invoice)
        self._payers.discard(invoice.payer_id, invoice)
        self._payer_amounts.discard((invoice.payer_id, invoice.amount_due), invoice)
        self._amounts.discard(invoice.amount_due, invoice)
        return invoice

    def put(self, invoice: OpenInvoice) -> None:
        """Index ``invoice`` in place of the version indexed before, if any (money was
        allocated to it or taken back); one that owes nothing any more is only taken out."""
        self.remove(invoice.id)
        if invoice.amount_due > 0:
            self._add(invoice)

    def get(self, invoice_id: str) -> OpenInvoice | None:
        """The indexed invoice ``invoice_id``, if it is open."""
        return self._by_id.get(invoice_id)

    def by_reference(self, reference: str) -> Sequence[OpenInvoice]:
        """Invoices whose reference has the canonical form ``reference``."""
        return self._references.get(reference)

    def by_number(self, key: str, *, compact: bool = False) -> Sequence[OpenInvoice]:
        """Invoices whose normalised (or compact) number is ``key``."""
        return (self._compact_numbers if compact else self._numbers).get(key)

    def of_payer(self, payer_id: str, currency: str) -> list[OpenInvoice]:
        """The payer's open invoices in ``currency``, earliest due first."""
        invoices = [i for i in self._payers.get(payer_id) if i.currency == currency]
        return sorted(invoices, key=lambda invoice: (invoice.due_date, invoice.id))

    def of_payer_amount(self, payer_id: str, amount: int, currency: str) -> list[OpenInvoice]:
        """The payer's open invoices of exactly ``amount`` in ``currency``."""
        found = self._payer_amounts.get((payer_id, amount))
        return [invoice for invoice in found if invoice.currency == currency]

    def of_amount(self, amount: int, currency: str) -> list[OpenInvoice]:
        """All open invoices of exactly ``amount`` in ``currency``."""
        return [invoice for invoice in self._amounts.get(amount) if invoice.currency == currency]

    def payers_named(self, key: str) -> Sequence[str]:
        """Payers whose :func:`name_key` is exactly ``key``."""
        return self._names.get(key)

    def payer_name(self, payer_id: str) -> str:
        """The name of a payer who had open invoices, as the issuer wrote it (else the id)."""
        return self._display_names.get(payer_id, payer_id)

    def payer_name_key(self, payer_id: str) -> str:
        """The :func:`name_key` of a payer with open invoices."""
        return self._payer_names[payer_id]


def known_iban_index(facts: Iterable[KnownIban]) -> dict[str, frozenset[str]]:
    """Compact upper-case IBAN to the payers known to pay from it (a joint account may be two)."""
    payers: dict[str, set[str]] = {}
    for fact in facts:
        payers.setdefault(_compact_iban(fact.iban), set()).add(fact.payer_id)
    return {iban: frozenset(ids) for iban, ids in payers.items()}


def _compact_iban(iban: str) -> str:
    return "".join(iban.split()).upper()


@dataclass(frozen=True, slots=True)
class _Line:
    """A credit line with what every rule needs computed once."""

    credit: CreditLine
    index: CandidateIndex
    iban_payers: frozenset[str]
    name: str  # name_key of the counterparty
    references: tuple[tuple[FoundReference, str], ...]  # verified, with where they were found

    def money(self) -> str:
        return _money(self.credit.amount, self.credit.currency)


def _texts(credit: CreditLine) -> tuple[tuple[str, str], ...]:
    """The free-text fields of a line with the words an explanation uses for each."""
    return (
        ("structured reference", credit.structured_reference),
        ("remittance text", credit.remittance_text),
        ("end-to-end id", credit.end_to_end_id),
    )


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _single(
    line: _Line, invoice: OpenInvoice, rule: Rule, confidence: tuple[float, float], reason: str
) -> Suggestion:
    """``invoice`` receives the whole credit; ``confidence`` is (amount equal, amount differs)."""
    credit = line.credit
    exact, differs = confidence
    if credit.currency != invoice.currency:
        detail = f"but the credit is in {credit.currency} and the invoice in {invoice.currency}"
        score = min(differs, CURRENCY_DIFFERS)
    elif credit.amount == invoice.amount_due:
        detail = f"the amount {line.money()} equals the amount due"
        score = exact
    else:
        detail = _difference(line, invoice)
        score = differs
    allocations = (Allocation(invoice.id, credit.amount),)
    return Suggestion(rule, score, f"{reason}; {detail}", allocations)


def _difference(line: _Line, invoice: OpenInvoice) -> str:
    due = _money(invoice.amount_due, invoice.currency)
    if line.credit.amount < invoice.amount_due:
        return f"{line.money()} received against {due} due: partial payment"
    excess = _money(line.credit.amount - invoice.amount_due, invoice.currency)
    return f"{line.money()} received against {due} due: over-payment of {excess}"


def _combined(
    line: _Line, invoices: Sequence[OpenInvoice], rule: Rule, confidence: float, reason: str
) -> Suggestion:
    """The credit pays ``invoices`` in full; their amounts due add up to it exactly."""
    numbers = ", ".join(invoice.number for invoice in invoices)
    explanation = f"{reason}; invoices {numbers} add up to the {line.money()} received"
    allocations = tuple(Allocation(invoice.id, invoice.amount_due) for invoice in invoices)
    return Suggestion(rule, confidence, explanation, allocations)


def _ambiguous(suggestions: Iterable[Suggestion]) -> list[Suggestion]:
    """Several candidates for one piece of evidence: none of them may decide."""
    return [
        Suggestion(s.rule, min(s.confidence, AMBIGUOUS), s.explanation, s.allocations)
        for s in suggestions
    ]


def _adds_up(line: _Line, invoices: Sequence[OpenInvoice]) -> bool:
    credit = line.credit
    return all(i.currency == credit.currency for i in invoices) and credit.amount == sum(
        i.amount_due for i in invoices
    )


def _several(
    line: _Line,
    found: Sequence[tuple[OpenInvoice, str]],
    rule: Rule,
    confidence: tuple[float, float, float],
) -> list[Suggestion]:
    """Suggestions for invoices each pointed at by its own piece of evidence (``reason``).

    One invoice: a single suggestion. Several that add up to the credit: one combined payment.
    Otherwise they contradict each other and are all ambiguous.
    """
    exact, differs, combined = confidence
    singles = [_single(line, invoice, rule, (exact, differs), why) for invoice, why in found]
    if len(found) <= 1:
        return singles
    invoices = [invoice for invoice, _ in found]
    if _adds_up(line, invoices):
        return [_combined(line, invoices, rule, combined, " and ".join(w for _, w in found))]
    return _ambiguous(singles)


def _found_references(credit: CreditLine) -> tuple[tuple[FoundReference, str], ...]:
    """Verified references of the line with where they were found, structured field first."""
    found: list[tuple[FoundReference, str]] = []
    whole = parse_reference(credit.structured_reference)
    if whole is not None:
        found.append((whole, "structured reference"))
    for where, text in _texts(credit):
        found += [(reference, where) for reference in find_references(text)]
    unique: dict[FoundReference, str] = {}
    for reference, where in found:
        unique.setdefault(reference, where)
    return tuple(unique.items())


def _by_reference(line: _Line) -> list[Suggestion]:
    found: list[tuple[OpenInvoice, str]] = []
    structured, shared = True, False
    for reference, where in line.references:
        invoices = line.index.by_reference(reference.value)
        structured = structured and (not invoices or where == "structured reference")
        shared = shared or len(invoices) > 1
        for invoice in invoices:
            reason = f"{reference.formatted()} in the {where} equals invoice {invoice.number}"
            found.append((invoice, reason))
    if shared:  # one reference on two invoices: a data error a person has to look at
        confidence = (AMBIGUOUS, AMBIGUOUS)
        return _ambiguous(_single(line, i, Rule.REFERENCE, confidence, w) for i, w in found)
    exact = REFERENCE_STRUCTURED if structured else REFERENCE_IN_TEXT
    return _several(
        line, found, Rule.REFERENCE, (exact, REFERENCE_AMOUNT_DIFFERS, REFERENCE_COMBINED)
    )


def _unresolved_reference(line: _Line) -> str | None:
    """A verified reference the payer meant for us that no open invoice carries, if any.

    Trusted are an RF anywhere and any scheme in the structured field: a duplicate payment or
    one for an invoice already closed should not be applied to some other invoice.
    """
    if any(line.index.by_reference(reference.value) for reference, _ in line.references):
        return None
    for reference, where in line.references:
        if reference.scheme is Scheme.RF or where == "structured reference":
            return f"the {where} carries {reference.formatted()}, which no open invoice has"
    return None


def _number_hits(line: _Line) -> dict[str, tuple[OpenInvoice, str]]:
    """Invoices whose number appears in the line's texts, by invoice id.

    A hit inside the span of a longer hit in the same text is dropped ("2026-0042" is not also
    invoice "0042"); a number key shared by several invoices gives all of them.
    """
    hits: dict[str, tuple[OpenInvoice, str]] = {}
    for where, text in _texts(line.credit):
        spans: list[tuple[int, int, OpenInvoice]] = []
        for window in number_windows(text, MAX_NUMBER_CHUNKS):
            found = list(line.index.by_number(window.key))
            if window.compact is not None:
                found += line.index.by_number(window.compact, compact=True)
            spans += [(window.start, window.end, invoice) for invoice in found]
        for start, end, invoice in spans:
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans):
                reason = f"invoice number {invoice.number} appears in the {where}"
                hits.setdefault(invoice.id, (invoice, reason))
    return hits


def _pays_from(line: _Line, payer_id: str) -> bool:
    """The sender is known to be, or is named like, ``payer_id``."""
    if payer_id in line.iban_payers:
        return True
    name = line.index.payer_name_key(payer_id)
    return bool(line.name) and fuzz.token_sort_ratio(line.name, name) >= NAME_MIN_SCORE


def _someone_else(line: _Line, invoice: OpenInvoice) -> str | None:
    """Another payer the sender is recognised as, when the sender is not ``invoice``'s payer.

    Invoice numbers carry no check digit: a mistyped number can be another open invoice's, of
    the same amount when both are on one tariff. The sender then gives it away.
    """
    if _pays_from(line, invoice.payer_id):
        return None
    others = set(line.iban_payers)
    if line.name:
        others.update(line.index.payers_named(line.name))
        others.update(i.payer_id for i, _ in _same_amount_named(line))
    others.discard(invoice.payer_id)
    return line.index.payer_name(min(others)) if others else None


def _by_invoice_number(line: _Line) -> list[Suggestion]:
    hits = list(_number_hits(line).values())
    if len(hits) == 1:
        invoice, reason = hits[0]
        if invoice.amount_due != line.credit.amount and _pays_from(line, invoice.payer_id):
            reason += f" and the sender is the payer {invoice.payer_name}"
            corroborated = (NUMBER_EXACT, NUMBER_DIFFERS_CORROBORATED)
            return [_single(line, invoice, Rule.INVOICE_NUMBER, corroborated, reason)]
        other = _someone_else(line, invoice)
        if other is not None:
            reason += f", but the sender looks like another payer, {other}"
            contradicted = (NUMBER_CONTRADICTED, NUMBER_CONTRADICTED)
            return [_single(line, invoice, Rule.INVOICE_NUMBER, contradicted, reason)]
    confidence = (NUMBER_EXACT, NUMBER_DIFFERS, NUMBER_COMBINED)
    return _several(line, hits, Rule.INVOICE_NUMBER, confidence)


def _one_or_ambiguous(suggestions: list[Suggestion]) -> list[Suggestion]:
    return suggestions if len(suggestions) <= 1 else _ambiguous(suggestions)


def _by_known_iban(line: _Line) -> list[Suggestion]:
    credit = line.credit
    suggestions = []
    for payer_id in sorted(line.iban_payers):
        for invoice in line.index.of_payer_amount(payer_id, credit.amount, credit.currency):
            reason = (
                f"the sender's IBAN {_compact_iban(credit.counterparty_iban)} is known for"
                f" payer {invoice.payer_name}, who has invoice {invoice.number} open for this"
                " amount"
            )
            suggestions.append(
                _single(line, invoice, Rule.KNOWN_IBAN, (KNOWN_IBAN_EXACT, 0), reason)
            )
    return _one_or_ambiguous(suggestions)


def _name_confidence(score: float) -> float:
    share = (score - NAME_MIN_SCORE) / (100.0 - NAME_MIN_SCORE)
    return NAME_AMOUNT_WORST + share * (NAME_AMOUNT_BEST - NAME_AMOUNT_WORST)


def _same_amount_named(line: _Line) -> list[tuple[OpenInvoice, float]]:
    """Invoices of exactly the credit's amount whose payer's name resembles the sender's."""
    credit = line.credit
    invoices = line.index.of_amount(credit.amount, credit.currency)
    if len(invoices) > MAX_NAME_SCAN:
        payers = set(line.index.payers_named(line.name))
        return [(invoice, 100.0) for invoice in invoices if invoice.payer_id in payers]
    scored = []
    for invoice in invoices:
        name = line.index.payer_name_key(invoice.payer_id)
        score = fuzz.token_sort_ratio(line.name, name, score_cutoff=NAME_MIN_SCORE)
        if score:
            scored.append((invoice, score))
    return scored


def _by_name_and_amount(line: _Line) -> list[Suggestion]:
    if not line.name:
        return []
    suggestions = []
    for invoice, score in _same_amount_named(line):
        reason = (
            f"the sender {line.credit.counterparty_name!r} resembles payer"
            f" {invoice.payer_name!r} ({score:.0f}%), who has invoice {invoice.number} open"
            " for this amount"
        )
        confidence = (_name_confidence(score), 0.0)
        suggestions.append(_single(line, invoice, Rule.NAME_AND_AMOUNT, confidence, reason))
    return _one_or_ambiguous(suggestions)


def exact_combinations(
    invoices: Sequence[OpenInvoice], amount: int, *, limit: int = 2
) -> list[tuple[OpenInvoice, ...]]:
    """Up to ``limit`` sets of two or more ``invoices`` whose amounts due add up to ``amount``.

    Bounded: with more than :data:`MAX_COMBINATION_INVOICES` invoices nothing is searched (a
    payer with that many open invoices is a case for a person), so at most 2**12 subsets are
    ever formed. Sums above ``amount`` are pruned as they appear.
    """
    if len(invoices) > MAX_COMBINATION_INVOICES:
        return []
    # Each sum keeps at most ``keep`` of the subsets reaching it, which still tells how many
    # (up to ``keep``) reach the amount; single invoices of the amount get room of their own.
    keep = limit + sum(1 for invoice in invoices if invoice.amount_due == amount)
    sums: dict[int, list[tuple[OpenInvoice, ...]]] = {0: [()]}
    for invoice in invoices:
        for total, subsets in list(sums.items()):
            new_total = total + invoice.amount_due
            if new_total <= amount:
                extended = sums.setdefault(new_total, [])
                extended += [(*subset, invoice) for subset in subsets][: keep - len(extended)]
    return [subset for subset in sums.get(amount, []) if len(subset) >= 2][:limit]


def _recognised_payers(line: _Line) -> dict[str, tuple[str, float, float]]:
    """Payers the sender is recognised as, with how: (reason, combined, single differs)."""
    by_iban = (
        "the sender's IBAN is known for this payer",
        COMBINATION_BY_IBAN,
        SINGLE_DIFFERS_BY_IBAN,
    )
    payers = dict.fromkeys(line.iban_payers, by_iban)
    for payer_id in line.index.payers_named(line.name) if line.name else ():
        how = ("the sender's name is the payer's", COMBINATION_BY_NAME, SINGLE_DIFFERS_BY_NAME)
        payers.setdefault(payer_id, how)
    return payers


def _by_combination(line: _Line) -> list[Suggestion]:
    """Exact sums of a recognised payer's invoices; failing those, a part or more of one.

    An exact sum is far more specific than a differing amount against a payer's only invoice,
    so the latter is suggested only when no recognised payer has an exact sum.
    """
    credit = line.credit
    sums, parts = [], []
    for payer_id, (how, combined, differs) in sorted(_recognised_payers(line).items()):
        invoices = line.index.of_payer(payer_id, credit.currency)
        reason = f"{how} ({invoices[0].payer_name})" if invoices else how
        if len(invoices) == 1 and invoices[0].amount_due != credit.amount:
            only = f"{reason}; invoice {invoices[0].number} is the payer's only open invoice"
            parts.append(_single(line, invoices[0], Rule.COMBINATION, (0, differs), only))
        for subset in exact_combinations(invoices, credit.amount):
            sums.append(_combined(line, subset, Rule.COMBINATION, combined, reason))
    return _one_or_ambiguous(sums or parts)


_RULES: tuple[Callable[[_Line], list[Suggestion]], ...] = (
    _by_reference,
    _by_invoice_number,
    _by_known_iban,
    _by_name_and_amount,
    _by_combination,
)


def _ranked(suggestions: Iterable[Suggestion]) -> tuple[Suggestion, ...]:
    """Best first, one suggestion per set of invoices, at most :data:`MAX_SUGGESTIONS`."""
    best: dict[frozenset[str], Suggestion] = {}
    for suggestion in sorted(suggestions, key=lambda s: -s.confidence):
        best.setdefault(suggestion.invoice_ids, suggestion)
    return tuple(best.values())[:MAX_SUGGESTIONS]


def decide(
    line: CreditLine,
    candidates: CandidateIndex,
    known_ibans: Mapping[str, frozenset[str]] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Match | SuspenseDecision:
    """Match ``line`` to open invoices, or send it to suspense with ranked suggestions.

    ``known_ibans`` comes from :func:`known_iban_index`. A rule decides when its best suggestion
    reaches ``threshold`` and every suggestion so far (its own and the stronger rules') pays the
    same invoices. A verified reference that no open invoice carries lets nothing decide.
    """
    payers = (known_ibans or {}).get(_compact_iban(line.counterparty_iban), frozenset())
    name = name_key(line.counterparty_name)
    context = _Line(line, candidates, payers, name, _found_references(line))
    blocked = _unresolved_reference(context)
    evidence: list[Suggestion] = []
    for rule in _RULES:
        evidence += rule(context)
        if not evidence or blocked:
            continue
        best = max(evidence, key=lambda s: s.confidence)
        agreed = all(s.invoice_ids == best.invoice_ids for s in evidence)
        if agreed and best.confidence >= threshold:
            return Match(best.rule, best.confidence, best.explanation, best.allocations)
    return SuspenseDecision(_suspense_reason(evidence, blocked, threshold), _ranked(evidence))


def _suspense_reason(evidence: Sequence[Suggestion], blocked: str | None, threshold: float) -> str:
    if blocked:
        return blocked
    if not evidence:
        return "no open invoice matches its reference, invoice number, IBAN, or name and amount"
    ranked = _ranked(evidence)
    if len(ranked) > 1:
        return f"{len(ranked)} candidates fit and none is certain"
    return f"the only candidate has confidence {ranked[0].confidence:.2f}, below {threshold:.2f}"

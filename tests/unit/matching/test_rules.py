"""Each matching rule, the ambiguities that must go to suspense, and the explanations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from paydue.domain.matching import (
    MAX_COMBINATION_INVOICES,
    MAX_SUGGESTIONS,
    Allocation,
    CandidateIndex,
    KnownIban,
    Match,
    OpenInvoice,
    Rule,
    SuspenseDecision,
    decide,
    exact_combinations,
    known_iban_index,
)
from paydue.domain.references import format_rf, rf_for_sequence
from tests.unit.matching.factories import credit, invoice

IBAN = "DE89 3704 0044 0532 0130 00"
RF42_COMPACT = rf_for_sequence(42)
RF42 = format_rf(RF42_COMPACT)  # "RF34 0000 0004 2"
RF43 = format_rf(rf_for_sequence(43))
OGM = "090933755493"
QRR = "210000000003139471430009017"


@dataclass
class Case:
    """A table row: open invoices, a credit line, and what decide() must answer."""

    invoices: list[OpenInvoice]
    line: dict[str, Any]
    rule: Rule | None  # None: suspense
    paid: dict[str, int] = field(default_factory=dict)  # invoice id -> allocated amount
    known: dict[str, str] = field(default_factory=dict)  # IBAN -> payer id


def _run(case: Case) -> Match | SuspenseDecision:
    facts = [KnownIban(iban, payer) for iban, payer in case.known.items()]
    return decide(credit(**case.line), CandidateIndex.build(case.invoices), known_iban_index(facts))


def _check(case: Case) -> Match | SuspenseDecision:
    decision = _run(case)
    if case.rule is None:
        assert isinstance(decision, SuspenseDecision), decision
    else:
        assert isinstance(decision, Match), decision
        assert decision.rule is case.rule
        assert dict(decision.allocations) == case.paid
    return decision


erika = {"payer_id": "erika", "payer_name": "Erika Mustermann"}

REFERENCE_CASES = {
    "RF in the structured reference": Case(
        [invoice(42), invoice(43)],
        {"structured_reference": RF42_COMPACT},
        Rule.REFERENCE,
        {"inv-42": 10000},
    ),
    "RF in the text, lower case and broken over a line": Case(
        [invoice(42)],
        {"remittance_text": f"zahlung {RF42[:9].lower()}\n{RF42[9:]}"},
        Rule.REFERENCE,
        {"inv-42": 10000},
    ),
    "RF with a partial payment": Case(
        [invoice(42)], {"amount": 4000, "remittance_text": RF42}, Rule.REFERENCE, {"inv-42": 4000}
    ),
    "RF in the end-to-end id": Case(
        [invoice(42)], {"end_to_end_id": RF42_COMPACT}, Rule.REFERENCE, {"inv-42": 10000}
    ),
    "OGM written as bare digits": Case(
        [invoice(7, reference=f"+++{OGM[:3]}/{OGM[3:7]}/{OGM[7:]}+++")],
        {"remittance_text": f"factuur {OGM}"},
        Rule.REFERENCE,
        {"inv-7": 10000},
    ),
    "Swiss QR reference grouped in the text": Case(
        [invoice(7, reference=QRR)],
        {"remittance_text": "Ref 21 00000 00003 13947 14300 09017"},
        Rule.REFERENCE,
        {"inv-7": 10000},
    ),
    "two references that add up": Case(
        [invoice(42), invoice(43, amount_due=2500)],
        {"amount": 12500, "remittance_text": f"{RF42} + {RF43}"},
        Rule.REFERENCE,
        {"inv-42": 10000, "inv-43": 2500},
    ),
    "two references that do not add up": Case(
        [invoice(42), invoice(43, amount_due=2500)],
        {"amount": 10000, "remittance_text": f"{RF42} + {RF43}"},
        None,
    ),
    "one reference on two invoices": Case(
        [invoice(42), invoice(43, reference=RF42_COMPACT)],
        {"structured_reference": RF42_COMPACT},
        None,
    ),
    "reference of an invoice in another currency": Case(
        [invoice(42, currency="CHF")], {"structured_reference": RF42_COMPACT}, None
    ),
    "verified RF of no open invoice blocks the weaker rules": Case(
        [invoice(43, **erika)],
        {"structured_reference": RF42_COMPACT, "counterparty_name": "Erika Mustermann"},
        None,
    ),
}

NUMBER_CASES = {
    "number as printed": Case(
        [invoice(42)],
        {"remittance_text": "Rechnung INV-2026-0042"},
        Rule.INVOICE_NUMBER,
        {"inv-42": 10000},
    ),
    "lower case, spaces, no leading zeros": Case(
        [invoice(42)], {"remittance_text": "inv 2026 42"}, Rule.INVOICE_NUMBER, {"inv-42": 10000}
    ),
    "letter O for zero, no separators": Case(
        [invoice(42)], {"remittance_text": "INV2026OO42"}, Rule.INVOICE_NUMBER, {"inv-42": 10000}
    ),
    "only as a whole token": Case(
        [invoice(42, number="4200")], {"remittance_text": "Kunde 142001"}, None
    ),
    "the longest number wins over one inside it": Case(
        [invoice(42, number="2026-0042"), invoice(43, number="0042")],
        {"remittance_text": "2026-0042"},
        Rule.INVOICE_NUMBER,
        {"inv-42": 10000},
    ),
    "two invoices with the same normalised number": Case(
        [invoice(42), invoice(43, number="inv 2026 42")], {"remittance_text": "INV-2026-0042"}, None
    ),
    "number found, different amount, nothing else": Case(
        [invoice(42)], {"amount": 5000, "remittance_text": "INV-2026-0042"}, None
    ),
    "number found, different amount, sender known by IBAN": Case(
        [invoice(42)],
        {"amount": 5000, "remittance_text": "INV-2026-0042", "counterparty_iban": IBAN},
        Rule.INVOICE_NUMBER,
        {"inv-42": 5000},
        known={IBAN: "payer-42"},
    ),
    "a mistyped number of another payer's invoice of the same amount": Case(
        [invoice(42, **erika), invoice(24, payer_name="Hans Meier")],
        {"remittance_text": "INV-2026-0024", "counterparty_name": "MUSTERMANN, ERIKA"},
        None,
    ),
    "the number of another payer's invoice, sender known by IBAN for a third": Case(
        [invoice(42), invoice(24)],
        {"remittance_text": "INV-2026-0042", "counterparty_iban": IBAN},
        None,
        known={IBAN: "payer-24"},
    ),
    "the number, paid from an account of another name nobody owes anything": Case(
        [invoice(42, **erika)],
        {"remittance_text": "INV-2026-0042", "counterparty_name": "Hans Meier"},
        Rule.INVOICE_NUMBER,
        {"inv-42": 10000},
    ),
    "two numbers that add up": Case(
        [invoice(42), invoice(43)],
        {"amount": 20000, "remittance_text": "INV-2026-0042, INV-2026-0043"},
        Rule.INVOICE_NUMBER,
        {"inv-42": 10000, "inv-43": 10000},
    ),
}

IBAN_AND_NAME_CASES = {
    "known IBAN, the payer's only invoice of this amount": Case(
        [invoice(1, **erika), invoice(2, **erika, amount_due=5000)],
        {"amount": 5000, "counterparty_iban": IBAN.replace(" ", "")},
        Rule.KNOWN_IBAN,
        {"inv-2": 5000},
        known={IBAN: "erika"},
    ),
    "known IBAN, two invoices of this amount": Case(
        [invoice(1, **erika), invoice(2, **erika)],
        {"counterparty_iban": IBAN},
        None,
        known={IBAN: "erika"},
    ),
    "name reversed and upper case": Case(
        [invoice(1, **erika), invoice(2)],
        {"counterparty_name": "MUSTERMANN, ERIKA"},
        Rule.NAME_AND_AMOUNT,
        {"inv-1": 10000},
    ),
    "umlaut spelled out by the bank": Case(
        [invoice(1, payer_name="Jürgen Müller")],
        {"counterparty_name": "JUERGEN MUELLER"},
        Rule.NAME_AND_AMOUNT,
        {"inv-1": 10000},
    ),
    "name with a typo": Case(
        [invoice(1, **erika)],
        {"counterparty_name": "Erika Musterman"},
        Rule.NAME_AND_AMOUNT,
        {"inv-1": 10000},
    ),
    "two payers with nearly the same name and amount": Case(
        [invoice(1, **erika), invoice(2, payer_name="Erik Mustermann")],
        {"counterparty_name": "Erika Mustermann"},
        None,
    ),
    "payer owes the amount twice": Case(
        [invoice(1, **erika), invoice(2, **erika)], {"counterparty_name": "Erika Mustermann"}, None
    ),
    "name does not resemble": Case(
        [invoice(1, **erika)], {"counterparty_name": "Hans Meier"}, None
    ),
    "invoice number of one invoice, IBAN and amount of another": Case(
        [invoice(1, **erika), invoice(2, amount_due=5000)],
        {"remittance_text": "INV-2026-0002", "counterparty_iban": IBAN},
        None,
        known={IBAN: "erika"},
    ),
}

COMBINATION_CASES = {
    "one transfer for two invoices of a payer known by IBAN": Case(
        [
            invoice(1, **erika),
            invoice(2, **erika, amount_due=2550),
            invoice(3, **erika, amount_due=999),
        ],
        {"amount": 12550, "counterparty_iban": IBAN},
        Rule.COMBINATION,
        {"inv-1": 10000, "inv-2": 2550},
        known={IBAN: "erika"},
    ),
    "one transfer for two invoices of a payer known by name": Case(
        [invoice(1, **erika), invoice(2, **erika, amount_due=2550)],
        {"amount": 12550, "counterparty_name": "ERIKA MUSTERMANN"},
        Rule.COMBINATION,
        {"inv-1": 10000, "inv-2": 2550},
    ),
    "two different sets add up": Case(
        [invoice(1, **erika), invoice(2, **erika), invoice(3, **erika, amount_due=20000)],
        {"amount": 30000, "counterparty_iban": IBAN},
        None,
        known={IBAN: "erika"},
    ),
    "partial payment of the payer's only open invoice": Case(
        [invoice(1, **erika)],
        {"amount": 3000, "counterparty_iban": IBAN},
        None,
        known={IBAN: "erika"},
    ),
    "nothing at all": Case([invoice(1)], {"amount": 1}, None),
}


@pytest.mark.parametrize("case", REFERENCE_CASES.values(), ids=REFERENCE_CASES.keys())
def test_reference_rule(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", NUMBER_CASES.values(), ids=NUMBER_CASES.keys())
def test_invoice_number_rule(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", IBAN_AND_NAME_CASES.values(), ids=IBAN_AND_NAME_CASES.keys())
def test_known_iban_and_name_rules(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", COMBINATION_CASES.values(), ids=COMBINATION_CASES.keys())
def test_combination_rule(case: Case) -> None:
    _check(case)


def test_explanation_of_a_reference_match() -> None:
    reference = "RF18539007547034"
    index = CandidateIndex.build([invoice(1, number="2026-0042", reference=reference)])
    decision = decide(credit(structured_reference=reference), index)
    assert isinstance(decision, Match)
    assert decision.confidence == 1.0
    assert decision.explanation == (
        "RF18 5390 0754 7034 in the structured reference equals invoice 2026-0042;"
        " the amount 100.00 EUR equals the amount due"
    )


@pytest.mark.parametrize(
    ("amount", "ending"),
    [
        (4000, "40.00 EUR received against 100.00 EUR due: partial payment"),
        (10500, "105.00 EUR received against 100.00 EUR due: over-payment of 5.00 EUR"),
    ],
)
def test_a_reference_with_another_amount_matches_with_lower_confidence(
    amount: int, ending: str
) -> None:
    index = CandidateIndex.build([invoice(42)])
    decision = decide(credit(amount, remittance_text=RF42), index)
    assert isinstance(decision, Match)
    assert decision.confidence < 0.99
    assert decision.explanation.endswith(ending)
    assert decision.allocations == (Allocation("inv-42", amount),)


def test_a_blocking_reference_is_named_in_the_suspense_reason() -> None:
    decision = _run(REFERENCE_CASES["verified RF of no open invoice blocks the weaker rules"])
    assert isinstance(decision, SuspenseDecision)
    assert decision.reason == f"the structured reference carries {RF42}, which no open invoice has"
    assert decision.suggestions[0].invoice_ids == {"inv-43"}


def test_an_uncertain_candidate_is_suggested_and_a_lower_threshold_applies_it() -> None:
    case = COMBINATION_CASES["partial payment of the payer's only open invoice"]
    decision = _run(case)
    assert isinstance(decision, SuspenseDecision)
    (suggestion,) = decision.suggestions
    assert suggestion.allocations == (Allocation("inv-1", 3000),)
    assert "partial payment" in suggestion.explanation
    facts = known_iban_index([KnownIban(IBAN, "erika")])
    index = CandidateIndex.build(case.invoices)
    assert isinstance(decide(credit(**case.line), index, facts, threshold=0.6), Match)


def test_suggestions_are_ranked_and_at_most_five() -> None:
    invoices = [invoice(n, payer_name="Erika Mustermann") for n in range(1, 9)]
    decision = decide(credit(counterparty_name="Erika Mustermann"), CandidateIndex.build(invoices))
    assert isinstance(decision, SuspenseDecision)
    assert len(decision.suggestions) == MAX_SUGGESTIONS
    confidences = [s.confidence for s in decision.suggestions]
    assert confidences == sorted(confidences, reverse=True)


def test_nothing_found_says_so() -> None:
    decision = _run(COMBINATION_CASES["nothing at all"])
    assert isinstance(decision, SuspenseDecision)
    assert decision.suggestions == ()
    assert decision.reason.startswith("no open invoice matches")


def _invoices(amounts: list[int]) -> list[OpenInvoice]:
    return [invoice(n, amount_due=amount) for n, amount in enumerate(amounts, start=1)]


def test_subset_sum_is_searched_up_to_the_bound_and_not_beyond() -> None:
    amounts = [2**n for n in range(MAX_COMBINATION_INVOICES)]
    target = sum(amounts)
    (found,) = exact_combinations(_invoices(amounts), target)
    assert len(found) == MAX_COMBINATION_INVOICES
    assert exact_combinations(_invoices([*amounts, 2**20]), target) == []


def test_subset_sum_reports_a_second_set_even_when_an_invoice_alone_has_the_amount() -> None:
    invoices = _invoices([100, 50, 50, 60, 40])
    found = exact_combinations(invoices, 100)
    assert len(found) == 2
    assert all(len(subset) >= 2 for subset in found)

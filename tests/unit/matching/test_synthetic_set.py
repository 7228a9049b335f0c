"""A labelled synthetic statement: automatic matches must all be right; recall is measured.

500 open invoices of 250 payers and 500 credit lines the way payers really pay: references
retyped with spaces and lower case, invoice numbers without leading zeros or with O for 0,
typos that point at a neighbouring invoice, names reversed or spelled without umlauts, one
transfer for two invoices, partial payments, and money that belongs to no invoice at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from paydue.domain.matching import (
    CandidateIndex,
    CreditLine,
    KnownIban,
    Match,
    OpenInvoice,
    decide,
    known_iban_index,
)
from paydue.domain.references import format_rf, rf_for_sequence
from tests.unit.matching.factories import credit, invoice

RECALL_FLOOR = 0.60  # measured 0.638 on this seed (many lines are meant to stay uncertain)

FIRST = ["Erika", "Jürgen", "Anna", "Max", "Sören", "Chloé", "Lukas", "Zoë", "Paul", "Greta"]
LAST = ["Mustermann", "Müller", "Schröder", "Dupré", "Janssens", "Weiß", "Peeters", "Keller"]
LAST += ["Öztürk", "Van den Berg", "Fischer", "Nowak", "Rossi", "Meier", "Bäcker", "Vogel"]


@dataclass(frozen=True)
class Labelled:
    line: CreditLine
    pays: frozenset[str]  # invoice ids a person would allocate it to; empty: none


def _bank_name(rng: random.Random, name: str) -> str:
    """How a bank prints the sender: reversed, upper case, umlauts spelled out, a typo."""
    first, last = name.split(" ", 1)
    folded = name.translate(str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "Ö": "Oe"}))
    options = [name, f"{last}, {first}", name.upper(), folded.upper(), f"{last.upper()} {first}"]
    chosen = rng.choice(options)
    if rng.random() < 0.2:  # drop one letter
        cut = rng.randrange(1, len(chosen))
        chosen = chosen[: cut - 1] + chosen[cut:]
    return chosen


def _number_as_typed(rng: random.Random, seq: int) -> str:
    return rng.choice(
        [
            f"INV-2026-{seq:04d}",
            f"inv 2026 {seq}",
            f"INV2026{seq:04d}".replace("0", "O"),
            f"Rg. INV/2026/{seq}",
        ]
    )


def _rf_as_typed(rng: random.Random, seq: int) -> str:
    printed = format_rf(rf_for_sequence(seq))
    return rng.choice(
        [printed, printed.lower(), printed.replace(" ", ""), printed.replace(" ", "\n", 1)]
    )


def _neighbour_number(inv: OpenInvoice, invoices: list[OpenInvoice]) -> str:
    """The number of the next invoice that is due another amount (one digit off, mostly).

    A neighbour due the same amount is skipped: a person could not tell that payment from a
    correct one either, so it has no right answer to label.
    """
    seq = int(inv.id[4:])
    neighbours = invoices[seq:] + invoices[: seq - 1]
    return next(n.number for n in neighbours if n.amount_due != inv.amount_due)


def _build(seed: int = 2026) -> tuple[list[OpenInvoice], list[Labelled], dict[str, str]]:
    rng = random.Random(seed)
    payers = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(250)]
    invoices = []
    for seq in range(1, 501):
        payer = rng.randrange(250) if seq > 250 else seq - 1  # every payer owes at least once
        amount = (
            rng.choice([4900, 9900, 12000]) if rng.random() < 0.3 else rng.randrange(500, 50000)
        )
        invoices.append(
            invoice(seq, payer_id=f"p{payer}", payer_name=payers[payer], amount_due=amount)
        )
    ibans = {f"DE{n:020d}": f"p{n}" for n in range(0, 250, 3)}
    by_payer: dict[str, list[OpenInvoice]] = {}
    for inv in invoices:
        by_payer.setdefault(inv.payer_id, []).append(inv)
    unused = list(invoices)
    rng.shuffle(unused)
    lines: list[Labelled] = []

    def iban_of(inv: OpenInvoice) -> str:
        return next((iban for iban, payer in ibans.items() if payer == inv.payer_id), "DE99")

    makers: list[Callable[[OpenInvoice], Labelled]] = [
        lambda inv: Labelled(
            credit(inv.amount_due, structured_reference=inv.reference), frozenset({inv.id})
        ),
        lambda inv: Labelled(
            credit(
                rng.choice([inv.amount_due, inv.amount_due // 2]),
                remittance_text=f"Zahlung {_rf_as_typed(rng, int(inv.id[4:]))} danke",
            ),
            frozenset({inv.id}),
        ),
        lambda inv: Labelled(
            credit(inv.amount_due, remittance_text=_number_as_typed(rng, int(inv.id[4:]))),
            frozenset({inv.id}),
        ),
        lambda inv: Labelled(  # typo: the neighbouring invoice's number, this invoice's amount
            credit(inv.amount_due, remittance_text=_neighbour_number(inv, invoices)),
            frozenset({inv.id}),
        ),
        lambda inv: Labelled(
            credit(inv.amount_due, counterparty_iban=iban_of(inv), counterparty_name="X"),
            frozenset({inv.id}),
        ),
        lambda inv: Labelled(
            credit(inv.amount_due, counterparty_name=_bank_name(rng, inv.payer_name)),
            frozenset({inv.id}),
        ),
        lambda inv: Labelled(  # partial payment with only the name: not certain
            credit(inv.amount_due - 100, counterparty_name=_bank_name(rng, inv.payer_name)),
            frozenset({inv.id}),
        ),
    ]
    while len(lines) < 500 and unused:
        inv = unused.pop()
        kind = rng.random()
        if kind < 0.12:  # money for nothing open: a refund, a donation, another creditor
            lines.append(
                Labelled(
                    credit(
                        rng.randrange(100, 90000),
                        counterparty_name=_bank_name(rng, "Hans Niemand"),
                        remittance_text=f"RF{rng.randrange(10, 99)} {rng.randrange(10**8)}",
                    ),
                    frozenset(),
                )
            )
            unused.append(inv)
            continue
        mates = [m for m in by_payer[inv.payer_id] if m is not inv and m in unused]
        if kind < 0.22 and mates:  # one transfer for two invoices
            mate = mates[0]
            unused.remove(mate)
            sender = {
                "counterparty_name": _bank_name(rng, inv.payer_name),
                "counterparty_iban": iban_of(inv),
            }
            line = credit(inv.amount_due + mate.amount_due, **sender)
            lines.append(Labelled(line, frozenset({inv.id, mate.id})))
            continue
        lines.append(rng.choice(makers)(inv))
    return invoices, lines, ibans


def test_automatic_matches_are_all_right_and_recall_is_measured() -> None:
    invoices, lines, ibans = _build()
    index = CandidateIndex.build(invoices)
    facts = known_iban_index(KnownIban(iban, payer) for iban, payer in ibans.items())
    matched = wrong = 0
    wrong_examples = []
    for labelled in lines:
        decision = decide(labelled.line, index, facts)
        if isinstance(decision, Match):
            matched += 1
            if frozenset(a.invoice_id for a in decision.allocations) != labelled.pays:
                wrong += 1
                wrong_examples.append((labelled, decision))
    matchable = sum(1 for labelled in lines if labelled.pays)
    precision = (matched - wrong) / matched
    recall = (matched - wrong) / matchable
    print(
        f"\nsynthetic set: {len(lines)} lines, {matchable} matchable, {matched} matched"
        f" automatically, precision {precision:.3f}, recall {recall:.3f}"
    )
    assert wrong_examples == []
    assert recall >= RECALL_FLOOR

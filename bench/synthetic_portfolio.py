"""A labelled synthetic portfolio: invoices, and camt.053 statements that pay them noisily.

Importable and deterministic by seed::

    from bench.synthetic_portfolio import generate
    portfolio = generate(invoices=10_000, seed=2026)
    portfolio.invoices          # what to create, in order (the k-th gets rf_for_sequence(k))
    portfolio.statement_files() # camt.053 files, oldest first
    portfolio.lines             # every line of every file with the truth it carries

Run as a script it prints the mix of line kinds (``python bench/synthetic_portfolio.py``).

The issuer's invoices are numbered ``RE-2026-000042`` and carry the RF reference paydue gives
the issuer's k-th invoice (:func:`paydue.domain.references.rf_for_sequence`), so invoices must
be created in the order given, on a fresh issuer. Payers have names in German, French, Dutch,
Italian, Spanish, Polish, Turkish and Scandinavian languages (people and companies) and one
IBAN each. Each line carries its truth (:class:`Line`): the invoice numbers a person would
allocate it to (empty for money that pays none), the bank reference of the credit a return
takes back, and whether it is a copy of a line of an earlier file (overlapping statements).

The kinds of line (:data:`KINDS`), in the proportions of :data:`PAYMENT_MIX` among paid
invoices:

``rf_exact``     the RF in the structured field (compact or in print form)
``rf_text``      the RF inside the free text: lower case, spaces moved or dropped, broken
                 over a line or over two ``Ustrd`` elements
``rf_typo``      the RF with one wrong digit (fails its check digits; the payer's name and the
                 exact amount are still there)
``number``       the invoice number in the text: case, dashes, spaces, slashes, leading zeros
                 dropped, O for 0, separators dropped, surrounded by words
``number_typo``  the invoice number with two digits swapped or one digit wrong (it may be
                 another open invoice's number), the exact amount and the payer's name
``name_only``    no reference at all: the payer's name (other order, upper case, accents
                 dropped or spelled out) and the exact amount
``iban_only``    no reference and another name (a spouse, a company account), from the IBAN
                 the payer paid from in an earlier file
``combined``     one transfer for two or three invoices of one payer: numbers, RFs or nothing
``partial``      30 to 90 % of the amount, with the RF or the number
``over``         the amount plus a little, with the RF

and lines that pay no invoice: ``unrelated`` (refunds, interest, tax, rent, with reference-like
noise), ``payout`` (a payment provider's lump sum net of fees), ``return`` (a debit returning a
credit of an earlier file, with SEPA reason code and the original end-to-end id) and
``duplicate`` (an exact copy of a line of the previous file).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from paydue.domain.references import format_rf, rf_for_sequence

ISSUER_IBAN = "DE89370400440532013000"
FIRST_DAY = date(2026, 11, 2)
NUMBER_PREFIX = "RE-2026-"

PAYMENT_MIX: dict[str, float] = {
    "rf_exact": 0.44,
    "rf_text": 0.14,
    "rf_typo": 0.03,
    "number": 0.12,
    "number_typo": 0.02,
    "name_only": 0.08,
    "iban_only": 0.03,
    "combined": 0.06,
    "partial": 0.05,
    "over": 0.03,
}
PAID_SHARE = 0.85  # invoices that receive money in the statements
UNRELATED_SHARE = 0.04  # lines that pay no invoice, per invoice
PAYOUT_SHARE = 0.005
RETURN_SHARE = 0.01  # of credit lines of earlier files
DUPLICATE_SHARE = 0.02  # of the lines of a file, repeated in the next one
KINDS = (*PAYMENT_MIX, "unrelated", "payout", "return", "duplicate")
TARIFFS = (990, 1990, 2990, 4900, 9900, 12000, 4590, 3500)  # common monthly amounts

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (
        ("Jürgen", "Erika", "Sören", "Jörg", "Käthe", "Lukas", "Anna", "Max", "Günther", "Ute"),
        ("Müller", "Schröder", "Weiß", "Bäcker", "Groß", "Köhler", "Fischer", "Krüger", "Vogel"),
    ),
    "fr": (
        ("Chloé", "Hélène", "François", "Jérôme", "Zoé", "Benoît", "Céline", "Gaëlle", "Loïc"),
        ("Dupré", "Lefèvre", "Bérénger", "Girard", "Moreau", "Noël", "Rousseau", "Lemaître"),
    ),
    "nl": (
        ("Sven", "Marieke", "Joost", "Anouk", "Pieter", "Femke", "Daan", "Ilse", "Bram"),
        ("van den Berg", "de Vries", "Janssens", "Peeters", "van Dijk", "Bakker", "de Smet"),
    ),
    "it": (
        ("Niccolò", "Giulia", "Lorenzo", "Chiara", "Matteo", "Francesca", "Luca", "Sofia"),
        ("Rossi", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino"),
    ),
    "es": (
        ("José", "María", "Ángel", "Lucía", "Iñigo", "Begoña", "Raúl", "Inés"),
        ("García", "Fernández", "Martínez", "López", "Núñez", "Peña", "Gómez", "Muñoz"),
    ),
    "pl": (
        ("Łukasz", "Małgorzata", "Paweł", "Agnieszka", "Michał", "Zofia", "Kasia"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński"),
    ),
    "tr": (
        ("Ayşe", "Mehmet", "Çağla", "Gökhan", "Şule", "Emre", "Özge"),
        ("Öztürk", "Y\u0131lmaz", "Şahin", "Çelik", "Doğan", "Ayd\u0131n", "K\u0131l\u0131\u00e7"),
    ),
    "nordic": (
        ("Åsa", "Björn", "Søren", "Astrid", "Mikkel", "Ingrid", "Lars"),
        ("Ångström", "Johansson", "Sørensen", "Lindqvist", "Østergaard", "Nyström"),
    ),
}
_COMPANY_WORDS = ("Bäckerei", "Café", "Atelier", "Studio", "Garage", "Praxis", "Boulangerie")
_COMPANY_FORMS = ("GmbH", "SARL", "B.V.", "S.r.l.", "S.L.", "Sp. z o.o.", "AB", "e.K.")
_SPELLED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe"})
_SPELLED_MORE = str.maketrans({"Ü": "Ue", "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa"})
_WORDS_BEFORE = ("Rechnung", "Rg.", "Facture", "Factuur", "Fattura", "Invoice", "Zahlung")
_UNRELATED_NAMES = (
    "Finanzamt Köln-Mitte",
    "Stadtwerke Musterstadt",
    "Allianz Versicherungs-AG",
    "Hans Niemand",
    "Amazon Payments Europe",
    "Deutsche Telekom AG",
    "Zalando SE",
    "Commerzbank AG",
)
_UNRELATED_TEXTS = (
    "Erstattung Steuer 2025 StNr 123/456/78901",
    "Gutschrift Bestellung 304-8824179-2211445",
    "Zinsen 01.10.-31.10.2026",
    "Miete November Whg 12",
    "Rückerstattung Kundennr 48213",
    "RF{a} {b} Erstattung",
    "Spende",
    "Bonus Q3",
)


@dataclass(frozen=True, slots=True)
class Payer:
    ref: str
    name: str
    iban: str
    language: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """The ``seq``-th invoice of the issuer; paydue gives it :attr:`reference`."""

    seq: int
    number: str
    payer: Payer
    amount: int
    issue_date: date
    due_date: date

    @property
    def reference(self) -> str:
        return rf_for_sequence(self.seq)


@dataclass(frozen=True, slots=True)
class Line:
    """One booked entry of a statement with its truth."""

    bank_ref: str  # AcctSvcrRef, unique per movement (a duplicate shares its original's)
    kind: str
    amount: int  # minor units, negative for a debit
    booked: date
    name: str = ""
    iban: str = ""
    structured: str = ""
    texts: tuple[str, ...] = ()  # Ustrd elements
    e2e: str = "NOTPROVIDED"
    return_reason: str = ""
    pays: frozenset[str] = frozenset()  # invoice numbers this credit pays
    returns: str | None = None  # bank_ref of the credit a return takes back
    duplicate: bool = False
    file: int = 0


@dataclass
class Portfolio:
    invoices: list[Invoice]
    files: list[list[Line]] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for lines in self.files for line in lines]

    def statement_files(self) -> list[bytes]:
        """One camt.053.001.02 file per day, oldest first."""
        return [camt053(lines, statement_id=f"SYN-{n:03d}") for n, lines in enumerate(self.files)]

    def kinds(self) -> Counter[str]:
        return Counter(line.kind for line in self.lines)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u0131", "i")


def bank_name(rng: random.Random, name: str) -> str:
    """How the payer's bank prints the name: other order, case, accents dropped or spelled out."""
    words = name.split(" ")
    first, last = words[0], " ".join(words[1:])
    options = [
        name,
        f"{last}, {first}",
        f"{last} {first}".upper(),
        _strip_accents(name),
        _strip_accents(name).upper(),
        name.translate(_SPELLED).translate(_SPELLED_MORE),
        f"{last.translate(_SPELLED)}, {first.translate(_SPELLED)}".upper(),
    ]
    if name.endswith(_COMPANY_FORMS):
        options = [name, name.upper(), _strip_accents(name).upper(), name.replace(".", "")]
    chosen = rng.choice(options)
    if rng.random() < 0.1:  # a letter lost on the way
        cut = rng.randrange(1, len(chosen))
        chosen = chosen[: cut - 1] + chosen[cut:]
    return chosen


def number_as_typed(rng: random.Random, number: str) -> str:
    """``RE-2026-000042`` the way a payer retypes it."""
    prefix, year, digits = number.split("-")
    short = digits.lstrip("0") or "0"
    forms = [
        number,
        number.lower(),
        f"{prefix} {year} {digits}",
        f"{prefix}{year}{digits}",
        f"{prefix}-{year}-{short}",
        f"{prefix.lower()} {year} {short}",
        f"{prefix}/{year}/{digits}",
        number.replace("0", "O"),
        f"{prefix} {year.replace('0', 'O')}-{digits}",
    ]
    typed = rng.choice(forms)
    return rng.choice(
        [typed, f"{rng.choice(_WORDS_BEFORE)} {typed}", f"{rng.choice(_WORDS_BEFORE)} Nr. {typed}"]
    )


def rf_as_typed(rng: random.Random, reference: str) -> str:
    printed = format_rf(reference)
    return rng.choice(
        [
            printed,
            printed.lower(),
            reference,
            reference.lower(),
            printed.replace(" ", "", 2),
            printed.replace(" ", "\n", 1),
            " ".join(reference[i : i + 2] for i in range(0, len(reference), 2)),
        ]
    )


def rf_with_typo(rng: random.Random, reference: str) -> str:
    """``reference`` with one digit changed: its check digits no longer verify."""
    positions = [i for i, c in enumerate(reference) if c.isdigit()]
    at = rng.choice(positions)
    wrong = rng.choice([d for d in "0123456789" if d != reference[at]])
    return reference[:at] + wrong + reference[at + 1 :]


def number_with_typo(rng: random.Random, number: str) -> str:
    """``number`` with two neighbouring digits of its serial swapped, or one digit wrong."""
    prefix, year, digits = number.split("-")
    at = rng.randrange(len(digits) - 1)
    if rng.random() < 0.5 and digits[at] != digits[at + 1]:
        digits = digits[:at] + digits[at + 1] + digits[at] + digits[at + 2 :]
    else:
        at = rng.randrange(len(digits) - 3, len(digits))
        digits = (
            digits[:at]
            + rng.choice([d for d in "0123456789" if d != digits[at]])
            + digits[at + 1 :]
        )
    return f"{prefix}-{year}-{digits}"


def _iban(rng: random.Random, n: int) -> str:
    country = rng.choice(["DE", "FR", "NL", "BE", "IT", "ES", "AT"])
    return f"{country}{n % 89 + 10:02d}{rng.randrange(10**12, 10**13)}{n:08d}"


def _payers(rng: random.Random, count: int) -> list[Payer]:
    payers = []
    for n in range(1, count + 1):
        language = rng.choice(list(_NAMES))
        firsts, lasts = _NAMES[language]
        if rng.random() < 0.1:
            name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(lasts)} {rng.choice(_COMPANY_FORMS)}"
        elif rng.random() < 0.1:  # a double first name
            name = f"{rng.choice(firsts)}-{rng.choice(firsts)} {rng.choice(lasts)}"
        else:
            name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        payers.append(Payer(f"K-{n:07d}", name, _iban(rng, n), language))
    return payers


def _invoices(rng: random.Random, count: int) -> list[Invoice]:
    payers = _payers(rng, max(1, int(count * 0.7)))
    invoices = []
    for seq in range(1, count + 1):
        # the first invoices give every payer one; the rest go to payers already known
        payer = payers[seq - 1] if seq <= len(payers) else rng.choice(payers)
        if rng.random() < 0.3:
            amount = rng.choice(TARIFFS)
        else:
            amount = int(rng.lognormvariate(9.3, 0.9)) + 100  # mostly 20 € to 500 €
        issued = FIRST_DAY - timedelta(days=rng.randrange(10, 60))
        invoices.append(
            Invoice(
                seq,
                f"{NUMBER_PREFIX}{seq:06d}",
                payer,
                amount,
                issued,
                issued + timedelta(days=14),
            )
        )
    return invoices


class _Builder:
    def __init__(self, rng: random.Random, invoices: list[Invoice], days: int) -> None:
        self.rng = rng
        self.invoices = invoices
        self.days = days
        self.serial = 0
        self.files: list[list[Line]] = [[] for _ in range(days)]
        self.taught: dict[str, int] = {}  # payer ref -> first file whose line names its IBAN

    def ref(self) -> str:
        self.serial += 1
        return f"SYN{self.serial:08d}"

    def e2e(self) -> str:
        if self.rng.random() < 0.4:
            return "NOTPROVIDED"
        return f"E2E-{self.rng.randrange(16**12):012X}"

    def add(self, day: int, line: Line) -> None:
        self.files[day].append(replace(line, booked=FIRST_DAY + timedelta(days=day), file=day))

    def credit(self, day: int, kind: str, amount: int, payer: Payer, **fields: object) -> None:
        line = Line(
            self.ref(),
            kind,
            amount,
            FIRST_DAY,
            name=bank_name(self.rng, payer.name),
            iban=payer.iban,
            e2e=self.e2e(),
            **fields,  # type: ignore[arg-type]
        )
        self.add(day, line)
        self.taught.setdefault(payer.ref, day)


def _text(rng: random.Random, inner: str) -> tuple[str, ...]:
    """Free text around ``inner``, sometimes split over two ``Ustrd`` elements."""
    before = rng.choice(["", "Zahlung ", "Payment ", "Betaling ", "Pagamento ", "Kd 48213 "])
    after = rng.choice(["", " danke", " merci", " Vielen Dank!", " SEPA-Überweisung"])
    text = f"{before}{inner}{after}"
    spaces = [i for i, c in enumerate(text) if c == " "]
    if spaces and rng.random() < 0.2:  # two Ustrd elements, split where the payer had a space
        cut = rng.choice(spaces)
        return (text[:cut], text[cut + 1 :])
    return (text,)


def _pay(b: _Builder, kind: str, invoice: Invoice, day: int, mates: list[Invoice]) -> bool:
    """Add the line of ``kind`` paying ``invoice``; False when the kind does not fit it."""
    rng, payer = b.rng, invoice.payer
    pays = frozenset({invoice.number})
    if kind == "rf_exact":
        structured = rng.choice([invoice.reference, format_rf(invoice.reference)])
        b.credit(day, kind, invoice.amount, payer, structured=structured, pays=pays)
    elif kind == "rf_text":
        texts = _text(rng, rf_as_typed(rng, invoice.reference))
        b.credit(day, kind, invoice.amount, payer, texts=texts, pays=pays)
    elif kind == "rf_typo":
        wrong = rf_with_typo(rng, invoice.reference)
        if rng.random() < 0.5:
            b.credit(day, kind, invoice.amount, payer, structured=wrong, pays=pays)
        else:
            texts = _text(rng, format_rf(wrong))
            b.credit(day, kind, invoice.amount, payer, texts=texts, pays=pays)
    elif kind == "number":
        texts = _text(rng, number_as_typed(rng, invoice.number))
        b.credit(day, kind, invoice.amount, payer, texts=texts, pays=pays)
    elif kind == "number_typo":
        texts = _text(rng, number_with_typo(rng, invoice.number))
        b.credit(day, kind, invoice.amount, payer, texts=texts, pays=pays)
    elif kind == "name_only":
        purpose = rng.choice(["", "", "Abschlag", "Monatsbeitrag", "Beitrag November"])
        texts = (purpose,) if purpose else ()
        b.credit(day, kind, invoice.amount, payer, texts=texts, pays=pays)
    elif kind == "iban_only":
        first = b.taught.get(payer.ref)
        if first is None or first >= day:
            return False
        other = rng.choice(["Mitglied", "Haushalt", "Familie"]) + " " + payer.name.split(" ")[-1]
        line = Line(
            b.ref(), kind, invoice.amount, FIRST_DAY, name=other, iban=payer.iban, pays=pays
        )
        b.add(day, line)
    elif kind == "combined":
        if not mates:
            return False
        group = [invoice, *mates[: rng.choice([1, 1, 2])]]
        how = rng.random()
        if how < 0.45:
            inner = ", ".join(number_as_typed(rng, i.number) for i in group)
        elif how < 0.8:
            inner = " ".join(format_rf(i.reference) for i in group)
        else:
            inner = ""
        texts = _text(rng, inner) if inner else ()
        numbers = frozenset(i.number for i in group)
        b.credit(day, kind, sum(i.amount for i in group), payer, texts=texts, pays=numbers)
        for mate in group[1:]:
            mates.remove(mate)
    elif kind == "partial":
        amount = max(1, invoice.amount * rng.randrange(30, 91) // 100)
        if rng.random() < 0.6:
            b.credit(day, kind, amount, payer, structured=invoice.reference, pays=pays)
        else:
            texts = _text(rng, number_as_typed(rng, invoice.number))
            b.credit(day, kind, amount, payer, texts=texts, pays=pays)
    elif kind == "over":
        amount = invoice.amount + rng.choice([1, 50, 100, 500, invoice.amount // 10 + 1])
        b.credit(day, kind, amount, payer, structured=invoice.reference, pays=pays)
    else:  # pragma: no cover
        raise ValueError(kind)
    return True


def _unrelated(b: _Builder, day: int) -> None:
    rng = b.rng
    text = rng.choice(_UNRELATED_TEXTS).format(
        a=rng.randrange(10, 99), b=rng.randrange(10**8, 10**9)
    )
    amount = rng.choice([rng.randrange(100, 200_000), rng.choice(TARIFFS) + rng.randrange(1, 9)])
    line = Line(
        b.ref(),
        "unrelated",
        amount,
        FIRST_DAY,
        name=rng.choice(_UNRELATED_NAMES),
        iban=_iban(rng, 90_000_000 + b.serial),
        texts=(text,),
        e2e=b.e2e(),
    )
    b.add(day, line)


def _payout(b: _Builder, day: int) -> None:
    rng = b.rng
    gross = sum(rng.choice(TARIFFS) for _ in range(rng.randrange(5, 60)))
    net = gross - gross * 14 // 1000 - 25 * rng.randrange(5, 60)
    provider = rng.choice(
        [
            ("Stripe Payments Europe Ltd", "STRIPE PAYOUT po_{x}"),
            ("Mollie B.V.", "Mollie payout st_{x}"),
            ("Adyen N.V.", "Adyen settlement batch {x}"),
        ]
    )
    line = Line(
        b.ref(),
        "payout",
        net,
        FIRST_DAY,
        name=provider[0],
        iban="NL" + f"{rng.randrange(10**15, 10**16)}",
        texts=(provider[1].format(x=f"{rng.randrange(16**14):014x}"),),
        e2e=b.e2e(),
    )
    b.add(day, line)


def _returns(b: _Builder, day: int) -> None:
    """Debits in ``day``'s file returning credits of earlier files that carried an e2e id."""
    rng = b.rng
    earlier = [
        line
        for lines in b.files[:day]
        for line in lines
        if line.amount > 0 and not line.duplicate and line.pays and line.e2e != "NOTPROVIDED"
    ]
    wanted = int(len([ln for ln in b.files[day - 1] if ln.amount > 0]) * RETURN_SHARE) + 1
    for original in rng.sample(earlier, min(wanted, len(earlier))):
        if any(line.returns == original.bank_ref for lines in b.files for line in lines):
            continue
        reason = rng.choice(["AC04", "AC06", "MD07", "AM04", "MS03"])
        line = Line(
            b.ref(),
            "return",
            -original.amount,
            FIRST_DAY,
            name=original.name,
            iban=original.iban,
            texts=(f"RETOURE {reason} {original.texts[0] if original.texts else ''}".strip(),),
            e2e=original.e2e,
            return_reason=reason,
            returns=original.bank_ref,
        )
        b.add(day, line)


def generate(invoices: int = 10_000, seed: int = 2026, days: int = 5) -> Portfolio:
    """The portfolio of ``invoices`` invoices and ``days`` daily camt.053 files."""
    rng = random.Random(seed)
    made = _invoices(rng, invoices)
    b = _Builder(rng, made, days)
    open_by_payer: dict[str, list[Invoice]] = {}
    for invoice in made:
        open_by_payer.setdefault(invoice.payer.ref, []).append(invoice)
    to_pay = [invoice for invoice in made if rng.random() < PAID_SHARE]
    rng.shuffle(to_pay)
    kinds, weights = list(PAYMENT_MIX), list(PAYMENT_MIX.values())
    paid: set[str] = set()
    for position, invoice in enumerate(to_pay):
        if invoice.number in paid:
            continue
        day = position * days // len(to_pay)
        mates = [
            i for i in open_by_payer[invoice.payer.ref] if i is not invoice and i.number not in paid
        ]
        kind = rng.choices(kinds, weights)[0]
        if not _pay(b, kind, invoice, day, mates):
            _pay(b, "rf_exact", invoice, day, mates)
        paid |= b.files[day][-1].pays
    for _ in range(int(invoices * UNRELATED_SHARE)):
        _unrelated(b, rng.randrange(days))
    for _ in range(max(1, int(invoices * PAYOUT_SHARE))):
        _payout(b, rng.randrange(days))
    for day in range(1, days):
        _returns(b, day)
        previous = [line for line in b.files[day - 1] if not line.duplicate]
        for line in rng.sample(previous, int(len(previous) * DUPLICATE_SHARE)):
            b.files[day].append(replace(line, kind="duplicate", duplicate=True))
    for lines in b.files:
        rng.shuffle(lines)
    return Portfolio(made, b.files)


# --- camt.053 -------------------------------------------------------------------------------


def _decimal(cents: int) -> str:
    cents = abs(cents)
    return f"{cents // 100}.{cents % 100:02d}"


def _entry(line: Line) -> str:
    credit = line.amount > 0
    side = "Dbtr" if credit else "Cdtr"
    structured = (
        "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
        f"<Ref>{escape(line.structured)}</Ref></CdtrRefInf></Strd>"
        if line.structured
        else ""
    )
    texts = "".join(f"<Ustrd>{escape(text)}</Ustrd>" for text in line.texts)
    returned = (
        f"<RtrInf><Rsn><Cd>{line.return_reason}</Cd></Rsn></RtrInf>" if line.return_reason else ""
    )
    code = "PMNT-RCDT-ESCT" if credit else "PMNT-ICDT-RRTN" if line.return_reason else ""
    bank_code = ""
    if code:
        domain, family, sub = code.split("-")
        bank_code = (
            f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd>"
            f"<SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        )
    return (
        f'<Ntry><Amt Ccy="EUR">{_decimal(line.amount)}</Amt>'
        f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{line.booked.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{line.booked.isoformat()}</Dt></ValDt>"
        f"<AcctSvcrRef>{line.bank_ref}</AcctSvcrRef>{bank_code}"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{escape(line.e2e)}</EndToEndId></Refs>"
        f"<RltdPties><{side}><Nm>{escape(line.name)}</Nm></{side}>"
        f"<{side}Acct><Id><IBAN>{line.iban}</IBAN></Id></{side}Acct></RltdPties>"
        f"<RmtInf>{texts}{structured}</RmtInf>{returned}"
        "</TxDtls></NtryDtls></Ntry>\n"
    )


def camt053(lines: list[Line], *, statement_id: str) -> bytes:
    """A camt.053.001.02 statement of the issuer's account with ``lines``."""
    body = "".join(_entry(line) for line in lines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>MSG-{statement_id}</MsgId><CreDtTm>2026-11-20T18:00:00Z</CreDtTm>"
        f"</GrpHdr><Stmt><Id>{statement_id}</Id><CreDtTm>2026-11-20T18:00:00Z</CreDtTm>"
        f"<Acct><Id><IBAN>{ISSUER_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n{body}"
        "</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


# --- importing and scoring ------------------------------------------------------------------


@dataclass
class Score:
    """How the import did against the labels."""

    credits: int = 0  # stored credit lines
    payable: int = 0  # stored credit lines that pay invoices
    matched: int = 0  # booked automatically
    right: int = 0  # booked automatically to exactly the labelled invoices
    wrong: list[str] = field(default_factory=list)  # bank refs booked to other invoices
    matched_none: list[str] = field(default_factory=list)  # booked, though they pay nothing
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (right, total)
    returns: int = 0
    returns_right: int = 0
    returns_wrong: list[str] = field(default_factory=list)
    duplicates: int = 0
    stored_twice: int = 0  # lines stored more than once (must be 0)

    @property
    def precision(self) -> float:
        return self.right / self.matched if self.matched else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.payable if self.payable else 1.0

    def as_dict(self) -> dict[str, object]:
        return {
            "credit_lines": self.credits,
            "payable_lines": self.payable,
            "matched": self.matched,
            "right": self.right,
            "wrong": len(self.wrong) + len(self.matched_none),
            "precision": round(self.precision, 5),
            "recall": round(self.recall, 5),
            "recall_by_kind": {
                kind: {"right": r, "lines": t, "recall": round(r / t, 4) if t else None}
                for kind, (r, t) in sorted(self.by_kind.items())
            },
            "returns": {"lines": self.returns, "reversed_the_right_credit": self.returns_right},
            "duplicates": {"lines": self.duplicates, "stored_twice": self.stored_twice},
        }


def create_invoices(uow: Any, links: Any, issuer: Any, invoices: list[Invoice]) -> dict[str, str]:
    """Create ``invoices`` for a fresh ``issuer`` in order; invoice id by number. Checks that
    paydue gave each the reference the statements quote."""
    from paydue.services.invoices import NewInvoice, NewPayer
    from paydue.services.invoices import create_invoices as create

    ids: dict[str, str] = {}
    for start in range(0, len(invoices), 10_000):
        chunk = invoices[start : start + 10_000]
        items = [
            NewInvoice(
                number=i.number,
                payer=NewPayer(ref=i.payer.ref, name=i.payer.name),
                amount=i.amount,
                currency="EUR",
                issue_date=i.issue_date,
                due_date=i.due_date,
            )
            for i in chunk
        ]
        for wanted, made in zip(chunk, create(uow, links, issuer, items), strict=True):
            if made.reference != wanted.reference:
                raise RuntimeError(
                    f"invoice {made.number} got {made.reference}, the statements quote"
                    f" {wanted.reference}: create the portfolio on a fresh issuer"
                )
            ids[made.number] = made.id
    return ids


def score(conn: Any, issuer_id: str, portfolio: Portfolio, numbers: dict[str, str]) -> Score:
    """Compare what the import stored for ``issuer_id`` with the labels."""
    import sqlalchemy as sa

    from paydue.adapters.db.tables import allocations, statement_lines

    number_of = {invoice_id: number for number, invoice_id in numbers.items()}
    label = {line.bank_ref: line for line in portfolio.lines if not line.duplicate}
    paid_to: dict[str, set[str]] = {}
    for credit_id, invoice_id in conn.execute(
        sa.select(allocations.c.credit_id, allocations.c.invoice_id).where(
            allocations.c.issuer_id == issuer_id, allocations.c.amount > 0
        )
    ):
        paid_to.setdefault(credit_id, set()).add(number_of[invoice_id])
    rows = conn.execute(
        sa.select(
            statement_lines.c.bank_reference,
            statement_lines.c.outcome,
            statement_lines.c.credit_id,
        ).where(statement_lines.c.issuer_id == issuer_id)
    ).all()
    credit_of = {row.bank_reference: row.credit_id for row in rows}
    result = Score()
    for bank_ref, outcome, credit_id in rows:
        line = label[bank_ref]
        if line.returns is not None:
            result.returns += 1
            original = credit_of.get(line.returns)
            if outcome == "returned":
                if credit_id == original:
                    result.returns_right += 1
                else:
                    result.returns_wrong.append(bank_ref)
            continue
        if line.amount <= 0:
            continue
        result.credits += 1
        right, total = result.by_kind.get(line.kind, (0, 0))
        ok = outcome == "matched" and paid_to.get(credit_id) == set(line.pays)
        if line.pays:
            result.payable += 1
            result.by_kind[line.kind] = (right + ok, total + 1)
        if outcome == "matched":
            result.matched += 1
            if ok:
                result.right += 1
            elif line.pays:
                result.wrong.append(bank_ref)
            else:
                result.matched_none.append(bank_ref)
    result.duplicates = sum(1 for line in portfolio.lines if line.duplicate)
    result.stored_twice = len(rows) - len({row.bank_reference for row in rows})
    return result


_NUMBER_TOKEN = re.compile(r"[A-Za-z0-9-]+")


def number_only_baseline(portfolio: Portfolio) -> Score:
    """What a matcher that only looks for the invoice number in the text would book: a credit
    whose texts contain exactly one invoice number, written exactly (any case), pays it."""
    numbers = {invoice.number for invoice in portfolio.invoices}
    result = Score()
    for line in portfolio.lines:
        if line.duplicate or line.amount <= 0:
            continue
        result.credits += 1
        text = " ".join((*line.texts, line.structured)).upper()
        hits = {token for token in _NUMBER_TOKEN.findall(text) if token in numbers}
        ok = len(hits) == 1 and hits == set(line.pays)
        right, total = result.by_kind.get(line.kind, (0, 0))
        if line.pays:
            result.payable += 1
            result.by_kind[line.kind] = (right + ok, total + 1)
        if len(hits) == 1:
            result.matched += 1
            if ok:
                result.right += 1
            else:
                (result.wrong if line.pays else result.matched_none).append(line.bank_ref)
    return result


if __name__ == "__main__":
    portfolio = generate()
    for kind, count in sorted(portfolio.kinds().items(), key=lambda kc: -kc[1]):
        print(f"{kind:>10} {count:6d}")
    print(f"{'files':>10} {len(portfolio.files):6d}", [len(f) for f in portfolio.files])

"""SWIFT MT940 customer statements (and MT942 interim reports), as banks actually write them.

Read: the SWIFT envelope (``{1:...}{2:...}{4:`` ... ``-}``, SOH/ETX bytes), bank preambles
(Rabobank ``:940:``, ABN AMRO / ING header lines), fields ``:20: :25: :28: :28C: :60F/M:
:61: :86: :62F/M: :64: :65:`` (others such as ``:NS: :34F: :13D: :90D:`` are skipped), a tag
broken over two lines, blank-padded entry dates and impossible dates such as 30 February (moved
to the last day of the month, as the banks that write them mean).

``:86:`` is read in three dialects: the German DK format (``GVC?00..?34``, ``?20..?29`` purpose
with SEPA keywords ``EREF+ SVWZ+ ...``, ``?30`` BIC, ``?31`` IBAN, ``?32/?33`` name, ``?34``
return reason), the Dutch slash format (``/EREF/ /REMI/ /NAME/ /IBAN/ /BIC/ /CNTP/ /RTRN/``)
and free text (lines joined with spaces).

Text is UTF-8 when it decodes as such, else cp1252 (else latin-1); DOS code pages such as CP852
cannot be told apart from cp1252 and come out with the wrong accented letters.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from paydue.domain.money import MoneyError
from paydue.domain.money import check_currency as check_iso_currency
from paydue.domain.returns import RETURN_GVCS  # ?34 of these GVCs holds the return reason

from .amounts import check_currency, to_minor
from .errors import StatementFormatError
from .model import Balance, LineFields, Statement, build_lines

_TAG = re.compile(r":(\d\d[A-Z]?|NS):")
_BAD_TAG = re.compile(r":(\d{3,}[A-Z]?):")
_PREAMBLE_TAGS = frozenset({"940"})  # Rabobank writes ':940:' as a file header
_BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})?(\d[\d,]*)\s*")
_LINE_61 = re.compile(
    r"(\d{6})(\d{4}|\s{4})?(R?[CD])([A-Z])?\n?(\d[\d,]{0,17})"
    r"([A-Z ][A-Z0-9 ]{3})?([^\n]*?)(?://([^\n]*))?(?:\n(.*))?",
    re.DOTALL,
)
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_CURRENCY_SUFFIX = re.compile(r"(.*?[\d\s/])([A-Z]{3})")
_DATE_TIME = re.compile(r"(\d{6})(\d\d)(\d\d)([+-]\d{4})?")
_GERMAN = re.compile(r"(\d{3})([?>])")
_DUTCH_KEYS = (
    "EREF|REMI|NAME|IBAN|BIC|CNTP|RTRN|TRTP|ORDP|BENM|ADDR|ISDT|MARF|CSID|PREF|PURP|ULTC|ULTD"
    "|ULTB|SVCL|BUSP|FX|CHGS|OCMT|EXCH|ISDN|ORIG|ABNA|ULTM"
)
_DUTCH = re.compile(rf"/({_DUTCH_KEYS})/")
_NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a fragment with :61: lines but no balance
_SUBFIELDS = {sep: re.compile(rf"\{sep}(\d\d)([^{sep}]*)") for sep in "?>"}
_PURPOSE = {sep: re.compile(rf"\{sep}(?:2\d|6[0-3])([^{sep}]*)") for sep in "?>"}
_SEPA_KEYS = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT)\+")


def parse(data: bytes) -> list[Statement]:
    """Parse an MT940/MT942 file into its statements (one per ``:20:`` block)."""
    fields = _fields(_lines(_decode(data)))
    if not fields:
        raise StatementFormatError("line 1", "no MT940 field (such as :20: or :61:) found")
    statements: list[Statement] = []
    current: _Draft | None = None
    for number, tag, value in fields:
        starts_new = tag == "20" or (tag == "25" and current is not None and current.closed)
        if current is None or (starts_new and current.has_content):
            if current is not None:
                statements.append(current.build())
            current = _Draft()
        current.add(number, tag, value)
    assert current is not None
    statements.append(current.build())
    return statements


def _decode(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines without the SWIFT envelope, SOH/ETX bytes and trailing blanks."""
    lines = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.strip("\x01\x03").rstrip()
        if line.startswith("{"):
            block = line.find("{4:")
            line = line[block + 3 :] if block >= 0 else ""
        if line.startswith("-") and (line.rstrip("-}") == "" or line.startswith("-}")):
            line = "-"
        lines.append((number, line))
    return lines


def _fields(lines: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """``(line number, tag, value)``: continuation lines appended to the field they follow."""
    fields: list[tuple[int, str, list[str]]] = []
    pending_colon = False
    for index, (number, line) in enumerate(lines):
        if pending_colon:  # a tag broken as ':' + newline + '86:...'
            line, pending_colon = ":" + line, False
        if line == ":":
            pending_colon = True
            continue
        match = _TAG.match(line)
        if match:
            fields.append((number, match.group(1), [line[match.end() :]]))
            continue
        if line == "-" and (not fields or fields[-1][1] != "86" or _ends_message(lines, index)):
            fields.append((number, "-", []))
            continue
        bad = _BAD_TAG.match(line)
        if bad and bad.group(1) not in _PREAMBLE_TAGS and (not fields or fields[-1][1] == "-"):
            raise StatementFormatError(
                f"line {number}", f"{bad.group(0)!r} is not an MT940 field tag"
            )
        if fields and fields[-1][1] != "-":
            fields[-1][2].append(line)
    return [(number, tag, "\n".join(parts)) for number, tag, parts in fields if tag != "-"]


def _ends_message(lines: list[tuple[int, str]], index: int) -> bool:
    """A lone '-' in ``:86:`` ends the message unless text (not a tag) follows: wrapped text."""
    following = ""
    for position in range(index + 1, len(lines)):
        following = lines[position][1]
        if following:
            break
    return not following or following.startswith((":", "-", "{"))


def _date(text: str, where: str) -> date:
    """YYMMDD; a day past the end of its month (30 February) means the month's last day."""
    found = _calendar_date(text)
    if found is None:
        raise StatementFormatError(where, f"{text!r} is not a date (YYMMDD)")
    return found


@lru_cache(maxsize=4096)
def _calendar_date(text: str) -> date | None:
    try:
        year, month, day = 2000 + int(text[0:2]), int(text[2:4]), int(text[4:6])
        if year > 2079:
            year -= 100
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))
    except (ValueError, calendar.IllegalMonthError):
        return None


def _date_time(text: str, where: str) -> datetime:
    """``:13D:`` YYMMDDhhmm with an optional +hhmm offset."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise StatementFormatError(where, f"{text!r} is not a date-time (YYMMDDhhmm+hhmm)")
    day, hour, minute, offset = match.groups()
    zone = None
    if offset:
        sign = -1 if offset[0] == "-" else 1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        zone = timezone(sign * delta) if delta < timedelta(hours=24) else None
    try:
        return datetime.combine(_date(day, where), datetime.min.time()).replace(
            hour=int(hour), minute=int(minute), tzinfo=zone
        )
    except ValueError:
        raise StatementFormatError(where, f"{text!r} is not a date-time") from None


def _is_iso_currency(code: str) -> bool:
    try:
        check_iso_currency(code)
    except MoneyError:
        return False
    return True


def _entry_date(value_date: date, text: str, where: str) -> date:
    """The MMDD entry date next to ``value_date``, in the year that keeps them closest."""
    year = value_date.year
    month = int(text[:2])
    if month == 12 and value_date.month == 1:
        year -= 1
    elif month == 1 and value_date.month == 12:
        year += 1
    return _date(f"{year % 100:02d}{text}", where)


def _amount(text: str, currency: str, where: str) -> int:
    return to_minor(text.replace(",", ".", 1), currency, where)


@dataclass
class _Draft:
    """A statement being read, field by field."""

    account: str | None = None
    currency: str | None = None
    statement_id: str | None = None
    sequence: str | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    lines: list[LineFields] = field(default_factory=list)
    details: list[tuple[int, str | None]] = field(default_factory=list)
    pending: tuple[int, str] | None = None
    created_at: datetime | None = None
    closed: bool = False
    has_content: bool = False

    def add(self, number: int, tag: str, value: str) -> None:
        where = f"line {number}"
        self.has_content = True
        if tag == "20":
            self.statement_id = value.strip() or None
        elif tag == "25":
            self._account(value.strip(), where)
        elif tag in ("28", "28C"):
            self.sequence = "".join(value.split()) or None
        elif tag in ("60F", "60M", "60"):
            self.opening = self._balance(value, where)
        elif tag in ("62F", "62M", "62"):
            self.closing = self._balance(value, where)
            self.closed = True
        elif tag == "61":
            self._flush()
            self.pending = (number, value)
        elif tag == "86" and self.pending is not None:
            self._flush(value)
        elif tag == "34F" and not self.currency:
            self.currency = check_currency(value[:3], where)
        elif tag == "13D":
            self.created_at = _date_time(value.strip(), where)

    def _account(self, value: str, where: str) -> None:
        suffix = _CURRENCY_SUFFIX.fullmatch(value)
        if suffix and _is_iso_currency(suffix.group(2)):
            self.currency = self.currency or suffix.group(2)
            value = suffix.group(1).rstrip("/ ")
        self.account = value or None

    def _balance(self, value: str, where: str) -> Balance:
        match = _BALANCE.fullmatch(value.replace("\n", ""))
        if match is None:
            raise StatementFormatError(
                where, f"{value!r} is not a balance such as C230131EUR1234,56"
            )
        mark, day, currency, amount = match.groups()
        currency = check_currency(currency, where) if currency else self.currency or _NO_CURRENCY
        self.currency = currency
        minor = _amount(amount, currency, where)
        return Balance(minor if mark == "C" else -minor, currency, _date(day, where))

    def _flush(self, details: str | None = None) -> None:
        if self.pending is not None:
            number, value = self.pending
            self.pending = None
            currency = self.currency or _NO_CURRENCY
            self.lines.append(_line(value, details, currency, f"line {number}"))

    def build(self) -> Statement:
        self._flush()
        return Statement(
            format="mt940",
            account=self.account,
            currency=self.currency,
            statement_id=self.statement_id,
            sequence_number=self.sequence,
            created_at=self.created_at,
            period_from=None,
            period_to=None,
            opening_balance=self.opening,
            closing_balance=self.closing,
            lines=build_lines(self.account, self.lines),
        )


def _line(value: str, details: str | None, currency: str, where: str) -> LineFields:
    match = _LINE_61.fullmatch(value)
    if match is None:
        raise StatementFormatError(
            where, f":61: {value.partition(chr(10))[0]!r} is not 'YYMMDD[MMDD]C|D amount ...'"
        )
    value_day, entry_day, mark, _funds, amount_text, kind, customer, bank, extra = match.groups()
    value_date = _date(value_day, where)
    booking_date = (
        _entry_date(value_date, entry_day, where) if entry_day and entry_day.strip() else value_date
    )
    minor = _amount(amount_text, currency, where)
    info = _Details.read(details) if details else _Details()
    supplementary = (extra or "").strip()
    customer = customer.strip()
    iban = info.iban or _first_iban(supplementary, customer)
    return LineFields(
        booking_date=booking_date,
        value_date=value_date,
        amount=-minor if mark in ("D", "RC") else minor,
        currency=currency,
        counterparty_name=info.name,
        counterparty_iban=iban,
        counterparty_bic=info.bic,
        structured_reference=info.structured_reference,
        remittance_text=info.text,
        additional_info=supplementary or None,
        end_to_end_id=info.end_to_end_id,
        bank_reference=(bank or "").strip() or None,
        customer_reference=None if customer in ("", "NONREF") else customer,
        return_reason=info.return_reason,
        is_reversal=mark.startswith("R"),
        bank_transaction_code=info.code or (kind.strip() if kind else None) or None,
    )


def _first_iban(*texts: str) -> str | None:
    for text in texts:
        match = _IBAN.match(text)
        if match:
            return match.group(0)
    return None


@dataclass
class _Details:
    """What a ``:86:`` field says, in whichever dialect it was written."""

    text: str | None = None
    name: str | None = None
    iban: str | None = None
    bic: str | None = None
    end_to_end_id: str | None = None
    structured_reference: str | None = None
    return_reason: str | None = None
    code: str | None = None

    @classmethod
    def read(cls, raw: str) -> _Details:
        raw = raw.lstrip()
        german = _GERMAN.match(raw)
        if german and (german.group(2) + "00" in raw or german.group(2) + "2" in raw):
            return cls._german(raw, german.group(1), german.group(2))
        joined = raw.replace("\n", "")
        if _DUTCH.match(joined):
            return cls._dutch(joined)
        text = " ".join(part.strip() for part in raw.split("\n") if part.strip())
        return cls(text=text or None)

    @classmethod
    def _german(cls, raw: str, code: str, separator: str) -> _Details:
        joined = raw.replace("\n", "")
        subfields = _SUBFIELDS[separator]
        parts = dict(subfields.findall(joined))
        purpose = "".join(_PURPOSE[separator].findall(joined))  # ?20..?29, ?60..?63
        sepa = _sepa(purpose)
        name = (parts.get("32", "") + parts.get("33", "")).strip()
        account = _first_iban((parts.get("38") or parts.get("31") or "").replace(" ", ""))
        bic = (parts.get("30") or "").strip()
        return cls(
            text=(sepa.get("SVWZ") if sepa else purpose.strip()) or None,
            name=name or None,
            iban=account or sepa.get("IBAN") or None,
            bic=(bic if _BIC.fullmatch(bic) else None) or sepa.get("BIC") or None,
            end_to_end_id=_known(sepa.get("EREF")),
            return_reason=(parts.get("34") or "").strip() or None if code in RETURN_GVCS else None,
            code=code,
        )

    @classmethod
    def _dutch(cls, joined: str) -> _Details:
        pieces = _DUTCH.split(joined)
        values: dict[str, str] = {}
        for key, value in zip(pieces[1::2], pieces[2::2], strict=True):
            values.setdefault(key, value)
        counterpart = values.get("CNTP", "").split("/")
        remittance = values.get("REMI", "").strip("/")
        structured = None
        if remittance.startswith("USTD//"):
            remittance = remittance[6:]
        elif remittance.startswith("STRD/"):
            structured, remittance = remittance.rsplit("/", 1)[-1], ""
        return cls(
            text=remittance.strip("/ ") or None,
            name=(values.get("NAME") or _part(counterpart, 2) or "").strip("/ ") or None,
            iban=(values.get("IBAN") or _part(counterpart, 0) or "").strip("/ ") or None,
            bic=(values.get("BIC") or _part(counterpart, 1) or "").strip("/ ") or None,
            end_to_end_id=_known(values.get("EREF", "").strip("/ ")),
            structured_reference=structured or None,
            return_reason=values.get("RTRN", "").strip("/ ") or None,
        )


def _part(parts: list[str], index: int) -> str | None:
    return parts[index] if len(parts) > index else None


def _known(value: str | None) -> str | None:
    """``None`` for an empty value and the SEPA placeholder ``NOTPROVIDED``."""
    value = (value or "").strip()
    return None if value in ("", "NOTPROVIDED") else value


def _sepa(purpose: str) -> dict[str, str]:
    """German SEPA keywords (``EREF+...SVWZ+...``) in a joined ``?20..?29`` purpose."""
    pieces = _SEPA_KEYS.split(purpose)
    return {key: value.strip() for key, value in zip(pieces[1::2], pieces[2::2], strict=True)}

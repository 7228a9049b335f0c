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
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from paydue.domain.money import MoneyError
from paydue.domain.money import check_currency as check_iso_currency
from paydue.domain.returns import RETURN_GVCS  # ?34 of these GVCs holds the return reason

from .amounts import _exponent, check_currency, to_minor
from .errors import StatementFormatError
from .model import Balance, Statement, StatementLine

_TAG = re.compile(r":(\d\d[A-Z]?|NS):")
_BAD_TAG = re.compile(r":(\d{3,}[A-Z]?):")
_PREAMBLE_TAGS = frozenset({"940"})  # Rabobank writes ':940:' as a file header
_TAG_BODY = re.compile(r"(\d\d[A-Z]?|NS):")  # _TAG after a line's ':'
_SHORT_TAGS = {f"{tag:02d}:": f"{tag:02d}" for tag in range(100)} | {"NS:": "NS"}
_BAD_TAG_BODY = re.compile(r"(\d{3,}[A-Z]?):")
_BLANKS = tuple(c for c in map(chr, range(0x110000)) if c.isspace() and c not in "\n\r")
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
_SUBFIELDS = {sep: re.compile(rf"\{sep}(3[0-48])([^{sep}]*)") for sep in "?>"}  # the ones read
_PURPOSE = {sep: re.compile(rf"\{sep}(?:2\d|6[0-3])([^{sep}]*)") for sep in "?>"}
# German SEPA keywords (EREF+...SVWZ+...): the '+' after one, found from the '+' (fast)
_SEPA_PLUS = re.compile(
    r"\+(?:(?<=(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|COAM|OAMT)\+)|(?<=(BIC)\+))"
)


def parse(data: bytes) -> list[Statement]:
    """Parse an MT940/MT942 file into its statements (one per ``:20:`` block)."""
    text = _decode(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields = _fields_fast(text)
    if fields is None:
        fields = _fields(_lines(text))
    if not fields:
        raise StatementFormatError("line 1", "no MT940 field (such as :20: or :61:) found")
    statements: list[Statement] = []
    current: _Draft | None = None
    for number, tag, value in fields:
        if current is not None:  # :61: and :86: are most fields: keep their path short
            if tag == "86":
                pending = current.pending
                if pending is not None:
                    current.pending = None
                    currency = current.currency or _NO_CURRENCY
                    current.lines.append(_line(pending[1], value, currency, pending[0]))
                continue
            if tag == "61":
                current.add(number, tag, value)
                continue
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


def _fields_fast(text: str) -> list[tuple[int, str, str]] | None:
    """What :func:`_fields` of :func:`_lines` gives, read from the whole text at once.

    The text is split before every line that starts with ``:``; a piece that starts with a tag
    is a field, its value the rest of the piece (lines starting with ``-`` are looked at one by
    one). ``None`` for text this does not handle: a SWIFT envelope, SOH/ETX bytes, or a line
    starting with ``:`` that is not a tag (a tag broken over two lines, an unknown tag, text
    that looks like one); the line-by-line reader takes those.
    """
    if "\x01" in text or "\x03" in text or "{" in text:
        return None
    if _has_trailing_blank(text):
        text = "\n".join(map(str.rstrip, text.split("\n")))
    pieces = ("\n" + text).split("\n:")
    number = pieces[0].count("\n") + 1  # the lines before the first ':' line are skipped
    fields: list[tuple[int, str, str]] = []
    closed = True  # no field open: before the first, or after a '-' line that ends one
    short_tags = _SHORT_TAGS
    for piece in pieces[1:]:
        tag = short_tags.get(piece[:3])  # most tags: two digits
        if tag is not None:
            value = piece[3:]
        elif found := _TAG_BODY.match(piece):
            tag, value = found.group(1), piece[found.end() :]
        else:
            preamble = _BAD_TAG_BODY.match(piece)
            if not (closed and preamble and preamble.group(1) in _PREAMBLE_TAGS):
                return None
            closed = closed or "\n-" in piece
            number += piece.count("\n") + 1
            continue
        if "\n-" in value:
            value, closed = _dashed(tag, value)
        else:
            closed = False
        fields.append((number, tag, value))
        number += piece.count("\n") + 1
    return fields


def _dashed(tag: str, value: str) -> tuple[str, bool]:
    """A field value with lines that start with ``-``: up to the one that ends the message
    (as :func:`_fields` decides), and whether one did."""
    lines = value.split("\n")
    kept = [lines[0]]
    for index in range(1, len(lines)):
        line = lines[index]
        if line.startswith("-") and (line.rstrip("-}") == "" or line.startswith("-}")):
            following = next((text for text in lines[index + 1 :] if text), "")
            if tag != "86" or not following or following.startswith("-"):
                return "\n".join(kept), True
            line = "-"
        kept.append(line)
    return "\n".join(kept), False


def _has_trailing_blank(text: str) -> bool:
    """Whether a line of ``text`` ends in white space (which :func:`_lines` strips)."""
    return any(
        blank in text and (blank + "\n" in text or text.endswith(blank)) for blank in _BLANKS
    )


def _lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines (newlines already ``\\n``) without the SWIFT envelope, SOH/ETX bytes and
    trailing blanks."""
    lines = []
    for number, raw in enumerate(text.split("\n"), 1):
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


@lru_cache(maxsize=4096)
def _calendar_entry_date(value_date: date, text: str) -> date | None:
    try:
        return _entry_date(value_date, text, "")
    except StatementFormatError:
        return None


def _amount(text: str, currency: str, number: int) -> int:
    """Minor units of an MT940 amount (``1234,5``): :func:`to_minor`, done inline when simple."""
    scale = _SCALES.get(currency)
    if scale is None:
        exponent = _exponent(currency)
        if exponent is None:
            return to_minor(text, currency, f"line {number}")  # refuses the currency
        scale = _SCALES[currency] = (exponent, 10**exponent)
    exponent, factor = scale
    whole, _, fraction = text.partition(",")
    if len(whole) <= 18 and len(fraction) <= exponent and "," not in fraction:
        return int(whole) * factor + (int(fraction.ljust(exponent, "0")) if fraction else 0)
    return to_minor(text.replace(",", ".", 1), currency, f"line {number}")


_SCALES: dict[str, tuple[int, int]] = {}  # currency: (decimals, 10 ** decimals)


@dataclass
class _Draft:
    """A statement being read, field by field."""

    account: str | None = None
    currency: str | None = None
    statement_id: str | None = None
    sequence: str | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    pending: tuple[int, str] | None = None
    created_at: datetime | None = None
    closed: bool = False
    has_content: bool = False

    def add(self, number: int, tag: str, value: str) -> None:
        self.has_content = True
        if tag == "61":
            if self.pending is not None:
                self._flush()
            self.pending = (number, value)
        elif tag == "86":
            if self.pending is not None:
                self._flush(value)
        elif tag == "20":
            self.statement_id = value.strip() or None
        elif tag == "25":
            self._account(value.strip())
        elif tag in ("28", "28C"):
            self.sequence = "".join(value.split()) or None
        elif tag in ("60F", "60M", "60"):
            self.opening = self._balance(value, number)
        elif tag in ("62F", "62M", "62"):
            self.closing = self._balance(value, number)
            self.closed = True
        elif tag == "34F" and not self.currency:
            self.currency = check_currency(value[:3], f"line {number}")
        elif tag == "13D":
            self.created_at = _date_time(value.strip(), f"line {number}")

    def _account(self, value: str) -> None:
        suffix = _CURRENCY_SUFFIX.fullmatch(value)
        if suffix and _is_iso_currency(suffix.group(2)):
            self.currency = self.currency or suffix.group(2)
            value = suffix.group(1).rstrip("/ ")
        self.account = value or None

    def _balance(self, value: str, number: int) -> Balance:
        where = f"line {number}"
        match = _BALANCE.fullmatch(value.replace("\n", ""))
        if match is None:
            raise StatementFormatError(
                where, f"{value!r} is not a balance such as C230131EUR1234,56"
            )
        mark, day, currency, amount = match.groups()
        currency = check_currency(currency, where) if currency else self.currency or _NO_CURRENCY
        self.currency = currency
        minor = _amount(amount, currency, number)
        return Balance(minor if mark == "C" else -minor, currency, _date(day, where))

    def _flush(self, details: str | None = None) -> None:
        if self.pending is not None:
            number, value = self.pending
            self.pending = None
            self.lines.append(_line(value, details, self.currency or _NO_CURRENCY, number))

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
            lines=_fingerprinted(self.account, self.lines),
        )


def _fingerprinted(account: str | None, drafts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """:func:`model.build_lines` for lines already in :class:`StatementLine` field order."""
    seen: dict[str, int] = {}
    days: dict[date, str] = {}
    lines = []
    account = account or ""
    new, sha256 = tuple.__new__, hashlib.sha256
    for draft in drafts:
        day = days.get(draft[0])
        if day is None:
            day = days[draft[0]] = draft[0].isoformat()
        # account, booking date, amount, currency, bank reference or end-to-end id, IBAN, text
        key = (
            f"{account}\x1f{day}\x1f{draft[2]}\x1f{draft[3]}\x1f{draft[11] or draft[10] or ''}"
            f"\x1f{draft[5] or ''}\x1f{draft[8] or ''}"
        )
        position = seen.get(key, 0)
        seen[key] = position + 1
        digest = sha256(f"{key}\x1e{position}".encode()).hexdigest()[:32]
        lines.append(new(StatementLine, (*draft, digest)))
    return tuple(lines)


def _line(value: str, details: str | None, currency: str, number: int) -> tuple[Any, ...]:
    """The fields of one :61: (and its :86:) in :class:`StatementLine` order, no fingerprint."""
    match = _LINE_61.fullmatch(value)
    if match is None:
        raise StatementFormatError(
            f"line {number}",
            f":61: {value.partition(chr(10))[0]!r} is not 'YYMMDD[MMDD]C|D amount ...'",
        )
    value_day, entry_day, mark, _funds, amount_text, kind, customer, bank, extra = match.groups()
    value_date = _calendar_date(value_day) or _date(value_day, f"line {number}")
    booking_date = (
        (
            _calendar_entry_date(value_date, entry_day)
            or _entry_date(value_date, entry_day, f"line {number}")
        )
        if entry_day and entry_day.strip()
        else value_date
    )
    minor = _amount(amount_text, currency, number)
    text, name, iban, bic, end_to_end_id, structured, return_reason, code = (
        _details(details) if details else _NO_DETAILS
    )
    supplementary = extra.strip() if extra else ""
    customer = customer.strip()
    return (
        booking_date,
        value_date,
        -minor if mark == "D" or mark == "RC" else minor,
        currency,
        name,
        iban or _first_iban(supplementary, customer),
        bic,
        structured,
        text,
        supplementary or None,
        end_to_end_id,
        (bank.strip() or None) if bank else None,
        None if customer in ("", "NONREF") else customer,
        return_reason,
        mark[0] == "R",
        code or (kind.strip() if kind else None) or None,
        None,  # status
        None,  # entry_reference
        None,  # batch_id
        False,  # is_batch_part
    )


def _first_iban(*texts: str) -> str | None:
    for text in texts:
        match = _IBAN.match(text)
        if match:
            return match.group(0)
    return None


# What a :86: says, in whichever dialect it was written: remittance text, counterparty name,
# IBAN, BIC, end-to-end id, structured reference, return reason, transaction code (GVC).
_DetailFields = tuple[
    str | None, str | None, str | None, str | None, str | None, str | None, str | None, str | None
]
_NO_DETAILS: _DetailFields = (None, None, None, None, None, None, None, None)


def _details(raw: str) -> _DetailFields:
    raw = raw.lstrip()
    german = _GERMAN.match(raw)
    if german:
        separator = german.group(2)
        if separator + "00" in raw or separator + "2" in raw:
            return _german(raw.replace("\n", ""), german.group(1), separator)
    joined = raw.replace("\n", "")
    if _DUTCH.match(joined):
        return _dutch(joined)
    text = " ".join(part.strip() for part in raw.split("\n") if part.strip())
    return (text or None, None, None, None, None, None, None, None)


def _german(joined: str, code: str, separator: str) -> _DetailFields:
    parts = dict(_SUBFIELDS[separator].findall(joined))  # last one of a number wins
    purpose = "".join(_PURPOSE[separator].findall(joined))  # ?20..?29, ?60..?63
    sepa = _sepa(purpose) if "+" in purpose else _NO_SEPA
    text = (sepa.get("SVWZ") if sepa else purpose.strip()) or None
    get = parts.get
    name = get("32", "") + get("33", "")
    account = get("38") or get("31")
    account_match = _IBAN.match(account.replace(" ", "")) if account else None
    bic = get("30")
    bic = bic.strip() if bic else None
    end_to_end_id = sepa.get("EREF")
    return (
        text,
        name.strip() or None,
        (account_match.group(0) if account_match else None) or sepa.get("IBAN") or None,
        (bic if bic and _BIC.fullmatch(bic) else None) or sepa.get("BIC") or None,
        end_to_end_id if end_to_end_id and end_to_end_id != "NOTPROVIDED" else None,
        None,
        (get("34") or "").strip() or None if code in RETURN_GVCS else None,
        code,
    )


_NO_SEPA: dict[str, str] = {}


def _dutch(joined: str) -> _DetailFields:
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
    return (
        remittance.strip("/ ") or None,
        (values.get("NAME") or _part(counterpart, 2) or "").strip("/ ") or None,
        (values.get("IBAN") or _part(counterpart, 0) or "").strip("/ ") or None,
        (values.get("BIC") or _part(counterpart, 1) or "").strip("/ ") or None,
        _known(values.get("EREF", "").strip("/ ")),
        structured or None,
        values.get("RTRN", "").strip("/ ") or None,
        None,
    )


def _part(parts: list[str], index: int) -> str | None:
    return parts[index] if len(parts) > index else None


def _known(value: str | None) -> str | None:
    """``None`` for an empty value and the SEPA placeholder ``NOTPROVIDED``."""
    value = (value or "").strip()
    return None if value in ("", "NOTPROVIDED") else value


def _sepa(purpose: str) -> dict[str, str]:
    """German SEPA keywords (``EREF+...SVWZ+...``) in a joined ``?20..?29`` purpose: the last
    value of each keyword, stripped."""
    pieces = _SEPA_PLUS.split(purpose)  # text (ending in the keyword), keyword, None, text...
    count = len(pieces)
    values: dict[str, str] = {}
    if count == 1:
        return values
    key = pieces[1] or pieces[2]
    for index in range(3, count - 3, 3):
        following = pieces[index + 1] or pieces[index + 2]
        values[key] = pieces[index][: -len(following)].strip()
        key = following
    values[key] = pieces[count - 1].strip()
    return values

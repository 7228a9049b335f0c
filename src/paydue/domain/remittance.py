"""Reading references, invoice numbers and names out of what payers type into a bank transfer.

Payers copy references by hand: they add or drop spaces, break lines in the middle, write lower
case and leave out the ``+++``/``/`` of a Belgian structured communication. Everything here
works on *chunks*, the runs of ASCII letters and digits of a text, and only ever joins whole
chunks, so a value is never found inside a longer word or number ("42" is not in "1420").

The reference finders return only candidates whose check digits verify: the check digits are
what makes a reference found in free text trustworthy enough to match automatically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from stdnum import iso11649
from stdnum.be import ogm_vcs
from stdnum.ch import esr

RF_MAX_LENGTH = 25  # "RF", two check digits and at most 21 characters
OGM_LENGTH = 12  # ten digits and two check digits
QRR_LENGTH = 27  # 26 digits and one check digit

_CHUNK = re.compile(r"[A-Za-z0-9]+")
_RF_SHAPE = re.compile(r"RF[0-9]{2}[A-Z0-9]{1,21}")
_NUMBER_GROUP = re.compile(r"[A-Z]+|[0-9]+")
_FOLD_O = str.maketrans({"O": "0"})
_NAME_SEPARATOR = re.compile(r"[^\w]+|_+")
_GERMANIC = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})


class Scheme(StrEnum):
    """The structured reference schemes a payer may quote."""

    RF = "rf"  # ISO 11649 creditor reference
    OGM = "ogm"  # Belgian structured communication (OGM-VCS)
    QRR = "qrr"  # Swiss QR reference (ESR/ISR)


@dataclass(frozen=True, slots=True)
class FoundReference:
    """A verified reference in its compact, canonical form (QRR zero-padded to 27 digits)."""

    scheme: Scheme
    value: str

    def formatted(self) -> str:
        """Print form: ``RF18 5390 0754 7034``, ``+++090/9337/55493+++``, ``21 00000 …``."""
        if self.scheme is Scheme.RF:
            return str(iso11649.format(self.value))
        if self.scheme is Scheme.OGM:
            return f"+++{ogm_vcs.format(self.value)}+++"
        return str(esr.format(self.value))


def chunks(text: str) -> list[str]:
    """The upper-cased runs of ASCII letters and digits of ``text``, in order."""
    return [match.group().upper() for match in _CHUNK.finditer(text)]


def _joined_from(parts: list[str], start: int, max_length: int) -> Iterator[str]:
    """``parts[start]``, then it joined with the next part, and so on up to ``max_length``."""
    joined = ""
    for part in parts[start:]:
        joined += part
        if len(joined) > max_length:
            return
        yield joined


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def find_rf(text: str) -> list[str]:
    """Verified ISO 11649 references in ``text``, compact and upper case, in order of appearance.

    A reference starts at the beginning of a chunk and may be spread over several chunks (even
    "R F18"): "rf18 5390 0754 7034" and "RF18539007547034" both give ``RF18539007547034``. Each
    way of joining the chunks that follow is checked, so a longer candidate that happens to
    verify as well is returned too; matching looks candidates up exactly, which discards it.
    """
    parts = chunks(text)
    found = (
        candidate
        for start, part in enumerate(parts)
        if part.startswith("R")
        for candidate in _joined_from(parts, start, RF_MAX_LENGTH)
        if _RF_SHAPE.fullmatch(candidate) and iso11649.is_valid(candidate)
    )
    return _unique(found)


def _digit_runs(text: str, length: int) -> Iterator[str]:
    """Exactly ``length`` digits made of consecutive whole all-digit chunks."""
    parts = chunks(text)
    for start, part in enumerate(parts):
        if not part.isdigit():
            continue
        for candidate in _joined_from(parts, start, length):
            if not candidate.isdigit():
                break
            if len(candidate) == length:
                yield candidate


def find_ogm(text: str) -> list[str]:
    """Verified Belgian structured communications in ``text`` as 12 digits.

    Found with or without ``+++``/``***`` and slashes: "+++090/9337/55493+++", "090 9337 55493"
    and "090933755493" all give ``090933755493``.
    """
    return _unique(c for c in _digit_runs(text, OGM_LENGTH) if ogm_vcs.is_valid(c))


def find_qrr(text: str) -> list[str]:
    """Verified Swiss QR references of all 27 digits in ``text`` (spaces and line breaks allowed).

    Short ESR forms with the leading zeros left out are accepted only as a whole structured
    reference (see :func:`parse_reference`): in free text, a short run of digits passes the
    one mod-10 check digit by chance one time in ten.
    """
    return _unique(c for c in _digit_runs(text, QRR_LENGTH) if esr.is_valid(c))


def _rf_digits_valid(compact: str) -> bool:
    """ISO 7064 MOD 97-10 of an ``RFkk`` reference with an all-digit body, on integers."""
    return int(f"{compact[4:]}2715{compact[2:4]}") % 97 == 1


def parse_reference(text: str) -> FoundReference | None:
    """The reference that ``text`` is as a whole (a structured-reference field), if it verifies."""
    if text[:2] == "RF" and text[2:].isdigit() and text.isascii() and 5 <= len(text) <= 25:
        # the compact form paydue stores: no need for the general path
        return FoundReference(Scheme.RF, text) if _rf_digits_valid(text) else None
    compact = "".join(chunks(text))
    if _RF_SHAPE.fullmatch(compact) and iso11649.is_valid(compact):
        return FoundReference(Scheme.RF, compact)
    if len(compact) == OGM_LENGTH and ogm_vcs.is_valid(compact):
        return FoundReference(Scheme.OGM, compact)
    if compact.isdigit() and len(compact) <= QRR_LENGTH and esr.is_valid(compact):
        return FoundReference(Scheme.QRR, compact.zfill(QRR_LENGTH))
    return None


def find_references(text: str) -> list[FoundReference]:
    """Every verified RF, OGM and 27-digit QR reference in ``text``, strongest scheme first."""
    found = [FoundReference(Scheme.RF, value) for value in find_rf(text)]
    found += [FoundReference(Scheme.OGM, value) for value in find_ogm(text)]
    found += [FoundReference(Scheme.QRR, value) for value in find_qrr(text)]
    return found


def normalise_invoice_number(text: str) -> str:
    """Invoice number in a form that survives how payers retype it.

    Upper case, the letter O read as a zero, letters and digits split into groups separated by
    one space, leading zeros dropped from digit groups: "INV-2026-0042", "inv 2026 42" and
    "Inv/2026/O042" all give ``"INV 2026 42"``. Idempotent.
    """
    groups = _NUMBER_GROUP.findall(text.upper().translate(_FOLD_O))
    return " ".join((group.lstrip("0") or "0") if group.isdigit() else group for group in groups)


def compact_invoice_number(text: str) -> str:
    """Invoice number upper case, O read as zero, without separators: ``"INV20260042"``.

    Catches a number typed without separators ("INV2026OO42"), where the group boundaries that
    :func:`normalise_invoice_number` relies on are lost.
    """
    return "".join(_NUMBER_GROUP.findall(text.upper().translate(_FOLD_O)))


@dataclass(frozen=True, slots=True)
class NumberWindow:
    """Keys of consecutive whole chunks ``start`` to ``end`` (exclusive) of a text."""

    start: int
    end: int
    key: str  # normalise_invoice_number of the chunks
    compact: str | None  # compact_invoice_number, for a single chunk only


def number_windows(text: str, max_chunks: int) -> Iterator[NumberWindow]:
    """All windows of one to ``max_chunks`` consecutive chunks of ``text``.

    Joining is done on the normalised chunks, so a window's key is comparable with
    :func:`normalise_invoice_number` of an invoice number. The compact key is given for single
    chunks only: compacting several chunks would read "12.50" as invoice "1250".
    """
    parts = chunks(text)
    keys = [normalise_invoice_number(part) for part in parts]
    for start, part in enumerate(parts):
        yield NumberWindow(start, start + 1, keys[start], compact_invoice_number(part))
        for end in range(start + 2, min(start + max_chunks, len(parts)) + 1):
            yield NumberWindow(start, end, " ".join(keys[start:end]), None)


def fold_name(text: str) -> str:
    """A person's or company's name folded for comparison; idempotent.

    Case-folded, German umlauts spelled out (ü → ue, ß → ss, as banks transliterate them), other
    accents dropped (é → e), punctuation turned into single spaces: "Müller-Lüdenscheidt, Jürgen"
    gives ``"mueller luedenscheidt juergen"``.
    """
    text = unicodedata.normalize("NFKC", text).casefold().translate(_GERMANIC)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in decomposed if not unicodedata.combining(char))
    text = unicodedata.normalize("NFKC", text).casefold().translate(_GERMANIC)
    return " ".join(word for word in _NAME_SEPARATOR.split(text) if word)


def name_key(text: str) -> str:
    """The folded name with its words sorted: "Mustermann, Erika" = "ERIKA MUSTERMANN"."""
    return " ".join(sorted(fold_name(text).split()))

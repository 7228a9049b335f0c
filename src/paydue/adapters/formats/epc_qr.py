"""EPC069-12 "BCD" payloads: the QR code a banking app scans to pre-fill a SEPA credit transfer.

Also known as GiroCode. The payload is one field per line (LF-separated, trailing empty lines
left out, at most 331 bytes); render it with ``qr.render_svg(payload, ec_level="M")`` or
``qr.render_png(...)`` — the guidelines require error-correction level M.

Stricter than the guidelines in one point: paydue requires a structured RF reference or an
unstructured text, because a transfer carrying neither cannot be matched to its invoice.
"""

from __future__ import annotations

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from paydue.domain.references import normalise_rf

CHARSETS = {
    1: "utf-8",
    2: "iso-8859-1",
    3: "iso-8859-2",
    4: "iso-8859-4",
    5: "iso-8859-5",
    6: "iso-8859-7",
    7: "iso-8859-10",
    8: "iso-8859-15",
}
MAX_PAYLOAD_BYTES = 331
MAX_AMOUNT_MINOR = 99_999_999_999  # EUR 999999999.99


class EpcError(ValueError):
    """A field that cannot go into an EPC QR payload; the message names the field and rule."""


def epc_payload(
    *,
    name: str,
    iban: str,
    amount_minor: int | None,
    currency: str = "EUR",
    bic: str | None = None,
    reference: str | None = None,
    text: str | None = None,
    purpose: str | None = None,
    information: str | None = None,
    version: str = "002",
    encoding: int = 1,
) -> str:
    """The EPC069-12 payload for a SEPA credit transfer to ``name``/``iban``.

    ``amount_minor`` is in euro cents (``None``: the payer enters the amount); ``reference``
    is an ISO 11649 RF creditor reference, ``text`` unstructured remittance information —
    exactly one of them. ``information`` is the optional beneficiary-to-originator note.
    ``encoding`` is the EPC character set number; the QR renderer writes non-ASCII text as
    UTF-8, so any other set is accepted for ASCII-only payloads only.
    Raises :class:`EpcError` naming the field and the rule it breaks.
    """
    if version not in ("001", "002"):
        raise EpcError(f"version: must be '001' or '002', got {version!r}")
    charset = _charset(encoding)
    reference, text = _remittance(reference, text)
    lines = [
        "BCD",
        version,
        str(encoding),
        "SCT",
        _bic(bic, version),
        _text_field("name", name, 70, required=True),
        _iban(iban),
        _amount(amount_minor, currency),
        _purpose(purpose),
        reference,
        text,
        _text_field("information", information, 70),
    ]
    payload = "\n".join(lines).rstrip("\n")
    if encoding != 1 and not payload.isascii():
        raise EpcError(
            f"encoding: character set {encoding} ({charset}) is accepted for ASCII text only, "
            "QR codes carry non-ASCII text as UTF-8; use 1 (UTF-8)"
        )
    size = len(payload.encode(charset))
    if size > MAX_PAYLOAD_BYTES:
        raise EpcError(f"payload: at most {MAX_PAYLOAD_BYTES} bytes, got {size}")
    return payload


def _charset(encoding: object) -> str:
    if isinstance(encoding, bool) or not isinstance(encoding, int) or encoding not in CHARSETS:
        raise EpcError(f"encoding: must be a character set number 1 to 8, got {encoding!r}")
    return CHARSETS[encoding]


def _text_field(field: str, value: str | None, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise EpcError(f"{field}: is required")
        return ""
    if len(value) > limit:
        raise EpcError(f"{field}: at most {limit} characters, got {len(value)}")
    if any(not char.isprintable() for char in value):
        raise EpcError(f"{field}: must not contain line breaks or other control characters")
    return value


def _bic(bic: str | None, version: str) -> str:
    bic = (bic or "").strip()
    if not bic:
        if version == "001":
            raise EpcError("BIC: is required in version 001")
        return ""
    try:
        return str(BIC(bic).compact)
    except SchwiftyException as exc:
        raise EpcError(f"BIC: {bic!r} is not a valid BIC (8 or 11 characters): {exc}") from exc


def _iban(iban: str | None) -> str:
    if not iban or not iban.strip():
        raise EpcError("IBAN: is required")
    try:
        return str(IBAN(iban).compact)
    except SchwiftyException as exc:
        raise EpcError(f"IBAN: {iban!r} is not a valid IBAN: {exc}") from exc


def _amount(amount_minor: int | None, currency: str) -> str:
    """``EUR`` and the amount in euro with at most two decimals and no trailing zeros."""
    if currency != "EUR":
        raise EpcError(f"currency: SEPA credit transfers are in EUR only, got {currency!r}")
    if amount_minor is None:
        return ""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise EpcError(f"amount: must be an integer number of cents, got {amount_minor!r}")
    if not 1 <= amount_minor <= MAX_AMOUNT_MINOR:
        raise EpcError(f"amount: must be 0.01 to 999999999.99 EUR, got {amount_minor} cents")
    euros, cents = divmod(amount_minor, 100)
    return f"EUR{euros}.{cents:02d}".rstrip("0").rstrip(".")


def _purpose(purpose: str | None) -> str:
    purpose = (purpose or "").strip()
    if purpose and not (len(purpose) == 4 and purpose.isascii() and purpose.isalnum()):
        raise EpcError(f"purpose: must be a 4-character ISO 20022 purpose code, got {purpose!r}")
    return purpose.upper()


def _remittance(reference: str | None, text: str | None) -> tuple[str, str]:
    """The structured reference line and the unstructured text line: exactly one is filled."""
    reference = (reference or "").strip()
    text = _text_field("text", text, 140)
    if reference and text:
        raise EpcError("reference: give a structured reference or a text, not both")
    if not reference and not text:
        raise EpcError("reference: a structured RF reference or a text is required")
    if not reference:
        return "", text
    if len(reference) > 35:
        raise EpcError(f"reference: at most 35 characters, got {len(reference)}")
    try:
        return normalise_rf(reference), ""
    except ValueError as exc:
        raise EpcError(f"reference: must be an ISO 11649 RF creditor reference: {exc}") from exc

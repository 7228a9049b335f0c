"""ISO 11649 (RF) structured creditor references.

paydue gives every invoice an RF reference that is unique per issuer. The body is the issuer's
reference sequence number, zero-padded so references have a stable length and are easy to read
out on the phone; the two check digits (ISO 7064 MOD 97-10) catch typing errors when a payer
copies the reference into a bank transfer.
"""

from __future__ import annotations

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

BODY_DIGITS = 9


def make_rf(body: str) -> str:
    """Return the compact RF reference (``RFkk`` + body) for an alphanumeric body."""
    body = body.replace(" ", "")
    if not body or not body.isascii() or not body.isalnum() or len(body) > 21:
        raise ValueError(f"an RF reference body is 1 to 21 ASCII letters or digits, got {body!r}")
    body = body.upper()
    check = mod_97_10.calc_check_digits(body + "RF")
    return f"RF{check}{body}"


def rf_for_sequence(number: int) -> str:
    """The RF reference for the issuer's ``number``-th invoice (1-based).

    The same as ``make_rf`` of the zero-padded number, with the check digits computed on the
    integer: moving ``RF00`` behind a numeric body and reading R = 27, F = 15 makes the number
    ``body * 10**6 + 271500``, and the check digits are 98 minus that number modulo 97
    (ISO 7064 MOD 97-10). Runs once per invoice created, so it skips the string round trip."""
    if number < 1:
        raise ValueError("reference sequence numbers start at 1")
    check = 98 - (number * 1_000_000 + 271_500) % 97
    return f"RF{check:02d}{number:0{BODY_DIGITS}d}"


def is_valid_rf(text: str) -> bool:
    """True when ``text`` (with or without spaces, any case) is a valid RF reference."""
    return bool(iso11649.is_valid(text))


def normalise_rf(text: str) -> str:
    """The compact upper-case form of a valid RF reference; ``ValueError`` otherwise."""
    try:
        return str(iso11649.validate(text))
    except ValidationError as exc:
        raise ValueError(f"{text!r} is not a valid ISO 11649 reference: {exc}") from exc


def format_rf(text: str) -> str:
    """Print form in groups of four: ``RF18 5390 0754 7034``."""
    return str(iso11649.format(text))

"""SMS length: which encoding a text needs and how many segments it costs.

A text that uses only the GSM 03.38 default alphabet is sent as GSM-7: 160 septets in a single
message, 153 per segment when concatenated (the user data header takes the rest). Characters of
the extension table (``€ [ ] { } \\ ^ ~ |`` and form feed) are an escape plus a character, two
septets, and the pair is never split across segments. Any other character makes the whole message
UCS-2: 70 UTF-16 code units alone, 67 per segment, and a surrogate pair (most emoji) is never
split either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


# (units in a single message, units per segment of a concatenated message)
LIMITS: dict[Encoding, tuple[int, int]] = {Encoding.GSM7: (160, 153), Encoding.UCS2: (70, 67)}


@dataclass(frozen=True, slots=True)
class SmsLength:
    """What a text costs: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2);
    ``remaining`` is how many units still fit in the last segment."""

    encoding: Encoding
    units: int
    segments: int
    remaining: int


def encoding_for(text: str) -> Encoding:
    """GSM-7 when every character is in the default alphabet or its extension, else UCS-2."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return Encoding.GSM7
    return Encoding.UCS2


def _width(ch: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def sms_length(text: str) -> SmsLength:
    """Encoding, length in units and number of segments of ``text``.

    An empty text is one (empty) segment: a message is never cheaper than one SMS.
    """
    encoding = encoding_for(text)
    single, per_segment = LIMITS[encoding]
    widths = [_width(ch, encoding) for ch in text]
    units = sum(widths)
    if units <= single:
        return SmsLength(encoding, units, 1, single - units)
    segments, used = 1, 0
    for width in widths:
        if used + width > per_segment:  # an escape pair or surrogate pair is never split
            segments, used = segments + 1, 0
        used += width
    return SmsLength(encoding, units, segments, per_segment - used)

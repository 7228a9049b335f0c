"""SMS length: GSM-7 versus UCS-2 and the segments a text costs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydue.domain.sms import GSM7_BASIC, GSM7_EXTENSION, Encoding, SmsLength, sms_length

G, U = Encoding.GSM7, Encoding.UCS2
basic_text = st.text(alphabet=sorted(GSM7_BASIC), max_size=700)
gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsLength(G, 0, 1, 160)),
        ("Pay now: https://pay.example/p/abc", SmsLength(G, 34, 1, 126)),
        ("a" * 160, SmsLength(G, 160, 1, 0)),
        ("a" * 161, SmsLength(G, 161, 2, 145)),
        ("a" * 306, SmsLength(G, 306, 2, 0)),
        ("a" * 307, SmsLength(G, 307, 3, 152)),
        ("Müller, 12,50 € fällig", SmsLength(G, 23, 1, 137)),  # € counts double
        ("€" * 80, SmsLength(G, 160, 1, 0)),
        ("€" * 81, SmsLength(G, 162, 2, 143)),  # 76 pairs fill 152 of 153; the 77th moves on
        ("Bitte zahlen Sie bis 1.12. — danke", SmsLength(U, 34, 1, 36)),  # em dash: UCS-2
        ("ç" * 70, SmsLength(U, 70, 1, 0)),  # lower-case c cedilla is not in GSM-7
        ("ç" * 71, SmsLength(U, 71, 2, 63)),
        ("\u0396" * 134, SmsLength(U, 134, 2, 0)),  # Greek capital zeta looks like Z: UCS-2
        ("😀" * 35, SmsLength(U, 70, 1, 0)),  # an emoji is two UTF-16 units
        ("x" + "😀" * 35, SmsLength(U, 71, 2, 63)),  # 33 pairs + x = 67; the 34th moves on
    ],
)
def test_length_encoding_and_segments(text: str, expected: SmsLength) -> None:
    assert sms_length(text) == expected


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_every_extension_character_is_two_septets(ch: str) -> None:
    assert sms_length(ch) == SmsLength(G, 2, 1, 158)


@pytest.mark.parametrize("ch", ["Ç", "É", "Ø", "ñ", "¿", "¤", "Δ"])
def test_accented_letters_of_the_default_alphabet_stay_gsm7(ch: str) -> None:
    assert sms_length(ch).encoding is G


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2() -> None:
    text = "a" * 100
    assert sms_length(text).segments == 1
    assert sms_length(text + "ő") == SmsLength(U, 101, 2, 33)


@given(basic_text)
def test_basic_alphabet_follows_the_160_153_rule(text: str) -> None:
    n = len(text)
    expected = 1 if n <= 160 else math.ceil(n / 153)
    assert sms_length(text).segments == expected
    assert sms_length(text).units == n


@given(gsm_text)
def test_gsm7_segments_never_fewer_than_the_septets_need(text: str) -> None:
    length = sms_length(text)
    assert length.encoding is G
    assert length.units == len(text) + sum(ch in GSM7_EXTENSION for ch in text)
    capacity = 160 if length.segments == 1 else 153 * length.segments
    assert length.units <= capacity - length.remaining
    assert 0 <= length.remaining <= (160 if length.segments == 1 else 153)
    # splitting pairs never costs more than one unit per segment
    assert length.segments <= max(1, math.ceil(length.units / 152))


@given(st.text(max_size=300), st.text(min_size=1, max_size=50))
def test_appending_text_never_makes_a_message_cheaper(head: str, tail: str) -> None:
    assert sms_length(head + tail).segments >= sms_length(head).segments


@given(st.text(max_size=300))
def test_ucs2_counts_utf16_code_units(text: str) -> None:
    length = sms_length(text)
    if length.encoding is U:
        assert length.units == len(text.encode("utf-16-le")) // 2

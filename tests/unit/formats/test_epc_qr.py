"""EPC069-12 payloads: the shared encoder vectors, a scanned round trip, and rejected input."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from schwifty import BIC, IBAN
from stdnum import iso11649

from paydue.adapters.formats import qr
from paydue.adapters.formats.epc_qr import CHARSETS, EpcError, epc_payload
from paydue.domain.references import rf_for_sequence
from tests.samples import sample_path, samples_available

CHARSET_NUMBERS = {codec: number for number, codec in CHARSETS.items()}
TEXT_FIELDS = ("name", "iban", "bic", "text", "reference", "purpose")


def load_vectors() -> list[dict[str, Any]]:
    if not samples_available():
        return []
    with sample_path("qr", "vectors_epc_qr.json").open(encoding="utf-8") as file:
        return list(json.load(file)["vectors"])


VECTORS = load_vectors()


def vector_cases(*kinds: str) -> Any:
    """Vectors of the given kinds as pytest params; one skipped param where samples are absent."""
    cases = [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] in kinds]
    return cases or [pytest.param(None, marks=pytest.mark.skip(reason="shared samples absent"))]


def amount_in_cents(amount: str, amount_type: str) -> int | None:
    """The vector's amount (euro, as float/decimal/str/int) in cents; None if not whole cents."""
    euros = Decimal(repr(float(amount))) if amount_type == "float" else Decimal(amount)
    cents = euros * 100
    return int(cents) if cents == cents.to_integral_value() else None


def api_arguments(vector_input: dict[str, Any]) -> dict[str, Any]:
    """Map a vector's segno arguments onto ``epc_payload`` keywords (absent keys stay absent)."""
    arguments = {key: vector_input[key] for key in TEXT_FIELDS if key in vector_input}
    arguments["amount_minor"] = amount_in_cents(vector_input["amount"], vector_input["amount_type"])
    if "encoding" in vector_input:
        convert = {"int": int, "float": float, "bytes": str.encode, "str": str}
        arguments["encoding"] = convert[vector_input["encoding_type"]](vector_input["encoding"])
    return arguments


def render_and_scan(payload: str) -> zxingcpp.Barcode:
    image = Image.open(io.BytesIO(qr.render_png(payload, ec_level="M")))
    barcode = zxingcpp.read_barcode(image)
    assert barcode is not None
    return barcode


# --- the shared vectors (extracted from segno's EPC tests) -------------------------------------


@pytest.mark.parametrize("vector", vector_cases("encode_example"))
def test_epc_payload_matches_the_epc069_12_examples(vector: dict[str, Any]) -> None:
    payload = epc_payload(**api_arguments(vector["input"]))
    lines = payload.split("\n")
    assert len(lines) == vector["expected_line_count"]
    for index, expected in enumerate(vector["expected_lines"]):
        if index == 2:
            # segno picks the narrowest character set when none is given; paydue always UTF-8
            assert lines[2] == str(vector["input"].get("encoding", 1))
        elif expected is not None:
            assert lines[index] == expected, f"line {index + 1}"
    expected_payload = vector["computed_payload"].split("\n")
    expected_payload[2] = lines[2]
    assert lines == expected_payload
    codec = vector["computed_payload_encoding"]
    assert len(payload.encode(codec)) == vector["expected_byte_length"]


@pytest.mark.parametrize("vector", vector_cases("encode_example"))
def test_epc_payload_is_the_same_for_every_way_of_writing_the_amount(
    vector: dict[str, Any],
) -> None:
    payloads = {
        epc_payload(**api_arguments(vector["input"] | variant))
        for variant in vector["amount_input_variants"]
    }
    assert len(payloads) == 1


@pytest.mark.parametrize("vector", vector_cases("amount_format"))
def test_epc_payload_writes_the_amount_without_trailing_zeros(vector: dict[str, Any]) -> None:
    payload = epc_payload(**api_arguments(vector["input"]))
    assert payload.split("\n")[7] == vector["expected_amount_line"]
    if "expected_byte_length" in vector:
        assert len(payload.encode("iso-8859-1")) == vector["expected_byte_length"]


@pytest.mark.parametrize("vector", vector_cases("invalid_amount"))
def test_epc_payload_rejects_amounts_outside_one_cent_to_a_billion(vector: dict[str, Any]) -> None:
    arguments = api_arguments(vector["input"])
    if arguments["amount_minor"] is None:
        # sub-cent amounts cannot even be expressed in integer cents
        assert vector["reason"] in ("below 0.01", "three decimals")
        return
    with pytest.raises(EpcError, match=r"^amount: "):
        epc_payload(**arguments)


@pytest.mark.parametrize(
    "vector",
    vector_cases(
        "invalid_bic",
        "invalid_encoding",
        "invalid_iban",
        "invalid_purpose",
        "invalid_name",
        "text_too_long",
        "reference_too_long",
        "missing_text_and_reference",
    ),
)
def test_epc_payload_rejects_the_invalid_vectors_naming_the_field(vector: dict[str, Any]) -> None:
    field = vector["expected_error_mentions"]
    with pytest.raises(EpcError, match=rf"^{field}: "):
        epc_payload(**api_arguments(vector["input"]))


@pytest.mark.parametrize("vector", vector_cases("charset_number", "charset_selection"))
def test_epc_payload_writes_the_character_set_number(vector: dict[str, Any]) -> None:
    arguments = api_arguments(vector["input"])
    if isinstance(arguments.get("encoding"), str):
        arguments["encoding"] = CHARSET_NUMBERS[arguments["encoding"].lower()]
    assert epc_payload(**arguments).split("\n")[2] == vector["expected_charset_field"]


@pytest.mark.parametrize("vector", vector_cases("charset_name"))
def test_epc_payload_takes_character_sets_by_number_not_by_name(vector: dict[str, Any]) -> None:
    arguments = api_arguments(vector["input"])
    with pytest.raises(EpcError, match=r"^encoding: "):
        epc_payload(**arguments)
    arguments["encoding"] = CHARSET_NUMBERS[arguments["encoding"].lower()]
    assert epc_payload(**arguments).split("\n")[2] == vector["expected_charset_field"]


@pytest.mark.parametrize("vector", vector_cases("text_roundtrip"))
def test_epc_payload_keeps_slashes_in_the_text_through_a_scan(vector: dict[str, Any]) -> None:
    payload = epc_payload(**api_arguments(vector["input"]))
    expected = vector["computed_payload"].split("\n")
    expected[2] = "1"
    assert payload.split("\n") == expected
    assert vector["expected_decoded_contains"] in render_and_scan(payload).text


# --- a scanned round trip, field by field against EPC069-12 ------------------------------------


def test_epc_qr_scans_back_with_every_field_as_epc069_12_defines_it() -> None:
    reference = rf_for_sequence(4711)
    payload = epc_payload(
        name="Stadtwerke Müllheim GmbH",
        iban="DE71 1102 2033 0123 4567 89",
        bic="BHBLDEHHXXX",
        amount_minor=123_456,
        purpose="GDDS",
        reference=reference,
        information="Danke für Ihre Zahlung: 5 € Bonus",
    )
    barcode = render_and_scan(payload)
    assert barcode.ec_level == "M"
    assert barcode.text == payload
    assert barcode.bytes == payload.encode("utf-8"), "charset 1 means the symbol holds UTF-8"

    lines = barcode.text.split("\n")
    assert len(lines) == 12
    tag, version, charset, identification, bic, name, iban, amount, purpose = lines[:9]
    structured, unstructured, information = lines[9:]
    assert (tag, version, charset, identification) == ("BCD", "002", "1", "SCT")
    assert BIC(bic).compact == bic == "BHBLDEHHXXX"
    assert name == "Stadtwerke Müllheim GmbH"
    assert 1 <= len(name) <= 70
    assert IBAN(iban).compact == iban == "DE71110220330123456789"
    assert re.fullmatch(r"EUR\d{1,9}(\.\d{1,2})?", amount)
    assert amount == "EUR1234.56"
    assert re.fullmatch(r"[A-Z]{4}", purpose)
    assert iso11649.is_valid(structured)
    assert structured == reference
    assert unstructured == ""
    assert information == "Danke für Ihre Zahlung: 5 € Bonus"
    assert len(barcode.bytes) <= 331


def test_epc_qr_with_unstructured_text_leaves_the_reference_line_empty() -> None:
    payload = epc_payload(
        name="Gemeinde Öhringen",
        iban="FR1420041010050500013M02606",
        amount_minor=None,
        text="Rechnung 2024-17 Kundennr. 4711",
    )
    lines = render_and_scan(payload).text.split("\n")
    assert lines[4] == "", "BIC is optional in version 002"
    assert lines[7] == "", "no amount: the payer enters it"
    assert lines[8:] == ["", "", "Rechnung 2024-17 Kundennr. 4711"]


# --- payload rules --------------------------------------------------------------------------


def valid_arguments(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "name": "Stadtwerke Müllheim GmbH",
        "iban": "DE71110220330123456789",
        "amount_minor": 1230,
        "reference": "RF18539007547034",
    }
    return arguments | changes


@pytest.mark.parametrize(
    ("cents", "line"),
    [
        (1, "EUR0.01"),
        (10, "EUR0.1"),
        (500, "EUR5"),
        (1230, "EUR12.3"),
        (99_999_999_999, "EUR999999999.99"),
    ],
)
def test_epc_payload_writes_cents_as_euro_without_trailing_zeros(cents: int, line: str) -> None:
    assert epc_payload(**valid_arguments(amount_minor=cents)).split("\n")[7] == line


def test_epc_payload_ends_at_the_last_filled_field() -> None:
    assert epc_payload(**valid_arguments()).endswith("\nEUR12.3\n\nRF18539007547034")


def test_epc_payload_normalises_iban_bic_and_reference_to_their_compact_form() -> None:
    payload = epc_payload(
        **valid_arguments(
            iban="de71 1102 2033 0123 4567 89", bic="bhbldehhxxx", reference="rf18 5390 0754 7034"
        )
    )
    lines = payload.split("\n")
    assert (lines[4], lines[6], lines[9]) == (
        "BHBLDEHHXXX",
        "DE71110220330123456789",
        "RF18539007547034",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"iban": "DE72110220330123456789"}, "IBAN"),
        ({"currency": "CHF"}, "currency"),
        ({"amount_minor": 0}, "amount"),
        ({"amount_minor": -5}, "amount"),
        ({"amount_minor": 100_000_000_000}, "amount"),
        ({"text": "Invoice 17"}, "reference"),
        ({"reference": "RF19539007547034"}, "reference"),
        ({"name": "x" * 71}, "name"),
        ({"name": "Evil\nDE00"}, "name"),
        ({"version": "003"}, "version"),
        ({"version": "001"}, "BIC"),
        ({"encoding": 2}, "encoding"),
        ({"encoding": True}, "encoding"),
        ({"information": "y" * 71}, "information"),
        ({"purpose": "GDD$"}, "purpose"),
        ({"name": "€" * 70, "reference": None, "text": "€" * 140}, "payload"),
    ],
    ids=[
        "iban_checksum",
        "currency_not_eur",
        "amount_zero",
        "amount_negative",
        "amount_too_large",
        "reference_and_text_together",
        "reference_checksum",
        "name_over_70",
        "name_with_line_break",
        "unknown_version",
        "version_001_without_bic",
        "latin1_charset_with_non_ascii_text",
        "charset_bool",
        "information_over_70",
        "purpose_not_alphanumeric",
        "payload_over_331_bytes",
    ],
)
def test_epc_payload_rejects_bad_input_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(EpcError, match=rf"^{field}: "):
        epc_payload(**valid_arguments(**changes))


def test_epc_payload_rejects_reference_and_text_together() -> None:
    with pytest.raises(EpcError, match="not both"):
        epc_payload(**valid_arguments(text="Invoice 17"))


def test_epc_error_is_a_value_error() -> None:
    assert issubclass(EpcError, ValueError)

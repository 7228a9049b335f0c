"""The shared reference vectors: valid ones are found inside noisy text, invalid ones never."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paydue.domain.remittance import Scheme, find_ogm, find_qrr, find_rf, parse_reference
from tests.samples import sample_path

NOISE = "Zahlung fuer Rechnung vom 02.04.2026,\nKunde 4711 -- ref: {} / danke schoen"


def _vectors(name: str) -> list[dict[str, Any]]:
    data = json.loads(sample_path("qr", name).read_text(encoding="utf-8"))
    return list(data["vectors"])


def _validate(name: str, valid: bool) -> list[dict[str, Any]]:
    return [v for v in _vectors(name) if v["kind"] == "validate" and v["valid"] is valid]


def _noisy_forms(reference: str) -> list[str]:
    """The reference as payers write it: as given, compact, lower case, broken over a line."""
    compact = "".join(reference.split())
    middle = len(compact) // 2
    return [
        NOISE.format(reference),
        NOISE.format(compact),
        NOISE.format(reference.lower()),
        NOISE.format(f"{compact[:middle]}\n{compact[middle:]}"),
    ]


def test_every_valid_rf_vector_is_found_in_noisy_text() -> None:
    vectors = _validate("vectors_iso11649.json", valid=True)
    assert len(vectors) > 100
    for vector in vectors:
        expected = "".join(vector["input"].split()).upper()
        for text in _noisy_forms(vector["input"]):
            assert expected in find_rf(text), (vector["id"], text)


def test_invalid_rf_vectors_are_never_found() -> None:
    for vector in _validate("vectors_iso11649.json", valid=False):
        for text in _noisy_forms(vector["input"]):
            assert find_rf(text) == [], (vector["id"], text)


def test_valid_ogm_vector_is_found_with_or_without_plus_and_slashes() -> None:
    for vector in _validate("vectors_be_ogm_vcs.json", valid=True):
        compact = vector["expected_compact"]
        digits_only = vector["input"].strip("+").replace("/", "")
        for text in [*_noisy_forms(vector["input"]), NOISE.format(digits_only)]:
            assert compact in find_ogm(text), (vector["id"], text)


def test_invalid_ogm_vector_is_never_found() -> None:
    for vector in _validate("vectors_be_ogm_vcs.json", valid=False):
        for text in _noisy_forms(vector["input"]):
            assert find_ogm(text) == [], (vector["id"], text)


def test_ogm_check_digit_vector_completes_a_valid_communication() -> None:
    (vector,) = [v for v in _vectors("vectors_be_ogm_vcs.json") if v["kind"] == "check_digits"]
    full = vector["input"] + vector["expected_check_digits"]
    assert find_ogm(NOISE.format(full)) == [full]


def _qrr_27(vector: dict[str, Any]) -> str:
    return str(vector.get("computed_27_digits") or vector["expected_compact"])


def test_every_valid_esr_vector_is_found_in_noisy_text_in_its_27_digit_form() -> None:
    vectors = _validate("vectors_ch_qrr_esr.json", valid=True)
    assert len(vectors) >= 10
    for vector in vectors:
        full = _qrr_27(vector)
        for text in _noisy_forms(full):
            assert full in find_qrr(text), (vector["id"], text)


@pytest.mark.parametrize("field_form", ["as printed", "compact"])
def test_short_esr_forms_are_read_as_a_whole_structured_reference(field_form: str) -> None:
    for vector in _validate("vectors_ch_qrr_esr.json", valid=True):
        field = vector["input"] if field_form == "as printed" else "".join(vector["input"].split())
        found = parse_reference(field)
        assert found is not None, vector["id"]
        assert (found.scheme, found.value) == (Scheme.QRR, _qrr_27(vector))


def test_invalid_esr_vectors_are_never_found() -> None:
    for vector in _validate("vectors_ch_qrr_esr.json", valid=False):
        for text in _noisy_forms(vector["input"]):
            assert find_qrr(text) == [], (vector["id"], text)
        assert parse_reference(vector["input"]) is None, vector["id"]


def test_every_generated_qr_reference_is_found_in_noisy_text() -> None:
    # The rejected generator inputs are not checked: they are refused as *inputs* to a generator
    # (too long, all zeros), and one of them happens to be a valid 27-digit reference itself.
    vectors = [v for v in _vectors("vectors_ch_qrr_sprain.json") if v["valid"]]
    assert vectors
    for vector in vectors:
        reference = vector["expected_reference"]
        grouped = " ".join([reference[:2], *(reference[i : i + 5] for i in range(2, 27, 5))])
        for text in [*_noisy_forms(reference), NOISE.format(grouped)]:
            assert reference in find_qrr(text), (vector["id"], text)

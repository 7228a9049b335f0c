"""ISO 11649 RF references against the shared vectors (python-stdnum and php-swiss-qr-bill)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paydue.adapters.formats.epc_qr import epc_payload
from paydue.domain.references import format_rf, is_valid_rf, make_rf, normalise_rf
from tests.samples import sample_path, samples_available


def load_vectors(*names: str) -> list[dict[str, Any]]:
    if not samples_available():
        return []
    vectors: list[dict[str, Any]] = []
    for name in names:
        with sample_path("qr", name).open(encoding="utf-8") as file:
            vectors += json.load(file)["vectors"]
    return vectors


VECTORS = load_vectors("vectors_iso11649.json", "vectors_iso11649_sprain.json")


def cases(kind: str, *, valid: bool | None = None) -> Any:
    """Vectors of one kind (and validity) as pytest params; one skipped param without samples."""
    selected = [
        pytest.param(v, id=v["id"])
        for v in VECTORS
        if v["kind"] == kind and (valid is None or v["valid"] is valid)
    ]
    return selected or [pytest.param(None, marks=pytest.mark.skip(reason="no vectors available"))]


@pytest.mark.parametrize("vector", cases("validate", valid=True))
def test_valid_references_validate_and_normalise_to_their_compact_form(
    vector: dict[str, Any],
) -> None:
    assert is_valid_rf(vector["input"])
    compact = normalise_rf(vector["input"])
    assert compact == vector.get("expected_compact", vector["input"].replace(" ", "").upper())


@pytest.mark.parametrize("vector", cases("validate", valid=False))
def test_invalid_references_do_not_validate(vector: dict[str, Any]) -> None:
    assert not is_valid_rf(vector["input"])
    with pytest.raises(ValueError, match="not a valid ISO 11649 reference"):
        normalise_rf(vector["input"])


@pytest.mark.parametrize("vector", cases("format"))
def test_references_print_in_groups_of_four(vector: dict[str, Any]) -> None:
    assert format_rf(vector["input"]) == vector["expected_formatted"]


@pytest.mark.parametrize("vector", cases("generate", valid=True))
def test_make_rf_adds_the_check_digits_to_the_body(vector: dict[str, Any]) -> None:
    reference = make_rf(vector["input"])
    assert reference == vector["computed_rf_uppercase"]
    assert vector["expected_output_contains_ignoring_case_and_blanks"].upper() in reference
    assert is_valid_rf(reference)


@pytest.mark.parametrize("vector", cases("generate", valid=False))
def test_make_rf_rejects_bodies_that_are_not_1_to_21_letters_or_digits(
    vector: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        make_rf(vector["input"])


@pytest.mark.parametrize("vector", cases("validate_optional_field"))
def test_an_absent_reference_is_not_checked_when_a_text_is_given(vector: dict[str, Any]) -> None:
    payload = epc_payload(
        name="Stadtwerke",
        iban="DE71110220330123456789",
        amount_minor=100,
        reference=vector["input"],
        text="Invoice 17",
    )
    assert payload.split("\n")[9:] == ["", "Invoice 17"]


@pytest.mark.parametrize("body", ["\uff11\uff12\uff13", "ß", "123ä"])
def test_make_rf_rejects_non_ascii_bodies(body: str) -> None:
    with pytest.raises(ValueError, match="letters or digits"):
        make_rf(body)

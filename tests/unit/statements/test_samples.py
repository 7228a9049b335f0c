"""Every real statement file in the shared samples parses; the ones meant to be rejected are."""

from __future__ import annotations

import pytest

from paydue.adapters.formats.statements import StatementFormatError, detect_format, parse_statement
from tests.samples import (
    REJECTED_STATEMENTS,
    sample_path,
    statement_files,
)

REJECTED = REJECTED_STATEMENTS


FILES = statement_files()
skip_without_samples = pytest.mark.skipif(not FILES, reason="shared samples folder is absent")


@skip_without_samples
@pytest.mark.parametrize(("folder", "name"), [f for f in FILES if f not in REJECTED])
def test_every_sample_statement_parses_into_balanced_typed_lines(folder: str, name: str) -> None:
    data = sample_path(folder, name).read_bytes()
    assert detect_format(data) == ("camt" if folder == "camt" else "mt940")
    statements = parse_statement(data)
    assert statements
    for statement in statements:
        assert statement.format.startswith("camt.05" if folder == "camt" else "mt940")
        for line in statement.lines:
            assert isinstance(line.amount, int)
            assert len(line.currency) == 3
            assert len(line.fingerprint) == 32
        fingerprints = [line.fingerprint for line in statement.lines]
        assert len(set(fingerprints)) == len(fingerprints)


@skip_without_samples
@pytest.mark.parametrize(("folder", "name"), sorted(REJECTED))
def test_a_file_that_is_not_mt940_is_rejected_naming_the_line(folder: str, name: str) -> None:
    with pytest.raises(StatementFormatError) as error:
        parse_statement(sample_path(folder, name).read_bytes())
    assert error.value.where == "line 1"
    assert ":9401:" in str(error.value)


def test_parsing_the_same_file_twice_gives_the_same_fingerprints() -> None:
    data = sample_path("camt", "oca_test-camt053.xml").read_bytes()
    first, second = parse_statement(data), parse_statement(data)
    assert [line.fingerprint for line in first[0].lines] == [
        line.fingerprint for line in second[0].lines
    ]


def test_identical_lines_in_one_statement_get_different_fingerprints_by_position() -> None:
    (statement,) = parse_statement(sample_path("mt940", "wolph-self_raphaelm.sta").read_bytes())[:1]
    identical = [line for line in statement.lines if line.bank_transaction_code == "S051"]
    assert len(identical) >= 2
    assert len({line.fingerprint for line in identical}) == len(identical)


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("viafintech_camt053_valid_example_v4.xml", "camt"),  # 13 entries split into 32 lines
        ("oca_test-camt053-txdtls.xml", "camt"),
        ("wolph-betterplace_sepa_mt9401.sta", "mt940"),  # 26 statements, RC/RD reversals
    ],
)
def test_opening_balance_plus_lines_equals_closing_balance(name: str, folder: str) -> None:
    for statement in parse_statement(sample_path(folder, name).read_bytes()):
        assert statement.opening_balance is not None
        assert statement.closing_balance is not None
        total = statement.opening_balance.amount + sum(line.amount for line in statement.lines)
        assert total == statement.closing_balance.amount

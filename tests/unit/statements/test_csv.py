"""CSV statements read with the issuer's column mapping: values, layouts and refusals."""

from __future__ import annotations

from datetime import date

import pytest

from paydue.adapters.formats.statements import CsvMapping, StatementFormatError, parse_statement
from paydue.adapters.formats.statements.csv import parse

GERMAN = CsvMapping(
    booking_date="Buchungstag",
    value_date="Valuta",
    amount="Betrag",
    currency="Währung",
    counterparty_name="Name",
    counterparty_iban="IBAN",
    counterparty_bic="BIC",
    remittance_text="Verwendungszweck",
    end_to_end_id="EREF",
    bank_reference="Bankreferenz",
    thousands_separator=".",
    encoding="cp1252",
)

GERMAN_FILE = (
    "Buchungstag;Valuta;Name;IBAN;BIC;Verwendungszweck;EREF;Bankreferenz;Betrag;Währung\r\n"
    "20.11.2026;21.11.2026;Jürgen Müller;DE02120300000000202051;BYLADEM1001;"
    '"Rechnung 2026-0001; danke";E2E-1;B-1;1.234,50;EUR\r\n'
    "\r\n"
    "22.11.2026;;Stadtwerke;;;Lastschrift;;B-2;-12,00;eur\r\n"
).encode("cp1252")


def test_a_german_export_is_read_with_its_mapping() -> None:
    statement = parse(GERMAN_FILE, GERMAN)
    first, second = statement.lines
    assert (first.booking_date, first.value_date) == (date(2026, 11, 20), date(2026, 11, 21))
    assert (first.amount, first.currency) == (123450, "EUR")
    assert first.counterparty_name == "Jürgen Müller"
    assert first.counterparty_iban == "DE02120300000000202051"
    assert first.remittance_text == "Rechnung 2026-0001; danke"
    assert (first.end_to_end_id, first.bank_reference) == ("E2E-1", "B-1")
    assert (second.amount, second.currency, second.value_date) == (-1200, "EUR", None)
    assert second.counterparty_iban is None
    assert first.fingerprint != second.fingerprint
    assert statement.format == "csv"


def test_credit_and_debit_columns_a_fixed_currency_and_positions_without_a_header() -> None:
    mapping = CsvMapping(
        booking_date=1,
        credit=3,
        debit=4,
        fixed_currency="EUR",
        remittance_text=2,
        delimiter=",",
        decimal_separator=".",
        date_format="%Y-%m-%d",
        header_row=False,
        skip_rows=1,
    )
    data = b"Account statement 4711\n2026-11-20,Invoice 1,100.50,\n2026-11-21,Fee,,2.5\n"
    lines = parse(data, mapping).lines
    assert [(line.amount, line.currency) for line in lines] == [(10050, "EUR"), (-250, "EUR")]


@pytest.mark.parametrize(
    ("row", "where", "reason"),
    [
        ("32.11.2026;;;;;x;;;1,00;EUR", "row 3, column 'Buchungstag'", "not a date"),
        ("20.11.2026;;;;;x;;;1,2,3;EUR", "row 3, column 'Betrag'", "not an amount"),
        ("20.11.2026;;;;;x;;;1,005;EUR", "row 3, column 'Betrag'", "decimal places"),
        ("20.11.2026;;;;;x;;;;EUR", "row 3, column 'Betrag'", "missing"),
        ("20.11.2026;;;;;x;;;1,00;Euro", "row 3, column 'Währung'", "currency code"),
    ],
)
def test_a_bad_value_refuses_the_whole_file_naming_row_and_column(
    row: str, where: str, reason: str
) -> None:
    data = GERMAN_FILE.split(b"\r\n\r\n")[0] + b"\r\n" + row.encode("cp1252") + b"\r\n"
    with pytest.raises(StatementFormatError) as caught:
        parse(data, GERMAN)
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_a_header_without_a_mapped_column_is_refused() -> None:
    with pytest.raises(StatementFormatError, match="no column 'Betrag'"):
        parse(GERMAN_FILE.replace(b"Betrag", b"Amount"), GERMAN)


def test_text_that_is_not_in_the_encoding_is_refused_naming_the_line() -> None:
    mapping = CsvMapping.from_dict({**GERMAN.as_dict(), "encoding": "utf-8"})
    with pytest.raises(StatementFormatError) as caught:
        parse(GERMAN_FILE, mapping)
    assert caught.value.where == "line 1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": None}, "either 'amount' or 'credit' and 'debit'"),
        ({"credit": "Haben"}, "either 'amount' or 'credit' and 'debit'"),
        ({"fixed_currency": "EUR"}, "either a 'currency' column or a 'fixed_currency'"),
        ({"decimal_separator": ";"}, "decimal_separator"),
        ({"encoding": "klingon"}, "unknown encoding"),
        ({"amount": 9}, "header name"),
        ({"colour": "red"}, "unknown mapping field"),
    ],
)
def test_a_mapping_that_cannot_read_any_file_is_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CsvMapping.from_dict({**GERMAN.as_dict(), **change})


def test_a_csv_file_is_read_only_with_a_mapping() -> None:
    with pytest.raises(StatementFormatError, match="column mapping"):
        parse_statement(GERMAN_FILE)
    [statement] = parse_statement(GERMAN_FILE, GERMAN)
    assert len(statement.lines) == 2

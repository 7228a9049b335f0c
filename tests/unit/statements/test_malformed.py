"""Input that cannot be read is refused as a whole, with the place and the reason."""

from __future__ import annotations

import pytest

from paydue.adapters.formats.statements import (
    StatementFormatError,
    camt,
    detect_format,
    mt940,
    parse_statement,
)
from tests.samples import sample_path

STMT = "/Document/BkToCstmrStmt/Stmt[1]"


def _camt(entry: str, *, created: str = "<CreDtTm>2024-01-02T10:00:00Z</CreDtTm>") -> bytes:
    return (
        '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        f"<BkToCstmrStmt><Stmt><Id>S1</Id>{created}<Acct><Id><IBAN>DE02120300000000202051"
        f"</IBAN></Id></Acct>{entry}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


GOOD_ENTRY = (
    '<Ntry><Amt Ccy="EUR">12.30</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
    "<BookgDt><Dt>2024-01-02</Dt></BookgDt></Ntry>"
)


def test_a_minimal_hand_written_camt_entry_parses() -> None:
    (statement,) = camt.parse(_camt(GOOD_ENTRY))
    assert statement.lines[0].amount == 1230


def test_truncated_xml_names_the_line_where_it_stops() -> None:
    data = sample_path("camt", "oca_test-camt053.xml").read_bytes()
    with pytest.raises(StatementFormatError) as error:
        camt.parse(data[: len(data) // 2])
    assert error.value.where.startswith("line ")
    assert "not well-formed" in error.value.reason


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        (GOOD_ENTRY.replace('<Amt Ccy="EUR">12.30</Amt>', ""), f"{STMT}/Ntry[1]/Amt"),
        (GOOD_ENTRY.replace("12.30", "12,30"), f"{STMT}/Ntry[1]/Amt"),
        (GOOD_ENTRY.replace("12.30", "12.345"), f"{STMT}/Ntry[1]/Amt"),
        (GOOD_ENTRY.replace(' Ccy="EUR"', ""), f"{STMT}/Ntry[1]/Amt/@Ccy"),
        (GOOD_ENTRY.replace("CRDT", "CREDIT"), f"{STMT}/Ntry[1]/CdtDbtInd"),
        (
            GOOD_ENTRY.replace("<Dt>2024-01-02</Dt>", "<Dt>2024-02-30</Dt>"),
            f"{STMT}/Ntry[1]/BookgDt",
        ),
    ],
    ids=[
        "no-amount",
        "comma-amount",
        "too-many-decimals",
        "no-currency",
        "bad-indicator",
        "bad-date",
    ],
)
def test_an_entry_with_a_missing_or_bad_mandatory_element_names_its_path(
    entry: str, where: str
) -> None:
    with pytest.raises(StatementFormatError) as error:
        camt.parse(_camt(GOOD_ENTRY + entry))
    assert error.value.where == where.replace("Ntry[1]", "Ntry[2]")


def test_an_entry_without_any_date_is_refused_at_its_booking_date() -> None:
    undated = GOOD_ENTRY.replace("<BookgDt><Dt>2024-01-02</Dt></BookgDt>", "")
    with pytest.raises(StatementFormatError) as error:
        camt.parse(_camt(undated, created=""))
    assert error.value.where == f"{STMT}/Ntry[1]/BookgDt"


def test_xml_with_a_doctype_is_refused_and_entities_are_never_expanded() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + _camt(GOOD_ENTRY.replace("12.30", "&x;")).split(b"?>", 1)[1]
    )
    with pytest.raises(StatementFormatError) as error:
        camt.parse(hostile)
    assert "DOCTYPE" in error.value.reason


def test_xml_that_is_not_a_camt_document_is_refused() -> None:
    with pytest.raises(StatementFormatError) as error:
        camt.parse(b"<Invoice><ID>1</ID></Invoice>")
    assert error.value.where == "/Invoice"


MT940 = (
    ":20:REF\n:25:NL91ABNA0417164300\n:28C:1/1\n:60F:C240101EUR100,00\n{line}\n"
    ":62F:C240102EUR101,00\n-\n"
)


def test_a_broken_61_line_is_refused_naming_its_line_number() -> None:
    with pytest.raises(StatementFormatError) as error:
        mt940.parse(MT940.format(line=":61:2401X1C1,00NTRFNONREF").encode())
    assert error.value.where == "line 5"
    assert ":61:" in error.value.reason


def test_a_broken_balance_is_refused_naming_its_line_number() -> None:
    data = MT940.format(line=":61:240102C1,00NTRFNONREF").replace("C240101EUR", "X240101EUR")
    with pytest.raises(StatementFormatError) as error:
        mt940.parse(data.encode())
    assert error.value.where == "line 4"


def test_text_without_any_mt940_field_is_refused() -> None:
    with pytest.raises(StatementFormatError):
        mt940.parse(b"hello\nworld\n")


def test_a_csv_statement_is_recognised_but_needs_a_column_mapping() -> None:
    data = b"date;amount;text\n2024-01-02;12.30;invoice 1\n"
    assert detect_format(data) == "csv"
    with pytest.raises(StatementFormatError) as error:
        parse_statement(data)
    assert "column mapping" in error.value.reason


def test_content_of_no_known_format_is_refused() -> None:
    with pytest.raises(StatementFormatError):
        detect_format(b"\x00\x01binary")

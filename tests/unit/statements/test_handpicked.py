"""Field-level checks on chosen samples: notifications, batches, namespaces, dates, dialects."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paydue.adapters.formats.statements import Balance, Statement, parse_statement
from tests.samples import sample_path


def _parse(folder: str, name: str) -> list[Statement]:
    return parse_statement(sample_path(folder, name).read_bytes())


def test_camt054_notification_reports_its_message_type_and_swiss_qr_reference() -> None:
    (notification,) = _parse("camt", "oca_test-camt054.xml")
    assert notification.format == "camt.054.001.04"
    (line,) = notification.lines
    assert (line.amount, line.currency) == (500, "EUR")
    assert line.structured_reference == "000000000000000000000000003"
    assert line.end_to_end_id == "ENDTOENDID-01"
    assert line.bank_reference == "15180015077602405"


def test_batch_entry_is_split_into_one_line_per_transaction_with_the_entry_booking_date() -> None:
    (statement,) = _parse("camt", "oca_test-camt053-txdtls.xml")
    first, second = statement.lines
    assert (first.amount, second.amount) == (218700, 129600)
    assert first.is_batch_part
    assert second.is_batch_part
    assert first.booking_date == second.booking_date == date(2017, 3, 22)
    assert first.structured_reference == "302388292000011111111111111"
    assert second.structured_reference == "302388292000022222222222222"
    assert first.batch_id == second.batch_id is not None


def test_batch_whose_transactions_carry_no_amounts_stays_one_line_for_the_entry() -> None:
    (notification,) = _parse("camt", "genkgo_camt054.v2.xml")
    (line,) = notification.lines
    assert (line.amount, line.currency, line.is_batch_part) == (-20000000, "SEK", False)
    assert line.remittance_text is not None
    assert "Unstructured Remittance Information V1" in line.remittance_text


def test_reversal_carries_its_return_reason_code() -> None:
    (statement,) = _parse("camt", "oca_test-camt053.xml")
    reversals = [line for line in statement.lines if line.is_reversal]
    assert [line.return_reason for line in reversals] == ["AC06", "AC06"]


def test_austrian_stuzza_namespace_reads_like_camt053_001_02() -> None:
    (statement,) = _parse("camt", "viafintech_camt053_valid_example_stuzza.xml")
    assert statement.format == "camt.053.001.02"
    assert statement.account == "AT021200000703447144"
    assert [line.structured_reference for line in statement.lines] == [
        "201912341234",
        "201912341234",
        "2019456456",
    ]
    assert [line.amount for line in statement.lines] == [5000, 10000, 25000]


def test_camt053_v10_with_date_times_keeps_the_booking_date_and_creation_time() -> None:
    (statement,) = _parse("camt", "viafintech_camt053_valid_example_with_datetime_v10.xml")
    assert statement.format == "camt.053.001.10"
    assert statement.account == "11111111"
    assert statement.created_at == datetime(2023, 7, 6, 10, 27, 7, 213294, tzinfo=UTC)
    assert statement.closing_balance == Balance(60680, "USD", date(2023, 7, 7))
    (line,) = statement.lines
    assert (line.booking_date, line.amount, line.entry_reference) == (
        date(2023, 6, 21),
        19586,
        "Test Buchung",
    )


def test_valid_rf_creditor_reference_and_foreign_currency_debit_on_a_chf_account() -> None:
    (statement,) = _parse("camt", "viafintech_camt053_valid_example_v8.xml")
    invoice, rf, foreign = statement.lines
    assert invoice.remittance_text == "INVOICE R77561"
    assert rf.structured_reference == "RF38000000000000000000552"
    assert (foreign.amount, foreign.currency) == (-2097, "EUR")


def test_notification_without_booking_date_falls_back_to_its_creation_date() -> None:
    (notification,) = _parse("camt", "genkgo_camt054.v8-with-UETR.xml")
    assert notification.lines[0].booking_date == date(2007, 10, 18)


def test_mt940_february_30_is_read_as_the_last_day_of_february() -> None:
    (statement,) = _parse("mt940", "wolph-self_february_30.sta")
    (line,) = statement.lines
    assert line.value_date == date(2016, 2, 29)
    assert line.booking_date == date(2016, 3, 1)
    assert line.amount == -600


def test_mt940_dutch_ing_subfields_give_counterparty_reference_and_return_code() -> None:
    (statement,) = _parse("mt940", "oca_test-ing.940")
    returned = statement.lines[2]
    assert returned.return_reason == "MS03"
    assert returned.counterparty_name == "J.Janssen"
    assert returned.counterparty_iban == "NL32INGB0000012345"
    assert returned.remittance_text == "Factuurnr 123456 Klantnr 00123"
    direct_debit = statement.lines[3]  # :86: wrapped mid-token, with a lone '-' line inside
    assert direct_debit.end_to_end_id == "EV123REP123412T1234"
    assert direct_debit.remittance_text == "EV123REP123412T1234"


def test_mt940_mollie_settlement_carries_the_payment_id_as_end_to_end_id() -> None:
    (statement,) = _parse("mt940", "oca_mollie_Voorbeeld_MT-940.mt940")
    first = statement.lines[0]
    assert first.end_to_end_id == "tr_XXXXXXXXX"
    assert first.counterparty_bic == "RABONL2U"
    assert first.remittance_text == "Order 123"


def test_mt940_swift_envelope_and_currency_in_account_field() -> None:
    statements = _parse("mt940", "wolph-ASNB_mt940.txt")
    assert statements[0].account == "NL81ASNB9999999999"
    assert statements[0].lines[0].counterparty_iban == "NL47INGB9999999999"
    (only,) = _parse("mt940", "wolph-betterplace_currency_in_25.sta")
    assert (only.account, only.currency) == ("51210600/9223382012", "EUR")


def test_mt940_tag_broken_over_lines_and_german_svwz_purpose() -> None:
    (statement,) = _parse("mt940", "wolph-self_sparkassen.sta")
    (line,) = statement.lines
    assert (line.amount, line.remittance_text, line.bank_transaction_code) == (3000, "Test", "166")
    assert line.currency == "XXX"  # a fragment without balances names no currency


def test_mt942_interim_report_takes_currency_from_floor_limit_and_time_from_13d() -> None:
    (report,) = _parse("mt940", "wolph-mBank_mt942.sta")
    assert report.currency == "PLN"
    assert report.created_at is not None
    assert report.created_at.isoformat() == "2017-01-19T18:15:00+01:00"
    assert [line.amount for line in report.lines] == [1, 1, 1]

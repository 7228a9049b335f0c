"""Money: integer minor units and ISO 4217 currencies; decimal text converted without rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydue.domain.money import (
    MAX_AMOUNT,
    Money,
    MoneyError,
    check_amount,
    check_currency,
    currency_exponent,
    parse_decimal,
)


@pytest.mark.parametrize(
    ("currency", "exponent"), [("EUR", 2), ("USD", 2), ("CHF", 2), ("JPY", 0), ("KWD", 3)]
)
def test_currency_exponent_follows_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1234.50", "EUR", 123450),
        ("0.01", "EUR", 1),
        ("12", "EUR", 1200),
        (" 99.9 ", "EUR", 9990),
        ("1234", "JPY", 1234),
        ("1234.", "JPY", 1234),
        ("1.234", "KWD", 1234),
        ("0.5", "KWD", 500),
    ],
)
def test_parse_decimal_converts_to_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_decimal(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "complaint"),
    [
        ("1.234", "EUR", "more than 2 decimal places"),
        ("12.5", "JPY", "more than 0 decimal places"),
        ("1.2345", "KWD", "more than 3 decimal places"),
        ("abc", "EUR", "not a decimal amount"),
        ("", "EUR", "not a decimal amount"),
        ("12,50", "EUR", "not a decimal amount"),
        ("NaN", "EUR", "not a decimal amount"),
        ("sNaN", "EUR", "not a decimal amount"),
        ("Infinity", "EUR", "not a decimal amount"),
        ("-Infinity", "EUR", "not a decimal amount"),
    ],
)
def test_parse_decimal_refuses_instead_of_rounding_or_guessing(
    text: str, currency: str, complaint: str
) -> None:
    with pytest.raises(MoneyError, match=complaint):
        parse_decimal(text, currency)


def test_parse_decimal_refuses_an_unknown_currency() -> None:
    with pytest.raises(MoneyError, match="ISO 4217"):
        parse_decimal("1.00", "XXY")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_parse_decimal_inverts_printing_cents(n: int) -> None:
    assert parse_decimal(str(Decimal(n).scaleb(-2)), "EUR") == n


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["JPY", "EUR", "KWD"]))
def test_parse_decimal_inverts_money_to_decimal_in_every_exponent(n: int, currency: str) -> None:
    assert parse_decimal(str(Money(n, currency).to_decimal()), currency) == n


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD", "CHF", "SEK"])
def test_check_currency_accepts_iso_codes(code: str) -> None:
    assert check_currency(code) == code


@pytest.mark.parametrize("code", ["EURO", "XXY", "eur", "Eur", "EU", "", "E1R", 978, None])
def test_check_currency_refuses_anything_else(code: object) -> None:
    with pytest.raises(MoneyError, match="ISO 4217"):
        check_currency(code)  # type: ignore[arg-type]


def test_money_is_integer_minor_units_only() -> None:
    for amount in (12.5, Decimal("12"), True, "100"):
        with pytest.raises(MoneyError, match="integers in minor units"):
            Money(amount, "EUR")  # type: ignore[arg-type]


def test_money_adds_and_subtracts_within_one_currency() -> None:
    assert Money(1000, "EUR") + Money(234, "EUR") == Money(1234, "EUR")
    assert Money(1000, "EUR") - Money(234, "EUR") == Money(766, "EUR")
    with pytest.raises(MoneyError, match="cannot combine EUR with USD"):
        Money(1, "EUR") + Money(1, "USD")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(123456, "EUR"), "1234.56 EUR"),
        (Money(5, "EUR"), "0.05 EUR"),
        (Money(1234, "JPY"), "1234 JPY"),
        (Money(1234, "KWD"), "1.234 KWD"),
    ],
)
def test_money_prints_with_the_currency_exponent(money: Money, text: str) -> None:
    assert str(money) == text


def test_check_amount_accepts_positive_integers_up_to_the_maximum() -> None:
    assert check_amount(1) == 1
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
    assert check_amount(0, allow_zero=True) == 0


@pytest.mark.parametrize(
    ("amount", "complaint"),
    [
        (0, "positive"),
        (-1, "positive"),
        (MAX_AMOUNT + 1, "must not exceed"),
        (123.45, "integers in minor units"),
        ("100", "integers in minor units"),
        (True, "integers in minor units"),
    ],
)
def test_check_amount_refuses(amount: object, complaint: str) -> None:
    with pytest.raises(MoneyError, match=complaint):
        check_amount(amount)  # type: ignore[arg-type]


def test_describe_shows_an_amount_and_falls_back_to_minor_units_for_an_unknown_code() -> None:
    from paydue.domain.money import describe

    assert describe(1250, "EUR") == "12.50 EUR"
    assert describe(1250, "DEM") == "12.50 DEM"  # historic codes are known to CLDR
    assert describe(1250, "XQQ") == "1250 XQQ (minor units)"

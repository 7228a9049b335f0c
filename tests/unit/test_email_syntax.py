"""The API's e-mail check accepts, normalises and refuses exactly as pydantic's ``EmailStr``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from paydue.web.api.v1.schemas import Email

FAST = TypeAdapter(Email)
REFERENCE = TypeAdapter(EmailStr)

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
LDH = "abcXYZ019-"


def outcome(adapter: TypeAdapter[Any], value: str) -> tuple[str, Any]:
    try:
        return "accepted", adapter.validate_python(value)
    except ValidationError as exc:
        return "refused", [(e["type"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize(
    "value",
    [
        "payer1@example.org",
        "Erika.Mustermann@Example.ORG",
        "o'brien+bills@sub.example.co.uk",
        "erika.example.org",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@example",
        "a@localhost",
        "a@example.test",
        "a@shop.onion",
        "POSTMASTER@example.com",
        "jörg@exämple.de",
        "a@xn--bcher-kva.de",
        "a@ab--cd.com",
        "x" * 64 + "@example.com",
        "x" * 65 + "@example.com",
        "a@" + ("b" * 63 + ".") * 3 + "com",
        "a@" + ("b" * 63 + ".") * 4 + "com",
        "a@[192.0.2.1]",
        "a@-x.com",
        "a@x-.com",
        "a@example.c0m",
        '"quoted"@example.com',
        "Erika Mustermann <erika@example.org>",
        " erika@example.org ",
        "erika@example.org\n",
    ],
)
def test_known_addresses_get_the_same_answer(value: str) -> None:
    assert outcome(FAST, value) == outcome(REFERENCE, value)


def _address(draw: Any) -> str:
    local = ".".join(
        draw(st.lists(st.text(ATEXT, min_size=0, max_size=12), min_size=1, max_size=3))
    )
    labels = draw(st.lists(st.text(LDH, min_size=0, max_size=66), min_size=1, max_size=4))
    tld = draw(st.sampled_from(["com", "DE", "org", "x", "c0m", "test", "Local", "xn--p1ai", ""]))
    return f"{local}@{'.'.join([*labels, tld])}"


addresses = st.composite(_address)()


@settings(max_examples=1000)
@given(addresses)
def test_generated_addresses_get_the_same_answer(value: str) -> None:
    assert outcome(FAST, value) == outcome(REFERENCE, value)


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_arbitrary_text_gets_the_same_answer(value: str) -> None:
    assert outcome(FAST, value) == outcome(REFERENCE, value)

"""Twilio's callback signature, the gateway's, the price, and the TwiML of reminder calls."""

from __future__ import annotations

import pytest
from lxml import etree

from paydue.adapters.channels.sms import (
    fill_template,
    gateway_signature,
    verify_gateway_signature,
    with_query,
)
from paydue.adapters.channels.twilio import _price, signature, verify_signature
from paydue.adapters.channels.voice import (
    GatherAction,
    call_twiml,
    gather_action,
    gather_reply,
    voice_language,
)

# Twilio's documented example (auth token 12345): the URL and the POST parameters of a call.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_signature_matches_twilios_documented_example() -> None:
    assert signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert verify_signature("12345", DOC_URL, DOC_PARAMS, DOC_SIGNATURE)


def test_repeated_parameters_are_signed_in_sorted_order() -> None:
    """Twilio's vector for a parameter sent more than once: names and values sorted."""
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
              ("Digits", "1234"), ("Digits", "1234")]  # fmt: skip
    assert signature("12345", DOC_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    as_mapping = {"Digits": ["5678", "1234", "1234"], "Sid": "CA123", "SidAccount": "AC123"}
    assert signature("12345", DOC_URL, as_mapping) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("token", "url", "params", "header"),
    [
        ("other", DOC_URL, DOC_PARAMS, DOC_SIGNATURE),
        ("12345", DOC_URL + "&extra=1", DOC_PARAMS, DOC_SIGNATURE),
        ("12345", DOC_URL, {**DOC_PARAMS, "Digits": "9999"}, DOC_SIGNATURE),
        ("12345", DOC_URL, DOC_PARAMS, ""),
        ("12345", DOC_URL, DOC_PARAMS, None),
    ],
)
def test_anything_changed_fails_the_check(
    token: str, url: str, params: dict[str, str], header: str | None
) -> None:
    assert not verify_signature(token, url, params, header)


def test_a_url_signed_with_or_without_its_default_port_is_accepted() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert verify_signature("12345", with_port, DOC_PARAMS, DOC_SIGNATURE)
    signed_with_port = signature("12345", with_port, DOC_PARAMS)
    assert verify_signature("12345", DOC_URL, DOC_PARAMS, signed_with_port)


def test_the_gateway_signature_is_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"id":"gw-1","status":"delivered"}'
    # computed independently: printf '%s' "$body" | openssl dgst -sha256 -hmac secret
    good = "7185ca9735014a9be649376c5331ab83d01d8ecc0e5a7ee32adee83c5ae7b5ef"
    assert gateway_signature("secret", body) == good
    assert verify_gateway_signature("secret", body, good)
    assert verify_gateway_signature("secret", body, "sha256=" + good.upper())
    assert not verify_gateway_signature("secret", body + b" ", good)
    assert not verify_gateway_signature("secret", body, None)


def test_the_gateway_template_escapes_what_it_fills_in() -> None:
    template = {"to": "{to}", "msg": {"text": "{text}", "ref": "paydue-{id}"}, "n": 1}
    filled = fill_template(template, {"to": "+49", "text": 'say "hi" {id}\n', "id": "m1"})
    assert filled == {"to": "+49", "msg": {"text": 'say "hi" {id}\n', "ref": "paydue-m1"}, "n": 1}


def test_twilio_prices_become_minor_units_rounded_up() -> None:
    assert _price("-0.00750", "USD") == (1, "USD")
    assert _price("-0.0800", "eur") == (8, "EUR")
    assert _price(None, "USD") == (None, None)
    assert _price("n/a", "USD") == (None, None)


def test_callbacks_name_the_message() -> None:
    assert with_query("https://x.example/cb", message="m1") == "https://x.example/cb?message=m1"
    assert with_query("https://x.example/cb?a=1", message="m 1") == (
        "https://x.example/cb?a=1&message=m+1"
    )


def _parse(twiml: str) -> etree._Element:
    return etree.fromstring(twiml.encode())


def test_the_call_reads_the_text_in_the_payers_language_and_offers_the_link() -> None:
    text = 'Ihre Rechnung über 123,45 € ist am 1. Dezember fällig. <Hangup/> & "mehr"'
    root = _parse(call_twiml(text, "de", "https://paydue.example/gather?message=m1&x=1"))
    (gather,) = root.findall("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "https://paydue.example/gather?message=m1&x=1"
    says = gather.findall("Say")
    assert [s.get("language") for s in says] == ["de-DE", "de-DE"]
    assert says[0].text == text, "the text is spoken as it is, markup escaped"
    assert root.find(".//Hangup") is None
    assert "1" in (says[1].text or "")
    assert "SMS" in (says[1].text or "")


def test_the_twiml_escapes_markup_in_the_text() -> None:
    raw = call_twiml("</Say><Dial>+1900</Dial>", "en", None)
    assert "<Dial>" not in raw
    assert _parse(raw).find(".//Dial") is None


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "de-DE"), ("fr", "fr-FR"), ("ro", "ro-RO"), ("de-AT", "de-AT"), ("xx", "en-GB")],
)
def test_voice_languages_have_a_region(language: str, expected: str) -> None:
    assert voice_language(language) == expected


@pytest.mark.parametrize(
    ("digits", "action"),
    [("1", GatherAction.SEND_LINK_BY_SMS), (" 1 ", GatherAction.SEND_LINK_BY_SMS),
     ("2", GatherAction.NONE), ("", GatherAction.NONE), (None, GatherAction.NONE)],
)  # fmt: skip
def test_pressing_one_asks_for_the_link_by_sms(digits: str | None, action: GatherAction) -> None:
    assert gather_action(digits) is action


def test_the_gather_reply_confirms_and_hangs_up() -> None:
    root = _parse(gather_reply(GatherAction.SEND_LINK_BY_SMS, "fr"))
    assert root.find("Say").get("language") == "fr-FR"  # type: ignore[union-attr]
    assert root.find("Hangup") is not None

"""Message templates: the sandbox fails closed, the allow-list holds when saving and rendering,
and every shipped default renders in every language with its pay link."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paydue.domain.money import Money
from paydue.domain.sms import sms_length
from paydue.domain.templates import (
    CHANNEL_PARTS,
    DEFAULT_KEYS,
    LANGUAGES,
    TemplateError,
    TemplateSource,
    language_of,
)
from paydue.services import templates as t

SAMPLE = t.sample_data()
MINIMAL = t.sample_data(full=False)


def text(source: str) -> TemplateSource:
    return TemplateSource(None, source, None)


def render_text(source: str, language: str = "en") -> str:
    return t.render(text(source), t.variables(SAMPLE, language)).text


# --- the sandbox -----------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ payer_name.__class__.__base__ }}",
    "{{ invoices.__class__ }}",
    "{{ payer_name.format.__globals__ }}",
    "{{ (invoices|first).__init__ }}",
    "{% for x in invoices %}{{ x.__class__.__init__.__globals__ }}{% endfor %}",
    "{{ invoices.append(1) }}",
    "{{ payer_name * 100000 }}",
    "{{ 9 ** 9 ** 9 }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_attribute_escapes_fail_closed_when_rendered(payload: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_text(f"Hello\n{payload}")
    assert caught.value.line == 2
    assert caught.value.status == 422


@pytest.mark.parametrize("payload", ESCAPES)
def test_attribute_escapes_are_refused_when_saved(payload: str) -> None:
    with pytest.raises(TemplateError):
        t.check(text(f"{payload} {{{{ pay_link }}}}"), "overdue_first", "sms", "en")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace }}",
        "{{ range(10) }}",
        "{{ config }}",
        "{{ self.__init__.__globals__ }}",
    ],
)
def test_globals_are_not_there(payload: str) -> None:
    with pytest.raises(TemplateError) as caught:
        t.check(text(payload), "overdue_first", "sms", "en")
    assert caught.value.code == "unknown_variable"
    with pytest.raises(TemplateError):
        render_text(payload)


def test_an_undeclared_variable_is_refused_with_its_name_and_line() -> None:
    with pytest.raises(TemplateError) as caught:
        t.check(text("Hi {{ payer_name }}\n\n{{ secret_key }} {{ pay_link }}"), "k", "sms", "en")
    err = caught.value
    assert err.code == "unknown_variable"
    assert err.line == 3
    assert "secret_key" in err.message
    assert err.template == "k/sms/en (text)"
    assert err.details == {"template": "k/sms/en (text)", "line": 3, "problem": err.problem}
    assert err.message.startswith("template k/sms/en (text), line 3: unknown variable")


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        t.check(text("line one\n{% if payer_name %}never closed"), "k", "sms", "en")
    assert caught.value.line == 2
    assert "syntax error" in caught.value.message


def test_an_unknown_attribute_of_an_allowed_variable_fails_at_render_time() -> None:
    with pytest.raises(TemplateError) as caught:
        render_text("{% for i in invoices %}\n{{ i.secret }}\n{% endfor %}")
    assert caught.value.line == 2
    assert "secret" in caught.value.message


def test_a_template_that_only_fails_without_the_optional_values_is_refused() -> None:
    with pytest.raises(TemplateError):
        t.check(text("{{ fee.upper() }} {{ pay_link }}"), "k", "sms", "en")
    with pytest.raises(TemplateError):
        t.check(text("{{ invoices[1].number }} {{ pay_link }}"), "k", "sms", "en")


def test_a_missing_optional_value_prints_nothing() -> None:
    rendered = t.render(text("[{{ fee }}][{{ issuer_email }}]"), t.variables(MINIMAL, "en"))
    assert rendered.text == "[][]"


def test_parts_must_be_those_of_the_channel() -> None:
    with pytest.raises(TemplateError, match="needs a subject"):
        t.check(TemplateSource(None, "x {{ pay_link }}", "<p>x</p>"), "k", "email", "en")
    with pytest.raises(TemplateError, match="has no html"):
        t.check(TemplateSource(None, "x {{ pay_link }}", "<p>x</p>"), "k", "sms", "en")


# --- escaping --------------------------------------------------------------------------------


def test_html_parts_escape_the_payer_name_and_text_parts_do_not() -> None:
    data = replace(SAMPLE, payer_name='<script>alert("x")</script> & Söhne')
    source = TemplateSource("Hi {{ payer_name }}", "Hi {{ payer_name }}", "<p>{{ payer_name }}</p>")
    rendered = t.render(source, t.variables(data, "en"))
    assert rendered.html == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Söhne</p>"
    assert rendered.text == 'Hi <script>alert("x")</script> & Söhne'
    assert rendered.subject == 'Hi <script>alert("x")</script> & Söhne'


def test_default_email_html_escapes_every_variable() -> None:
    data = replace(SAMPLE, payer_name="<b>Eve</b>", issuer_name="A&B <Ltd>")
    for language in LANGUAGES:
        source = t.default("overdue_first", "email", language)
        assert source is not None
        html = t.render(source, t.variables(data, language)).html
        assert html is not None
        assert "<b>Eve</b>" not in html
        assert "&lt;b&gt;Eve&lt;/b&gt;" in html
        assert "A&amp;B &lt;Ltd&gt;" in html


# --- formatting ------------------------------------------------------------------------------


def test_amounts_and_dates_are_written_in_the_payers_language() -> None:
    source = "{{ total }} {{ due_date }}"
    assert render_text(source, "en") == "€165.50 November 30, 2026"
    assert render_text(source, "de") == "165,50\xa0€ 30. November 2026"
    assert render_text(source, "fr") == "165,50\xa0€ 30 novembre 2026"


def test_the_subject_is_one_line() -> None:
    source = TemplateSource("A\n{{ payer_name }}\n", "x", None)
    assert t.render(source, t.variables(SAMPLE, "en")).subject == "A Alex Example"


def test_language_of_a_payer() -> None:
    assert language_of("de-AT") == "de"
    assert language_of("RO") == "ro"
    assert language_of("es") == "en"
    assert language_of(None) == "en"


# --- the defaults ----------------------------------------------------------------------------


def test_every_key_channel_and_language_has_a_default() -> None:
    keys = {(k, c, lang) for k in DEFAULT_KEYS for c in CHANNEL_PARTS for lang in LANGUAGES}
    assert set(t.defaults()) == keys


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("full", [True, False], ids=["bundle", "single"])
def test_every_default_renders_with_its_pay_link(language: str, full: bool) -> None:
    data = t.sample_data(full=full, pay_link="https://pay.example.org/p/tok-123")
    for (key, channel, lang), source in t.defaults().items():
        if lang != language:
            continue
        t.check(source, key, channel, language)
        rendered = t.render(source, t.variables(data, language), channel=channel)
        where = f"{key}/{channel}/{language}"
        for part in CHANNEL_PARTS[channel]:
            value = getattr(rendered, part)
            assert value, where
            assert not [m for m in ("[[", "{{", "{%", "None") if m in value], where
        if channel == "voice":  # spoken: the link is offered by SMS instead ("press 1")
            assert "1" in rendered.text, where
        else:
            assert "https://pay.example.org/p/tok-123" in rendered.text, where
        if channel == "email":
            assert 'href="https://pay.example.org/p/tok-123"' in (rendered.html or ""), where
            assert "tok-123/qr.png" in (rendered.html or ""), where
        for number in ("INV-2026-0042", "INV-2026-0057")[: 2 if full else 1]:
            if channel in ("email", "letter"):
                assert number in rendered.text, where
        if full and channel in ("email", "letter"):
            assert "5.00" in rendered.text.replace(",", "."), where  # the fee


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_texts_are_in_their_language(language: str) -> None:
    """No English left in another language's defaults (beyond names and links)."""
    english = t.render(
        t.default("overdue_first", "email", "en"),  # type: ignore[arg-type]
        t.variables(SAMPLE, "en"),
    ).text
    rendered = t.render(
        t.default("overdue_first", "email", language),  # type: ignore[arg-type]
        t.variables(SAMPLE, language),
    ).text
    assert (rendered == english) is (language == "en")
    if language != "en":
        assert "payment" not in rendered.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_sms_are_gsm7_and_at_most_two_segments(language: str) -> None:
    for key in DEFAULT_KEYS:
        source = t.default(key, "sms", language)
        assert source is not None
        for data in (SAMPLE, MINIMAL):
            sms = t.render(source, t.variables(data, language), channel="sms").text
            length = sms_length(sms)
            assert length.encoding.value == "GSM-7", (key, language, sms)
            assert length.segments <= 2, (key, language, sms)


def test_sms_segments_are_shown_for_a_long_text() -> None:
    long = "{{ payer_name }}: " + "x" * 200 + " {{ pay_link }}"
    sms = t.render(text(long), t.variables(SAMPLE, "en"), channel="sms").text
    assert sms_length(sms).segments == 2
    unicode = t.render(
        text("Plătiți {{ pay_link }}"), t.variables(SAMPLE, "en"), channel="sms"
    ).text
    assert sms_length(unicode).encoding.value == "UCS-2"


def test_a_fee_is_formatted_like_the_total() -> None:
    data = replace(SAMPLE, fee=Money(250, "EUR"))
    assert t.variables(data, "de")["fee"] == "2,50\xa0€"

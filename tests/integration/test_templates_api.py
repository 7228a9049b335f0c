"""Message templates through the API: defaults in effect, overrides saved after checking,
deleted back to the default, previews; another issuer never sees or changes them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from paydue.domain.money import Money
from paydue.domain.templates import MessageData, MessageInvoice, TemplateError
from paydue.services.templates import render_message, sample_data
from tests.conftest import IssuerHandle, invoice_body
from tests.integration.helpers import table_contents

URL = "/v1/templates/overdue_first/email/de"
GOOD = {
    "subject": "Erinnerung {{ invoice_numbers }}",
    "text": "Hallo {{ payer_name }}, bitte zahlen: {{ pay_link }}",
    "html": "<p>Hallo {{ payer_name }}</p><a href='{{ pay_link }}'>Zahlen</a>",
}


def test_defaults_are_in_effect_until_the_issuer_saves_its_own(
    client: TestClient, issuer: IssuerHandle
) -> None:
    listed = client.get("/v1/templates", headers=issuer.headers).json()
    assert len(listed["data"]) == 7 * 7 * 6
    assert {t["source"] for t in listed["data"]} == {"default"}
    assert "payer_name" in listed["variables"]
    one = client.get(URL, headers=issuer.headers).json()
    assert one["source"] == "default"
    assert "{{ pay_link }}" in one["text"]

    saved = client.put(URL, json=GOOD, headers=issuer.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["source"] == "issuer"
    assert saved.json()["updated_at"]
    mine = client.get(
        "/v1/templates", params={"key": "overdue_first", "language": "de"}, headers=issuer.headers
    ).json()["data"]
    assert len(mine) == 7
    assert [t["source"] for t in mine if t["channel"] == "email"] == ["issuer"]
    assert client.get(URL, headers=issuer.headers).json()["text"] == GOOD["text"]

    again = client.put(URL, json={**GOOD, "text": "Neu {{ pay_link }}"}, headers=issuer.headers)
    assert again.json()["text"] == "Neu {{ pay_link }}"

    deleted = client.delete(URL, headers=issuer.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["source"] == "default"
    assert deleted.json()["deleted"] is True
    assert client.get(URL, headers=issuer.headers).json()["source"] == "default"


def test_a_custom_key_has_no_default_until_saved(client: TestClient, issuer: IssuerHandle) -> None:
    url = "/v1/templates/vip_nudge/sms/en"
    assert client.get(url, headers=issuer.headers).status_code == 404
    assert client.delete(url, headers=issuer.headers).status_code == 404
    saved = client.put(
        url, json={"text": "{{ issuer_name }}: {{ pay_link }}"}, headers=issuer.headers
    )
    assert saved.status_code == 200, saved.text
    assert client.get(url, headers=issuer.headers).json()["source"] == "issuer"
    assert client.delete(url, headers=issuer.headers).json()["deleted"] is True
    assert client.get(url, headers=issuer.headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "line", "words"),
    [
        ({**GOOD, "text": "Hallo\n{{ ''.__class__ }}"}, "template_forbidden", 2, "not allowed"),
        ({**GOOD, "text": "a\nb\n{{ api_key }}"}, "unknown_variable", 3, "api_key"),
        ({**GOOD, "html": "<p>{% if payer_name %}</p>"}, "template_error", 1, "syntax"),
        ({**GOOD, "text": "{{ cycler.__init__.__globals__ }}"}, "unknown_variable", 1, "cycler"),
        ({**GOOD, "subject": None}, "missing_part", None, "subject"),
    ],
    ids=["dunder", "unknown variable", "syntax", "globals", "missing subject"],
)
def test_a_bad_template_is_refused_with_its_problem_and_line_and_nothing_is_stored(
    body: dict[str, object],
    code: str,
    line: int | None,
    words: str,
    client: TestClient,
    issuer: IssuerHandle,
    container: Container,
) -> None:
    before = table_contents(container.engine)
    r = client.put(URL, json=body, headers=issuer.headers)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert error["details"]["line"] == line
    assert error["details"]["template"].startswith("overdue_first/email/de")
    assert table_contents(container.engine) == before


@pytest.mark.parametrize(
    "url",
    ["/v1/templates/Bad Key/email/de", "/v1/templates/k/fax/de", "/v1/templates/k/email/es"],
)
def test_an_address_no_template_can_have_is_refused(
    url: str, client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.put(url, json=GOOD, headers=issuer.headers)
    assert r.status_code == 422, r.text


def test_preview_with_sample_data_shows_sms_encoding_and_segments(
    client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.post(
        "/v1/templates/preview",
        json={"key": "overdue_first", "channel": "sms", "language": "ro"},
        headers=issuer.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "default"
    assert body["data"] == "sample"
    assert body["encoding"] == "GSM-7"
    assert body["segments"] in (1, 2)
    assert "http://testserver/p/" in body["text"]

    given = client.post(
        "/v1/templates/preview",
        json={
            "key": "anything",
            "channel": "sms",
            "language": "en",
            "text": "Plătiți {{ total }} " + "x" * 80 + " {{ pay_link }}",
        },
        headers=issuer.headers,
    ).json()
    assert given["source"] == "given"
    assert given["encoding"] == "UCS-2"
    assert given["segments"] >= 2


def test_preview_of_an_invoice_uses_its_data_and_pay_link(
    client: TestClient, issuer: IssuerHandle
) -> None:
    invoice = client.post("/v1/invoices", json=invoice_body("PV-1"), headers=issuer.headers).json()
    r = client.post(
        "/v1/templates/preview",
        json={
            "key": "overdue_first",
            "channel": "email",
            "language": "de",
            "invoice_id": invoice["id"],
        },
        headers=issuer.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == "invoice"
    assert invoice["pay_url"] in body["text"]
    assert "PV-1" in body["text"]
    assert "123,45" in body["text"]
    assert "Erika Mustermann" in body["html"]
    assert f"{invoice['pay_url']}/epc.png" in body["html"]


def test_preview_of_a_bad_given_template_is_a_422(client: TestClient, issuer: IssuerHandle) -> None:
    r = client.post(
        "/v1/templates/preview",
        json={"key": "k", "channel": "sms", "language": "en", "text": "{{ payer_name.__class__ }}"},
        headers=issuer.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "template_forbidden"


def test_another_issuer_neither_sees_nor_changes_templates_nor_previews_invoices(
    client: TestClient,
    issuer: IssuerHandle,
    other_issuer: IssuerHandle,
    container: Container,
) -> None:
    a, b = issuer, other_issuer
    assert client.put(URL, json=GOOD, headers=b.headers).status_code == 200
    custom = "/v1/templates/b_only/sms/en"
    assert client.put(custom, json={"text": "{{ pay_link }}"}, headers=b.headers).status_code == 200
    b_invoice = client.post("/v1/invoices", json=invoice_body("B-9"), headers=b.headers).json()

    assert client.get(URL, headers=a.headers).json()["source"] == "default"
    assert client.get(custom, headers=a.headers).status_code == 404
    listed = client.get("/v1/templates", headers=a.headers).json()["data"]
    assert {t["source"] for t in listed} == {"default"}

    before = table_contents(container.engine)
    assert client.delete(custom, headers=a.headers).status_code == 404
    assert client.delete(URL, headers=a.headers).json()["deleted"] is False
    preview = client.post(
        "/v1/templates/preview",
        json={"key": "b_only", "channel": "sms", "language": "en", "invoice_id": b_invoice["id"]},
        headers=a.headers,
    )
    assert preview.status_code == 404
    assert table_contents(container.engine) == before
    assert client.get(URL, headers=b.headers).json()["source"] == "issuer"

    with container.uow(readonly=True) as uow:
        data = sample_data()
        b_msg = render_message(uow, b.id, "overdue_first", "email", "de", data)
        a_msg = render_message(uow, a.id, "overdue_first", "email", "de", data)
    assert b_msg.subject == "Erinnerung INV-2026-0042, INV-2026-0057"
    assert a_msg.subject != b_msg.subject


def test_render_message_falls_back_to_the_default_then_to_english(
    client: TestClient, issuer: IssuerHandle, container: Container
) -> None:
    assert (
        client.put(
            "/v1/templates/vip/sms/en",
            json={"text": "EN {{ total }} {{ pay_link }}"},
            headers=issuer.headers,
        ).status_code
        == 200
    )
    data = MessageData(
        payer_name="Ana",
        invoices=(MessageInvoice("R-1", Money(1000, "RON"), sample_data().invoices[0].due_date),),
        total=Money(1000, "RON"),
        pay_link="https://x.example/p/t",
        link_qr_url="https://x.example/p/t/qr.png",
        issuer_name="Furnizor",
    )
    with container.uow(readonly=True) as uow:
        ro = render_message(uow, issuer.id, "overdue_first", "sms", "ro", data)
        assert ro.text.startswith("Furnizor: Nu am primit inca plata de 10,00 RON")
        fallback = render_message(uow, issuer.id, "vip", "sms", "ro", data)
        assert fallback.text == "EN RON10.00 https://x.example/p/t"
        with pytest.raises(TemplateError) as caught:
            render_message(uow, issuer.id, "nothing_here", "sms", "ro", data)
    assert caught.value.code == "template_not_found"


def test_a_stored_template_that_fails_at_render_time_stops_the_message(
    issuer: IssuerHandle, container: Container
) -> None:
    """Written to the table directly (as an older version might have stored it): rendering
    refuses it instead of sending it half-rendered."""
    from paydue.domain.templates import TemplateSource

    with container.uow() as uow:
        uow.templates.put(
            issuer.id,
            "overdue_first",
            "sms",
            "en",
            TemplateSource(None, "ok\n{{ invoices[5].number }} {{ pay_link }}", None),
            uow.now(),
        )
        uow.commit()
    with container.uow(readonly=True) as uow, pytest.raises(TemplateError) as caught:
        render_message(uow, issuer.id, "overdue_first", "sms", "en", sample_data())
    assert caught.value.line == 2
    assert "overdue_first/sms/en" in caught.value.message

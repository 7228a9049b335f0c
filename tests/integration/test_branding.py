"""The pay page in the issuer's look, and nothing an issuer sends can run in a payer's browser."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import IssuerHandle, invoice_body
from tests.payflow import token_of

EVIL_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'onload="alert(1)" viewBox="0 0 10 10"><script>alert(2)</script>'
    b'<rect width="10" height="10" fill="#0b6e4f" onclick="alert(3)"/>'
    b'<use xlink:href="https://evil.example/x.svg#a"/>'
    b"<foreignObject><iframe src='javascript:alert(4)'/></foreignObject></svg>"
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def data_uri(media: str, raw: bytes) -> str:
    return f"data:{media};base64,{base64.b64encode(raw).decode()}"


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> Any:
    r = client.post("/v1/invoices", json=invoice_body("INV-1", 4711), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def put(client: TestClient, issuer: IssuerHandle, **fields: Any) -> Any:
    return client.put("/v1/branding", json=fields, headers=issuer.headers)


def test_the_page_shows_the_issuers_name_colours_contact_and_footer(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    r = put(
        client,
        issuer,
        display_name="Stadtwerke Musterstadt",
        primary_color="#0b6e4f",
        support_email="hilfe@stadtwerke.example",
        support_phone="+49 30 1234567",
        legal_footer="Stadtwerke Musterstadt GmbH · HRB 4711",
        logo=data_uri("image/png", PNG),
    )
    assert r.status_code == 200, r.text
    assert r.json()["primary_color"] == "#0b6e4f"
    page = client.get(f"/p/{token_of(invoice['pay_url'])}?lang=en")
    for shown in ("Stadtwerke Musterstadt", "hilfe@stadtwerke.example", "HRB 4711", "#0b6e4f"):
        assert shown in page.text
    logo_path = r.json()["logo_url"]
    assert f'src="{logo_path}"' in page.text
    logo = client.get(logo_path)
    assert (logo.status_code, logo.content) == (200, PNG)
    assert logo.headers["content-type"] == "image/png"


def test_an_svg_logo_is_stored_without_anything_that_could_run(
    client: TestClient, issuer: IssuerHandle
) -> None:
    r = put(client, issuer, logo=data_uri("image/svg+xml", EVIL_SVG))
    assert r.status_code == 200, r.text
    served = client.get(r.json()["logo_url"])
    assert served.status_code == 200
    body = served.content.lower()
    for bad in (b"script", b"onload", b"onclick", b"foreignobject", b"javascript", b"evil"):
        assert bad not in body
    assert b"<rect" in body, "the drawing itself stays"
    policy = served.headers["content-security-policy"]
    assert "script-src 'none'" in policy
    assert "sandbox" in policy


def test_issuer_text_is_escaped_on_the_page(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    assert put(client, issuer, legal_footer="<script>alert(1)</script> & Co").status_code == 200
    page = client.get(f"/p/{token_of(invoice['pay_url'])}")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page.text


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"primary_color": "red;}body{display:none"}, "primary_color"),
        ({"logo": "data:image/gif;base64,R0lGOD=="}, "image/gif"),
        ({"logo": "data:image/png;base64,not-base64!"}, "base64"),
        ({"logo": data_uri("image/png", b"GIF89a")}, "PNG"),
        ({"logo": data_uri("image/svg+xml", b"<html><body/></html>")}, "svg"),
        ({"support_url": "javascript:alert(1)"}, "support_url"),
        ({"unknown": "x"}, "unknown"),
    ],
)
def test_bad_branding_is_refused_naming_the_problem_and_changes_nothing(
    client: TestClient, issuer: IssuerHandle, fields: dict[str, Any], named: str
) -> None:
    before = client.get("/v1/branding", headers=issuer.headers).json()
    r = put(client, issuer, **fields)
    assert r.status_code == 422, r.text
    assert named in r.text
    assert client.get("/v1/branding", headers=issuer.headers).json() == before


def test_pages_allow_no_script_and_no_framing(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    page = client.get(f"/p/{token_of(invoice['pay_url'])}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"

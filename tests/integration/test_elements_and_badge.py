"""Payment elements (pay URL, link QR, EPC QR, button) and the embeddable status badge."""

from __future__ import annotations

import colorsys
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from stdnum import iso11649

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container
from paydue.web.app import create_app
from tests.conftest import IBAN, IssuerHandle, invoice_body, new_issuer


def create_invoice(client: TestClient, issuer: IssuerHandle, **fields: Any) -> Any:
    r = client.post("/v1/invoices", json=invoice_body(**fields), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def pay(client: TestClient, issuer: IssuerHandle, invoice: Any, amount: int) -> Any:
    r = client.post(
        f"/v1/invoices/{invoice['id']}/external-payments",
        json={"amount": amount, "date": "2026-11-20"},
        headers=issuer.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["invoice"]


def scan(png: bytes) -> str:
    barcode = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert barcode is not None, "no QR code found in the image"
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    return str(barcode.text)


def issuer_record(container: Container, issuer: IssuerHandle) -> Any:
    with container.uow(readonly=True) as uow:
        return uow.issuers.get(issuer.id)


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> Any:
    return create_invoice(client, issuer, amount=12345)


def test_elements_list_everything_an_issuer_can_show_a_payer(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    r = client.get(f"/v1/invoices/{invoice['id']}/elements", headers=issuer.headers)
    assert r.status_code == 200
    elements = r.json()
    pay_url = invoice["pay_url"]
    assert elements["object"] == "payment_elements"
    assert elements["invoice_id"] == invoice["id"]
    assert elements["pay_url"] == pay_url
    assert elements["qr"] == {"svg_url": f"{pay_url}/qr.svg", "png_url": f"{pay_url}/qr.png"}
    epc = elements["epc_qr"]
    assert epc["available"] is True
    assert epc["payload"].startswith("BCD\n")
    assert (epc["svg_url"], epc["png_url"]) == (f"{pay_url}/epc.svg", f"{pay_url}/epc.png")
    assert f'href="{pay_url}"' in elements["button_html"]
    assert "123.45 EUR" in elements["button_html"]
    assert "<script" not in elements["button_html"].lower()
    assert f'href="{pay_url}"' in elements["mail_link_html"]
    assert invoice["number"] in elements["mail_link_html"]


def test_the_link_qr_code_scans_to_the_pay_url(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    r = client.get(f"/v1/invoices/{invoice['id']}/qr.png", headers=issuer.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert scan(r.content) == invoice["pay_url"]


def test_the_epc_qr_code_asks_for_the_amount_still_due_to_the_issuers_account(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    pay(client, issuer, invoice, 2345)
    r = client.get(f"/v1/invoices/{invoice['id']}/epc-qr.png", headers=issuer.headers)
    assert r.status_code == 200
    lines = scan(r.content).split("\n")
    record = issuer_record(container, issuer)
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[4] == (record.bic or "")
    assert lines[5] == record.name == "Stadtwerke Musterstadt"
    assert lines[6] == record.iban == IBAN
    assert lines[7].startswith("EUR")
    assert Decimal(lines[7][3:]) == Decimal("100.00")  # 123.45 minus the 23.45 paid
    assert lines[8] == ""  # no purpose code
    assert lines[9] == invoice["reference"]
    assert iso11649.is_valid(lines[9])
    elements = client.get(f"/v1/invoices/{invoice['id']}/elements", headers=issuer.headers).json()
    assert elements["epc_qr"]["payload"] == "\n".join(lines)


def test_svg_images_carry_an_etag_and_revalidate_with_304(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    for image in ("qr.svg", "epc-qr.svg"):
        url = f"/v1/invoices/{invoice['id']}/{image}"
        r = client.get(url, headers=issuer.headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/svg+xml"
        assert r.text.lstrip().startswith(("<svg", "<?xml"))
        etag = r.headers["etag"]
        same = client.get(url, headers={**issuer.headers, "If-None-Match": etag})
        assert same.status_code == 304
        assert same.content == b""
        assert same.headers["etag"] == etag
        other = client.get(url, headers={**issuer.headers, "If-None-Match": '"stale"'})
        assert other.status_code == 200


def test_the_epc_qr_code_changes_with_the_amount_due(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    url = f"/v1/invoices/{invoice['id']}/epc-qr.svg"
    etag = client.get(url, headers=issuer.headers).headers["etag"]
    pay(client, issuer, invoice, 100)
    r = client.get(url, headers={**issuer.headers, "If-None-Match": etag})
    assert r.status_code == 200
    assert r.headers["etag"] != etag


def test_the_public_qr_image_needs_no_key_and_does_not_count_an_open(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = client.post(
        f"/v1/invoices/{invoice['id']}/pay-links", json={"max_opens": 1}, headers=issuer.headers
    ).json()
    for url in (invoice["pay_url"], link["url"]):
        path = url.removeprefix("http://testserver")
        for _ in range(3):
            r = client.get(f"{path}/qr.svg")
            assert r.status_code == 200
            assert r.headers["content-type"] == "image/svg+xml"
        assert scan(client.get(f"{path}/qr.png").content) == url
    state = client.get(f"/v1/pay-links/{link['id']}", headers=issuer.headers).json()
    assert state["opens"] == 0
    assert client.get(link["url"].removeprefix("http://testserver")).status_code == 200


def test_a_usd_invoice_has_no_epc_qr_code(client: TestClient, issuer: IssuerHandle) -> None:
    invoice = create_invoice(client, issuer, currency="USD")
    elements = client.get(f"/v1/invoices/{invoice['id']}/elements", headers=issuer.headers)
    epc = elements.json()["epc_qr"]
    assert epc["available"] is False
    assert "EUR" in epc["reason"]
    assert "payload" not in epc
    for kind in ("png", "svg"):
        r = client.get(f"/v1/invoices/{invoice['id']}/epc-qr.{kind}", headers=issuer.headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "epc_unavailable"
    # the link QR code still works
    assert client.get(f"/v1/invoices/{invoice['id']}/qr.png", headers=issuer.headers).is_success


def badge_path(invoice: Any, ext: str = "svg") -> str:
    return invoice["badge_url"].removeprefix("http://testserver").removesuffix(".svg") + f".{ext}"


def badge_colour(svg: str) -> str:
    """The colour family of the badge's message part (its last filled rectangle)."""
    fills = re.findall(r'<rect[^>]*fill="#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})"', svg)
    assert fills, svg
    value = fills[-1]
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
    degrees = hue * 360
    if saturation < 0.2:
        return "grey"
    if degrees < 15 or degrees >= 345:
        return "red"
    if 20 <= degrees < 55:
        return "amber"
    if 80 <= degrees < 170:
        return "green"
    return f"hue {degrees:.0f}"


def badge(client: TestClient, invoice: Any) -> tuple[str, dict[str, Any]]:
    svg = client.get(badge_path(invoice))
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    twin = client.get(badge_path(invoice, "json"))
    assert twin.status_code == 200
    return badge_colour(svg.text), twin.json()


def test_the_badge_turns_from_grey_to_amber_to_green_as_money_arrives(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    colour, twin = badge(client, invoice)
    assert colour == "grey"
    assert (twin["status"], twin["state"], twin["overdue"]) == ("open", "open", False)
    assert (twin["amount_due"], twin["currency"], twin["due_date"]) == (12345, "EUR", "2026-12-01")

    pay(client, issuer, invoice, 5000)
    colour, twin = badge(client, invoice)
    assert colour == "amber"
    assert (twin["state"], twin["amount_due"]) == ("partially_paid", 7345)

    pay(client, issuer, invoice, 7345)
    colour, twin = badge(client, invoice)
    assert colour == "green"
    assert (twin["state"], twin["amount_due"]) == ("paid", 0)


def test_the_badge_is_cached_briefly_and_revalidates_with_its_etag(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    r = client.get(badge_path(invoice))
    max_age = re.search(r"max-age=(\d+)", r.headers["cache-control"])
    assert max_age is not None
    assert 0 < int(max_age.group(1)) <= 60, "a paid invoice must turn green within a minute"
    assert (
        client.get(badge_path(invoice), headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    pay(client, issuer, invoice, 100)
    changed = client.get(badge_path(invoice), headers={"If-None-Match": r.headers["etag"]})
    assert changed.status_code == 200


def test_an_unknown_badge_token_is_not_found(client: TestClient, invoice: Any) -> None:
    for path in ("/b/" + "A" * 32 + ".svg", "/b/" + "A" * 32 + ".json"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "badge_not_found"


def test_the_badge_turns_red_after_the_due_date_in_the_issuers_timezone(
    simulated: tuple[Container, SimulatedClock],
) -> None:
    container, clock = simulated
    issuer = new_issuer(container)  # Europe/Berlin, UTC+1 in December
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        invoice = create_invoice(client, issuer, due_date="2026-12-01")
        clock.set(datetime(2026, 12, 1, 22, 59, tzinfo=UTC))  # 23:59 on the due date in Berlin
        colour, twin = badge(client, invoice)
        assert (colour, twin["overdue"]) == ("grey", False)
        clock.advance(timedelta(minutes=1))  # midnight in Berlin
        colour, twin = badge(client, invoice)
        assert (colour, twin["state"], twin["overdue"]) == ("red", "overdue", True)
        assert twin["status"] == "open"
        pay(client, issuer, invoice, 12345)
        colour, twin = badge(client, invoice)
        assert (colour, twin["state"], twin["overdue"]) == ("green", "paid", False)

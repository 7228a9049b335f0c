"""The payer's entry page in a real browser: a pay link opens the invoice with bank-transfer
details and a scannable EPC QR code; link rules and TANs hold. Pages are opened with
``?lang=en`` so their texts do not depend on the payer's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from paydue.adapters.clock import SimulatedClock
from paydue.bootstrap import Container, build
from tests.conftest import LiveServer, free_port, invoice_body, make_settings, new_issuer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[LiveServer, Container, SimulatedClock]]:
    clock = SimulatedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    port = free_port()
    container = build(make_settings(db_url, base_url=f"http://127.0.0.1:{port}"), clock=clock)
    with LiveServer(container, port=port) as live:
        yield live, container, clock
    container.close()


def _create_invoice(live: LiveServer, headers: dict[str, str]) -> dict[str, Any]:
    import httpx

    r = httpx.post(f"{live.url}/v1/invoices", json=invoice_body(amount=4711), headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_pay_link_shows_the_invoice_and_a_scannable_epc_qr_code_on_a_phone(
    server: tuple[LiveServer, Container, SimulatedClock], phone: Any, artifacts: Path
) -> None:
    live, container, _ = server
    issuer = new_issuer(container)
    invoice = _create_invoice(live, issuer.headers)

    phone.goto(f"{invoice['pay_url']}?lang=en")
    assert "Stadtwerke Musterstadt" in phone.inner_text("header")
    text = phone.inner_text("main")
    assert "INV-1" in text
    assert "€47.11" in text
    assert "DE89370400440532013000" in text

    qr = phone.locator("img[alt^='QR code with the transfer details']")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    shot = artifacts / "pay-link-phone.png"
    phone.screenshot(path=str(shot), full_page=True)
    decoded = zxingcpp.read_barcode(Image.open(shot))
    assert decoded is not None, "the EPC QR code on the page must be scannable"
    lines = decoded.text.split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert "EUR47.11" in lines
    assert invoice["reference"] in lines


def test_an_expired_link_says_so_and_a_tan_link_asks_for_its_tan(
    server: tuple[LiveServer, Container, SimulatedClock], phone: Any
) -> None:
    import httpx

    live, container, clock = server
    issuer = new_issuer(container)
    invoice = _create_invoice(live, issuer.headers)
    url = f"{live.url}/v1/invoices/{invoice['id']}/pay-links"
    expiring = httpx.post(url, json={"expires_in_hours": 1}, headers=issuer.headers).json()
    with_tan = httpx.post(url, json={"require_tan": True}, headers=issuer.headers).json()

    clock.advance(timedelta(hours=2))
    phone.goto(f"{expiring['url']}?lang=en")
    assert "has expired" in phone.inner_text("main")

    phone.goto(f"{with_tan['url']}?lang=en")
    assert "INV-1" not in phone.inner_text("main")
    assert phone.locator("form.tan input[name=csrf]").count() == 1
    phone.fill("#tan", "000000" if with_tan["tan"] != "000000" else "111111")
    with phone.expect_navigation():
        phone.click("button[type=submit]")
    assert "not correct" in phone.inner_text("main")
    phone.fill("#tan", with_tan["tan"])
    with phone.expect_navigation():
        phone.click("button[type=submit]")
    assert "€47.11" in phone.inner_text("main")

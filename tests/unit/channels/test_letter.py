"""The letter PDF read back: A4, the address in the envelope window, the summary, both QR codes."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from paydue.adapters.channels.base import OutboundMessage
from paydue.adapters.channels.letter import (
    BRAND_COLOR_HEADER,
    BRAND_NAME_HEADER,
    EPC_HEADER,
    SENDER_HEADER,
    SUMMARY_HEADER,
    LetterExport,
    render_letter,
)
from paydue.adapters.formats.epc_qr import epc_payload

MM = 72 / 25.4
PAY_URL = "https://pay.stadtwerke.example/p/Zk3qW8rT2mN5vB7xC9dF1gH4"
EPC = epc_payload(
    name="Stadtwerke Beispiel",
    iban="DE89370400440532013000",
    amount_minor=12345,
    reference="RF18539007547034",
)


def letter(**changes: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "id": "msg_01JLETTER0001",
        "issuer_id": "iss_01JLETTER",
        "channel": "letter",
        "to": "Frau Erika Müller\nHeidestraße 17\n51147 Köln",
        "subject": "Zahlungserinnerung Rechnung 2026-0042",
        "text": "Sehr geehrte Frau Müller,\n\nbitte zahlen Sie 123,45 € bis zum 1. Dezember.",
        "language": "de",
        "pay_url": PAY_URL,
        "headers": {
            SUMMARY_HEADER: json.dumps({"Rechnung": "2026-0042", "Offen": "123,45 €"}),
            EPC_HEADER: EPC,
            SENDER_HEADER: "Stadtwerke Beispiel · Am Markt 1 · 12345 Beispielstadt",
            BRAND_NAME_HEADER: "Stadtwerke Beispiel",
            BRAND_COLOR_HEADER: "#0a6e3c",
        },
    }
    fields.update(changes)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


def positions(pdf: bytes) -> dict[str, tuple[float, float]]:
    """Each text run's position as (x, y from the top), in millimetres."""
    found: dict[str, tuple[float, float]] = {}
    page = PdfReader(BytesIO(pdf)).pages[0]
    height = float(page.mediabox.height)

    def visit(text: str, cm: object, tm: list[float], *_: object) -> None:
        if text.strip():
            found.setdefault(text.strip(), (tm[4] / MM, (height - tm[5]) / MM))

    page.extract_text(visitor_text=visit)
    return found


def test_the_page_is_a4_with_the_address_in_the_din_5008_window() -> None:
    pdf, pages = render_letter(letter())
    reader = PdfReader(BytesIO(pdf))
    assert pages == len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == (210, 297)
    where = positions(pdf)
    for line in ("Frau Erika Müller", "Heidestraße 17", "51147 Köln"):
        x, y = where[line]
        # form B window: 20 to 105 mm from the left, the address zone 62.7 to 90 mm from the top
        assert 20 <= x <= 105 - 40
        assert 62.7 <= y <= 90, (line, y)
    x, y = where["Stadtwerke Beispiel · Am Markt 1 · 12345 Beispielstadt"]
    assert 45 <= y <= 62.7, "the return address sits in the window's top zone"
    x, _ = where["123,45 €"]
    assert x > 125, "the summary is in the information block on the right"


def test_the_text_summary_and_pay_link_are_in_the_pdf() -> None:
    pdf, _ = render_letter(letter())
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    for part in ("Zahlungserinnerung Rechnung 2026-0042", "bitte zahlen Sie 123,45 €",
                 "Rechnung", "2026-0042", PAY_URL, "Online bezahlen"):  # fmt: skip
        assert part in text


def test_both_qr_codes_decode_to_the_pay_link_and_the_epc_payload() -> None:
    pdf, _ = render_letter(letter())
    page = PdfReader(BytesIO(pdf)).pages[0]
    decoded = set()
    for image in page.images:
        pil = Image.open(BytesIO(image.data))
        decoded |= {r.text for r in zxingcpp.read_barcodes(pil.convert("L"))}
    assert decoded == {PAY_URL, EPC}


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) absent")
def test_the_printed_page_scans(tmp_path: Path) -> None:
    pdf, _ = render_letter(letter())
    (tmp_path / "letter.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", "letter.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    page = Image.open(tmp_path / "page.png").convert("L")
    assert {r.text for r in zxingcpp.read_barcodes(page)} == {PAY_URL, EPC}


def test_romanian_letters_use_a_font_that_has_them() -> None:
    pdf, _ = render_letter(letter(text="Stimate domnule Ștefănescu, vă rugăm să plătiți.",
                                  language="ro"))  # fmt: skip
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert "Ștefănescu" in text
    assert "Plătiți online" in text


def test_a_long_text_flows_onto_more_pages() -> None:
    pdf, pages = render_letter(letter(text="Absatz mit Text. " * 40 + "\n" * 80 + "Ende."))
    assert pages == len(PdfReader(BytesIO(pdf)).pages) >= 2
    assert "Ende." in PdfReader(BytesIO(pdf)).pages[-1].extract_text()


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"to": "Nur ein Name"}, "at least a name and a place"),
        ({"to": "\n".join(f"Zeile {n}" for n in range(7))}, "the window takes 6"),
        ({"headers": {SUMMARY_HEADER: "[1, 2"}}, "not JSON"),
        ({"id": "../../etc/passwd"}, "cannot name a file"),
    ],
)
def test_what_cannot_be_a_letter_is_refused_and_not_retried(
    tmp_path: Path, changes: dict[str, object], says: str
) -> None:
    result = LetterExport(tmp_path).send(letter(**changes))
    assert not result.accepted
    assert not result.retryable
    assert result.error is not None
    assert says in result.error
    assert list(tmp_path.rglob("*.pdf")) == []


def test_a_batch_is_pdfs_and_a_manifest_in_a_folder_or_a_zip(tmp_path: Path) -> None:
    export = LetterExport(tmp_path)
    export.start_batch("sweep-2026-11-15")
    for n, name in enumerate(["Erika Müller", "=HYPERLINK(evil)", "Max Mustermann"]):
        to = f"{name}\nHeidestraße {n}\n51147 Köln"
        assert export.send(letter(id=f"msg_{n}", to=to)).accepted
    archive = export.finish_batch(as_zip=True)
    folder = tmp_path / "sweep-2026-11-15"
    with (folder / "manifest.csv").open(newline="") as rows:
        manifest = list(csv.DictReader(rows))
    assert [row["file"] for row in manifest] == ["msg_0.pdf", "msg_1.pdf", "msg_2.pdf"]
    assert manifest[1]["address"].startswith("'=HYPERLINK"), "no formula in a spreadsheet"
    assert {row["pages"] for row in manifest} == {"1"}
    assert archive == tmp_path / "sweep-2026-11-15.zip"
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(zipped.namelist()) == ["manifest.csv", "msg_0.pdf", "msg_1.pdf", "msg_2.pdf"]
        assert zipped.read("msg_2.pdf") == (folder / "msg_2.pdf").read_bytes()
    assert export.batch != "sweep-2026-11-15", "the next letter starts a new batch"

"""QR rendering: what decoders read back is exactly the text, and the SVG draws every module."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from paydue.adapters.formats import qr

SVG_NS = "{http://www.w3.org/2000/svg}"
PAY_LINK = "https://pay.example.org/p/Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
PAYLOADS = {
    "ascii": PAY_LINK,
    "umlauts": "Müller & Söhne, Straße 5, Ärger über Öl",
    "euro_sign": "Betrag: 12,30 €",
    "emoji": "Danke 😃",
    "latin1_only_long": "é" * 150,
    "300_bytes": ("Rechnung Nr. 2024-0001 / Kunde 4711 / " * 8)[:300],
}


def decode_png(png: bytes) -> zxingcpp.Barcode:
    barcode = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert barcode is not None, "no QR code found in the rendered PNG"
    return barcode


def zxing_dark_modules(text: str, ec_level: str) -> np.ndarray:
    """The reference matrix straight from zxing-cpp, for comparison with our renderers."""
    options = {"ec_level": ec_level} | ({} if text.isascii() else {"eci": 26})
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, **options)
    return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own renderer's output)


def svg_dark_cells(svg: str) -> set[tuple[int, int]]:
    """Replay the path's ``M``/``m`` moves and ``h`` runs into the set of dark (x, y) cells."""
    root = parse(svg)
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    cells: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?: (-?[\d.]+))?", path.attrib["d"]):
        if command in "Mm":
            x, y = (float(a), float(b)) if command == "M" else (x + float(a), y + float(b))
        else:
            cells.update((int(x) + i, int(y)) for i in range(int(a)))
            x += int(a)
    return cells


@pytest.mark.parametrize("text", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_png_decodes_to_exactly_the_input_text(text: str) -> None:
    assert decode_png(qr.render_png(text)).text == text


def test_non_ascii_text_is_carried_as_utf8() -> None:
    barcode = decode_png(qr.render_png("Preis: 5 €"))
    assert barcode.bytes == "Preis: 5 €".encode()


def test_ascii_text_carries_no_eci_designator() -> None:
    barcode = decode_png(qr.render_png(PAY_LINK))
    assert barcode.symbology_identifier == "]Q1"


@pytest.mark.parametrize("ec_level", ["L", "M", "Q", "H"])
def test_png_uses_the_requested_error_correction_level(ec_level: str) -> None:
    assert decode_png(qr.render_png(PAY_LINK, ec_level=ec_level)).ec_level == ec_level


def test_png_is_a_one_bit_image_of_scaled_modules_with_quiet_zone() -> None:
    dark = zxing_dark_modules(PAY_LINK, "M")
    image = Image.open(io.BytesIO(qr.render_png(PAY_LINK, scale=3, border=2)))
    assert image.mode == "1"
    assert image.size == ((dark.shape[0] + 4) * 3,) * 2
    pixels = np.asarray(image)
    assert pixels[:6].all(), "the quiet zone is white"
    assert np.array_equal(~pixels[6:-6:3, 6:-6:3], dark)


@pytest.mark.parametrize("text", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_svg_draws_exactly_the_dark_modules_of_the_symbol(text: str) -> None:
    dark = zxing_dark_modules(text, "M")
    cells = svg_dark_cells(qr.render_svg(text, border=4))
    expected = {(int(x) + 4, int(y) + 4) for y, x in zip(*np.nonzero(dark), strict=True)}
    assert len(cells) == int(dark.sum())
    assert cells == expected


def test_svg_is_sized_accessible_and_has_a_white_quiet_zone() -> None:
    size = zxing_dark_modules(PAY_LINK, "M").shape[0] + 2 * 2
    root = parse(qr.render_svg(PAY_LINK, border=2, module_px=5, title="Pay <now>"))
    assert root.tag == f"{SVG_NS}svg"
    assert root.attrib["width"] == root.attrib["height"] == str(size * 5)
    assert root.attrib["viewBox"] == f"0 0 {size} {size}"
    assert root.attrib["role"] == "img"
    assert root.attrib["shape-rendering"] == "crispEdges"
    assert root.findtext(f"{SVG_NS}title") == "Pay <now>"
    background = root.find(f"{SVG_NS}rect")
    assert background is not None
    assert background.attrib == {"width": str(size), "height": str(size), "fill": "#fff"}


def test_svg_is_much_smaller_than_one_rect_per_module() -> None:
    barcode = zxingcpp.create_barcode(PAY_LINK, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    assert len(qr.render_svg(PAY_LINK)) < len(barcode.to_svg()) / 1.5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ec_level": "X"}, "ec_level"),
        ({"ec_level": "m"}, "ec_level"),
        ({"border": -1}, "border"),
        ({"scale": 0}, "scale"),
    ],
)
def test_png_rejects_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qr.render_png(PAY_LINK, **options)  # type: ignore[arg-type]


def test_svg_rejects_a_zero_module_size() -> None:
    with pytest.raises(ValueError, match="module_px"):
        qr.render_svg(PAY_LINK, module_px=0)


def test_text_too_long_for_any_symbol_is_rejected() -> None:
    with pytest.raises(ValueError, match="too long"):
        qr.render_svg("x" * 8000)

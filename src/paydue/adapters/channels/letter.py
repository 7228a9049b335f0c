"""Letters: a print-ready A4 PDF per message, exported in batches or posted to a print API.

The PDF (:func:`render_letter`, reportlab) follows DIN 5008 form B, so the address shows in
the window of a DL/C5 window envelope: the address field is 85 x 45 mm at 20 mm from the left
and 45 mm from the top, its first 17.7 mm holding the return address line, the rest up to six
address lines (``message.to``, one line each). The information block to the right holds the
invoice summary; fold marks sit at 105 and 210 mm, the punch mark at 148.5 mm. The issuer's
name and colours head the page; the body is ``message.text``; the payment block at the end
has the link QR code with the pay URL written out, and the EPC QR code (a SEPA transfer a
banking app scans) when the message brings its payload. Fonts are embedded (Bitstream Vera,
shipped with reportlab; DejaVu Sans where the text needs letters Vera lacks, such as
Romanian's ș and ț), as print houses ask.

What a letter needs beyond the port's fields comes in ``message.headers``:

- ``X-Paydue-Summary``: a JSON object of label → value rows (invoice number, amount due…);
- ``X-Paydue-EPC``: the EPC069-12 payload (``formats.epc_qr.epc_payload``);
- ``X-Paydue-Sender``: the return address line;
- ``X-Paydue-Brand-Name``, ``X-Paydue-Brand-Color``, ``X-Paydue-Brand-Accent``: the issuer's
  name and colours (``#rrggbb``).

Why reportlab: it installs from PyPI as a wheel with no system libraries, embeds TrueType
fonts with subsetting, and renders this page about four times faster than fpdf2 (whose core
fonts also lack "€"): well above the 20 pages/s per core the letters need.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import zipfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import httpx
from reportlab.lib.colors import HexColor, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from paydue.adapters.channels import _http
from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.clock import Clock, SystemClock
from paydue.adapters.formats import qr

SUMMARY_HEADER = "X-Paydue-Summary"
EPC_HEADER = "X-Paydue-EPC"
SENDER_HEADER = "X-Paydue-Sender"
BRAND_NAME_HEADER = "X-Paydue-Brand-Name"
BRAND_COLOR_HEADER = "X-Paydue-Brand-Color"
BRAND_ACCENT_HEADER = "X-Paydue-Brand-Accent"
MAX_ADDRESS_LINES = 6
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("message_id", "issuer_id", "file", "pages", "address", "language")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_COLOR = "#1f3a5f"

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 25 * mm
RIGHT = PAGE_WIDTH - 20 * mm
ADDRESS_LEFT = 20 * mm + 5 * mm  # the field starts at 20 mm; text keeps 5 mm from its edge
ADDRESS_TOP = 45 * mm
RETURN_ZONE = 17.7 * mm
INFO_LEFT = 125 * mm
INFO_TOP = 50 * mm
TEXT_TOP = 103.46 * mm
BOTTOM = 25 * mm
QR_SIZE = 32 * mm

CAPTIONS = {
    "en": ("Pay online", "Scan to pay by bank transfer"),
    "de": ("Online bezahlen", "Scannen für die Überweisung"),
    "fr": ("Payer en ligne", "Scannez pour payer par virement"),
    "nl": ("Online betalen", "Scan om per overschrijving te betalen"),
    "it": ("Paga online", "Scansiona per pagare con bonifico"),
    "ro": ("Plătiți online", "Scanați pentru plata prin transfer"),
}
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_SAFE_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class LetterError(ValueError):
    """A message that cannot become a letter; the message says why."""


@cache
def _fonts(family: str) -> tuple[str, str]:
    """Register and name the regular and bold fonts of ``family`` (``vera`` or ``dejavu``)."""
    if family == "dejavu":
        files = (DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf")
        names = ("DejaVuSans", "DejaVuSans-Bold")
    else:
        files = (Path("Vera.ttf"), Path("VeraBd.ttf"))  # found on reportlab's font path
        names = ("Vera", "Vera-Bold")
    for name, path in zip(names, files, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(path)))
    return names


@cache
def _vera_covers() -> frozenset[int]:
    regular, _ = _fonts("vera")
    face = pdfmetrics.getFont(regular).face
    return frozenset(face.charToGlyph)


def _font_family(texts: Sequence[str]) -> tuple[str, str]:
    """Vera when it has every letter of the letter, else DejaVu Sans where installed."""
    needed = {ord(char) for text in texts for char in text if not char.isspace()}
    if needed <= _vera_covers() or not (DEJAVU / "DejaVuSans.ttf").exists():
        return _fonts("vera")
    return _fonts("dejavu")


def _color(value: str | None, default: str = DEFAULT_COLOR) -> str:
    """``value`` when it is a ``#rrggbb`` colour, else ``default``."""
    return value if value and _COLOR.fullmatch(value) else default


def _summary(message: OutboundMessage) -> list[tuple[str, str]]:
    raw = message.headers.get(SUMMARY_HEADER)
    if not raw:
        return []
    try:
        rows = json.loads(raw)
    except ValueError as exc:
        raise LetterError(f"{SUMMARY_HEADER}: not JSON: {exc}") from exc
    if not isinstance(rows, dict):
        raise LetterError(f"{SUMMARY_HEADER}: must be a JSON object of label to value")
    return [(str(label), str(value)) for label, value in rows.items()]


def address_lines(to: str) -> list[str]:
    """The address block's lines; LetterError when it does not fit the window."""
    lines = [" ".join(line.split()) for line in to.strip().splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise LetterError("the postal address needs at least a name and a place")
    if len(lines) > MAX_ADDRESS_LINES:
        raise LetterError(f"the postal address has {len(lines)} lines, the window takes 6")
    return lines


class _Page:
    """A canvas with a y cursor measured from the top of the page, in points."""

    def __init__(self, canvas: Canvas, fonts: tuple[str, str]) -> None:
        self.canvas = canvas
        self.regular, self.bold = fonts
        self.y = TEXT_TOP

    def text(self, x: float, top: float, text: str, size: float, *, bold: bool = False) -> None:
        self.canvas.setFont(self.bold if bold else self.regular, size)
        self.canvas.drawString(x, PAGE_HEIGHT - top, text)

    def wrapped(self, text: str, size: float, *, bold: bool = False, width: float = 0) -> None:
        """``text`` from the cursor down, wrapped to the text width, new pages as needed."""
        font = self.bold if self.bold and bold else self.regular
        leading = size * 1.35
        for paragraph in text.splitlines() or [""]:
            for line in simpleSplit(paragraph, font, size, width or RIGHT - LEFT) or [""]:
                if self.y + leading > PAGE_HEIGHT - BOTTOM:
                    self.new_page()
                self.y += leading
                self.text(LEFT, self.y, line, size, bold=bold)

    def new_page(self) -> None:
        self.canvas.showPage()
        self.y = 20 * mm


def render_letter(message: OutboundMessage) -> tuple[bytes, int]:
    """The letter's PDF and its page count; LetterError for a message that cannot be one."""
    lines = address_lines(message.to)
    summary = _summary(message)
    headers = message.headers
    brand = headers.get(BRAND_NAME_HEADER, "").strip()
    sender = headers.get(SENDER_HEADER, brand).strip()
    epc = headers.get(EPC_HEADER)
    texts = [*lines, brand, sender, message.subject or "", message.text, message.pay_url or ""]
    texts += [part for row in summary for part in row]
    fonts = _font_family(texts)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, invariant=True)
    canvas.setTitle(message.subject or "Letter")
    canvas.setAuthor(brand or "paydue")
    page = _Page(canvas, fonts)
    primary = _color(headers.get(BRAND_COLOR_HEADER))
    accent = _color(headers.get(BRAND_ACCENT_HEADER), default=primary)

    # the issuer's head: name in its colour, a rule in the accent colour
    canvas.setFillColor(HexColor(primary))
    page.text(LEFT, 20 * mm, brand, 16, bold=True)
    canvas.setStrokeColor(HexColor(accent))
    canvas.setLineWidth(1.2)
    canvas.line(LEFT, PAGE_HEIGHT - 24 * mm, RIGHT, PAGE_HEIGHT - 24 * mm)
    canvas.setFillColor(black)

    # fold and punch marks at the left edge
    canvas.setStrokeColor(black)
    canvas.setLineWidth(0.3)
    for top, length in ((105 * mm, 5 * mm), (148.5 * mm, 8 * mm), (210 * mm, 5 * mm)):
        canvas.line(3 * mm, PAGE_HEIGHT - top, 3 * mm + length, PAGE_HEIGHT - top)

    # address field: return address line, then the address
    if sender:
        page.text(ADDRESS_LEFT, ADDRESS_TOP + RETURN_ZONE - 3 * mm, sender, 7)
    for i, line in enumerate(lines):
        page.text(ADDRESS_LEFT, ADDRESS_TOP + RETURN_ZONE + 4.5 * mm + i * 4.2 * mm, line, 10)

    # information block: the invoice summary
    for i, (label, value) in enumerate(summary):
        top = INFO_TOP + i * 4.6 * mm
        page.text(INFO_LEFT, top, label, 8)
        canvas.setFont(fonts[1], 9)
        canvas.drawRightString(RIGHT, PAGE_HEIGHT - top, value)

    if message.subject:
        page.wrapped(message.subject, 11, bold=True)
        page.y += 4 * mm
    page.wrapped(message.text, 10)
    _payment_block(page, message, epc)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue(), canvas.getPageNumber() - 1


def _payment_block(page: _Page, message: OutboundMessage, epc: str | None) -> None:
    codes = [(message.pay_url, 0), (epc, 1)]
    codes = [(text, which) for text, which in codes if text]
    if not codes:
        return
    height = QR_SIZE + 14 * mm
    if page.y + 8 * mm + height > PAGE_HEIGHT - BOTTOM:
        page.new_page()
    top = max(page.y + 8 * mm, PAGE_HEIGHT - BOTTOM - height)
    captions = CAPTIONS.get(message.language.split("-", 1)[0].lower(), CAPTIONS["en"])
    canvas = page.canvas
    for column, (text, which) in enumerate(codes):
        assert text is not None
        x = LEFT + column * (QR_SIZE + 45 * mm)
        image = ImageReader(io.BytesIO(qr.render_png(text, ec_level="M", scale=6, border=4)))
        canvas.drawImage(image, x, PAGE_HEIGHT - top - QR_SIZE, QR_SIZE, QR_SIZE)
        page.text(x, top + QR_SIZE + 4 * mm, captions[which], 8, bold=True)
    if message.pay_url:
        url_lines = simpleSplit(message.pay_url, page.regular, 7, QR_SIZE + 40 * mm)
        for i, line in enumerate(url_lines[:3]):
            page.text(LEFT, top + QR_SIZE + 8 * mm + i * 3 * mm, line, 7)


def _file_name(message: OutboundMessage) -> str:
    if not _SAFE_ID.fullmatch(message.id):
        raise LetterError(f"message id {message.id!r} cannot name a file")
    return f"{message.id}.pdf"


def _cell(value: str) -> str:
    """A manifest cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class LetterExport:
    """Writes each letter's PDF into a batch folder and a row into its ``manifest.csv``.

    A sweep starts a batch (:meth:`start_batch`, named by date and time unless named) and
    ends it with :meth:`finish_batch`, which can zip the folder for the print house."""

    name = "letter"

    def __init__(self, folder: Path | str, *, clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self.batch = self._default_batch()

    def _default_batch(self) -> str:
        return "letters-" + self.clock.now().strftime("%Y%m%dT%H%M%S")

    def start_batch(self, name: str | None = None) -> str:
        name = name or self._default_batch()
        if not _SAFE_ID.fullmatch(name):
            raise ValueError(f"batch name {name!r} cannot name a folder")
        with self._lock:
            self.batch = name
        return name

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            file_name = _file_name(message)
            pdf, pages = render_letter(message)
        except LetterError as exc:
            return SendResult(accepted=False, error=str(exc))
        with self._lock:
            batch = self.folder / self.batch
            try:
                batch.mkdir(parents=True, exist_ok=True)
                (batch / file_name).write_bytes(pdf)
                manifest = batch / MANIFEST
                new = not manifest.exists()
                with manifest.open("a", newline="", encoding="utf-8") as out:
                    writer = csv.writer(out)
                    if new:
                        writer.writerow(MANIFEST_COLUMNS)
                    address = " / ".join(address_lines(message.to))
                    row = (message.id, message.issuer_id, file_name, str(pages), address)
                    writer.writerow([*map(_cell, row), message.language])
            except OSError as exc:
                return SendResult(
                    accepted=False, error=f"letter export: {exc}"[:500], retryable=True
                )
            return SendResult(accepted=True, provider_id=f"{self.batch}/{file_name}")

    def finish_batch(self, *, as_zip: bool = False) -> Path:
        """Close the current batch (the next letter starts a new one); its folder, or the zip
        of it beside the folder."""
        with self._lock:
            batch = self.folder / self.batch
            self.batch = self._default_batch()
        if not as_zip:
            return batch
        target = batch.with_suffix(".zip")
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(batch.glob("*")):
                archive.write(path, path.name)
        return target


class PrintApiLetters:
    """POSTs each letter to a print house's API: ``multipart/form-data`` with the PDF as
    ``file`` and the fields ``id``, ``issuer_id``, ``pages`` and ``address``; bearer token.
    The answer's ``id`` is the provider id."""

    name = "letter"

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = url
        self.token = token
        self._client = _http.make_client(timeout=timeout)

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            file_name = _file_name(message)
            pdf, pages = render_letter(message)
        except LetterError as exc:
            return SendResult(accepted=False, error=str(exc))
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        fields = {
            "id": message.id,
            "issuer_id": message.issuer_id,
            "pages": str(pages),
            "address": "\n".join(address_lines(message.to)),
        }
        answer = _http.post(
            self._client,
            self.url,
            data=fields,
            files={"file": (file_name, pdf, "application/pdf")},
            headers=headers,
        )
        if isinstance(answer, SendResult):
            return answer
        provider_id = message.id
        try:
            found = answer.json().get("id")
            if isinstance(found, str | int) and str(found):
                provider_id = str(found)
        except (ValueError, AttributeError, httpx.DecodingError):
            pass
        return SendResult(accepted=True, provider_id=provider_id)

    def close(self) -> None:
        self._client.close()

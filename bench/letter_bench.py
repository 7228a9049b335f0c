"""Letters: print-ready A4 PDF pages per second on one core.

Run from the repository root::

    .venv/bin/python bench/letter_bench.py [--letters 200] [--repeat 5]

Timed, in one process (one core): ``adapters.channels.letter.render_letter`` of reminder
letters for different payers — address block in the window, the issuer's branding, the invoice
summary, the pay link with its QR code and the EPC (SEPA transfer) QR code, compressed, in one
PDF each. Baseline in the same run: reportlab writing a blank A4 page with one line of text
(``Canvas`` → ``showPage`` → ``save``), the floor of any reportlab letter. Cases alternate,
``--repeat`` times; medians. Target: at least 20 pages/s per core.
Results: ``bench/results/letter.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from paydue.adapters.channels import letter
from paydue.adapters.channels.base import OutboundMessage
from paydue.adapters.formats.epc_qr import epc_payload
from paydue.domain.references import rf_for_sequence

RESULTS = Path(__file__).resolve().parent / "results" / "letter.json"
TARGET = 20


def _message(n: int) -> OutboundMessage:
    headers = {
        letter.BRAND_NAME_HEADER: "Stadtwerke Musterstadt",
        letter.BRAND_COLOR_HEADER: "#0b5394",
    }
    headers[letter.EPC_HEADER] = epc_payload(
        name="Stadtwerke Musterstadt",
        iban="DE89370400440532013000",
        amount_minor=1250 + 100 * (n % 300),
        reference=rf_for_sequence(n + 1),
    )
    return OutboundMessage(
        id=f"msg_{n:026d}",
        issuer_id="iss_bench",
        channel="letter",
        to=f"Erika Mustermann {n}\nHeidestr. {n % 200 + 1}\n51147 Köln\nDE",
        subject=f"Zahlungserinnerung zu Rechnung RE-2026-{n:06d}",
        text=(
            "Sehr geehrte Frau Mustermann,\n\nunsere Rechnung ist seit dem 1. November 2026 "
            f"fällig. Bitte zahlen Sie {12 + n % 300},50 € bis zum 30. November 2026.\n\n"
            "Mit freundlichen Grüßen\nStadtwerke Musterstadt"
        ),
        language="de",
        pay_url=f"https://pay.example.org/p/{n:032x}",
        headers=headers,
    )


def paydue_case(count: int) -> float:
    messages = [_message(n) for n in range(count)]
    pages = 0
    started = time.perf_counter()
    for m in messages:
        _pdf, n = letter.render_letter(m)
        pages += n
    return pages / (time.perf_counter() - started)


def baseline_case(count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, pageCompression=1, invariant=True)
        canvas.drawString(72, 770, f"Letter {n}")
        canvas.showPage()
        canvas.save()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    letter.render_letter(_message(0))  # fonts and QR encoder loaded
    runs: dict[str, list[float]] = {"paydue": [], "baseline": []}
    for r in range(args.repeat):
        cases = ["paydue", "baseline"] if r % 2 == 0 else ["baseline", "paydue"]
        for case in cases:
            fn = paydue_case if case == "paydue" else baseline_case
            runs[case].append(round(fn(args.letters), 1))
            print(case, runs[case][-1], flush=True)
    paydue, baseline = statistics.median(runs["paydue"]), statistics.median(runs["baseline"])
    result = {
        "benchmark": "letter",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "letters_per_run": args.letters,
        "pages_per_second_runs": runs,
        "paydue_pages_per_second": round(paydue, 1),
        "baseline_pages_per_second": round(baseline, 1),
        "ratio_to_baseline": round(paydue / baseline, 3),
        "target_pages_per_second": TARGET,
        "met": paydue >= TARGET,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

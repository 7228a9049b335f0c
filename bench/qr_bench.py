"""QR rendering throughput: paydue's renderers against segno, side by side in one run.

Run from the repository root::

    PYTHONPATH=src python bench/qr_bench.py [--payloads 200] [--repeat 7]

Payloads are realistic: half pay-link URLs with a 32-character token, half EPC069-12 payloads
with RF references. Each repetition renders every payload once per case; cases are timed in
a rotating order so drift on a noisy machine hits all of them alike. Reported: median
payloads/s per case and the ratio to segno for the same output (format, scale, border).
Results go to ``bench/results/qr.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import segno
import zxingcpp
from PIL import Image

from paydue.adapters.formats import qr
from paydue.adapters.formats.epc_qr import epc_payload
from paydue.domain.references import rf_for_sequence

RESULTS = Path(__file__).resolve().parent / "results" / "qr.json"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
NAMES = ["Stadtwerke Müllheim GmbH", "Gemeinde Öhringen", "Telco Nord AG", "Wasserverband Süd"]
IBANS = ["DE71110220330123456789", "FR1420041010050500013M02606", "AT611904300234573201"]

Renderer = Callable[[str], bytes | str]


def payloads(count: int, seed: int = 42) -> list[str]:
    """Deterministic mix of pay-link URLs and EPC payloads."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        if index % 2 == 0:
            token = "".join(rng.choices(TOKEN_ALPHABET, k=32))
            result.append(f"https://pay.example.org/p/{token}")
        else:
            result.append(
                epc_payload(
                    name=rng.choice(NAMES),
                    iban=rng.choice(IBANS),
                    amount_minor=rng.randint(100, 500_000),
                    reference=rf_for_sequence(rng.randint(1, 10**8)),
                )
            )
    return result


def segno_renderer(kind: str, scale: int) -> Renderer:
    def render(text: str) -> bytes:
        buffer = io.BytesIO()
        segno.make(text, error="m").save(buffer, kind=kind, scale=scale, border=4)
        return buffer.getvalue()

    return render


def pillow_png(scale: int) -> Renderer:
    """Our module matrix written through Pillow, to justify the direct PNG writer."""

    def render(text: str) -> bytes:
        light = np.pad(~qr.module_matrix(text, ec_level="M"), 4, constant_values=True)
        image = Image.fromarray(light).resize(
            (light.shape[0] * scale,) * 2, Image.Resampling.NEAREST
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()

    return render


def zxing_svg(text: str) -> str:
    """zxing-cpp's own SVG writer (one rect per module), for context."""
    options = {"ec_level": "M"} | ({} if text.isascii() else {"eci": 26})
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, **options)
    return str(barcode.to_svg())


# (case, output group, renderer); the first case of each group is its baseline
CASES: list[tuple[str, str, Renderer]] = [
    ("segno svg", "svg", segno_renderer("svg", 1)),
    ("paydue svg", "svg", lambda text: qr.render_svg(text, ec_level="M")),
    ("zxing-cpp to_svg", "svg", zxing_svg),
    ("segno png scale 1", "png scale 1", segno_renderer("png", 1)),
    ("paydue png scale 1", "png scale 1", lambda text: qr.render_png(text, scale=1)),
    ("segno png scale 8", "png scale 8", segno_renderer("png", 8)),
    ("paydue png scale 8", "png scale 8", lambda text: qr.render_png(text, scale=8)),
    ("paydue matrix + Pillow png scale 8", "png scale 8", pillow_png(8)),
]


def time_case(render: Renderer, texts: list[str]) -> tuple[float, int]:
    """Payloads per second for one pass over ``texts``, and the mean output size in bytes."""
    size = 0
    start = time.perf_counter()
    for text in texts:
        size += len(render(text))
    elapsed = time.perf_counter() - start
    return len(texts) / elapsed, size // len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    texts = payloads(args.payloads)
    for _, _, render in CASES:  # warm-up: imports, caches, first-call costs
        render(texts[0])
    runs: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    sizes: dict[str, int] = {}
    for repetition in range(args.repeat):
        shift = repetition % len(CASES)
        for name, _, render in CASES[shift:] + CASES[:shift]:
            rate, sizes[name] = time_case(render, texts)
            runs[name].append(rate)

    baselines: dict[str, str] = {}
    rows = []
    for name, group, _ in CASES:
        baseline = baselines.setdefault(group, name)
        median = statistics.median(runs[name])
        ratio = median / statistics.median(runs[baseline])
        rows.append(
            {
                "case": name,
                "output": group,
                "baseline": baseline,
                "median_payloads_per_s": round(median, 1),
                "ratio_to_baseline": round(ratio, 2),
                "runs_payloads_per_s": [round(rate, 1) for rate in runs[name]],
                "mean_output_bytes": sizes[name],
            }
        )

    print(f"{len(texts)} payloads x {args.repeat} repetitions, median payloads/s")
    print(f"{'case':<36} {'payloads/s':>11} {'vs segno':>9} {'bytes':>7}")
    for row in rows:
        print(
            f"{row['case']:<36} {row['median_payloads_per_s']:>11.0f} "
            f"{row['ratio_to_baseline']:>8.2f}x {row['mean_output_bytes']:>7}"
        )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "qr",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "versions": {pkg: version(pkg) for pkg in ("segno", "zxing-cpp", "numpy", "pillow")},
        },
        "payloads": len(texts),
        "repetitions": args.repeat,
        "results": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

"""Bank statement parsing speed: paydue's parsers against pycamt, bankstatementparser, mt-940.

Builds two large files from real samples (a camt.053 with 2,000 entries in the shape of
OCA's test statement - pycamt's time grows with the square of the entry count, 10,000 entries
would take it a quarter of an hour per run - and an MT940 with 10,000 transactions repeating
those of a German SEPA statement), parses
each with every parser in the same run, several times, and reports the median lines per second
and the ratio ours / fastest competitor. A competitor that is missing or fails on a file is
reported as such. Usage: ``python bench/statements_parse_bench.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paydue.adapters.formats.statements import camt, mt940

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "shared" / "samples"
RESULTS = HERE / "results" / "statements_parse.json"
CAMT_ENTRIES = 2_000
MT940_LINES = 10_000


def large_camt() -> bytes:
    """camt.053.001.02 with CAMT_ENTRIES entries cycled from ``oca_test-camt053.xml``."""
    text = (SAMPLES / "camt" / "oca_test-camt053.xml").read_text(encoding="utf-8")
    entries = re.findall(r"<Ntry>.*?</Ntry>", text, flags=re.DOTALL)
    head, tail = text.split(entries[0], 1)[0], text.rsplit(entries[-1], 1)[1]
    body = "".join(entries[i % len(entries)] for i in range(CAMT_ENTRIES))
    return (head + body + tail).encode()


def large_mt940() -> bytes:
    """One MT940 statement repeating the :61:/:86: pairs of a real German SEPA file."""
    text = (SAMPLES / "mt940" / "wolph-betterplace_sepa_mt9401.sta").read_text(encoding="latin-1")
    text = text.replace("\r\n", "\n")
    pairs = re.findall(r"^:61:.*?(?=^:6[12])", text, flags=re.DOTALL | re.MULTILINE)
    header = re.search(r"^:20:.*?(?=^:61:)", text, flags=re.DOTALL | re.MULTILINE)
    assert header is not None
    count = 0
    body = []
    while count < MT940_LINES:
        for pair in pairs:
            body.append(pair)
            count += pair.count(":61:")
    return (header.group(0) + "".join(body) + ":62F:C070904EUR0,00\n-\n").encode("latin-1")


def competitors(kind: str, path: Path) -> dict[str, Callable[[bytes], int] | str]:
    """Name -> parse function returning a transaction count, or why it is unavailable."""
    found: dict[str, Callable[[bytes], int] | str] = {}
    if kind == "camt":
        try:
            from pycamt.parser import Camt053Parser

            found["pycamt"] = lambda data: len(Camt053Parser(data).get_transactions())
        except ImportError as exc:
            found["pycamt"] = f"not installed ({exc})"
        try:
            from bankstatementparser import CamtParser

            found["bankstatementparser"] = lambda data: len(CamtParser(str(path)).parse())
        except ImportError as exc:
            found["bankstatementparser"] = f"not installed ({exc})"
    else:
        try:
            import mt940 as wolph

            found["mt-940"] = lambda data: len(wolph.parse(data))
        except ImportError as exc:
            found["mt-940"] = f"not installed ({exc})"
        try:
            from bankstatementparser import Mt940Parser

            found["bankstatementparser"] = lambda data: len(Mt940Parser(str(path)).parse())
        except ImportError as exc:
            found["bankstatementparser"] = f"not installed ({exc})"
    return found


def measure(parse: Callable[[bytes], int], data: bytes, repeat: int) -> tuple[float, int]:
    """Median seconds of ``repeat`` runs and the count the parser reported."""
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = parse(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def ours(parser: Callable[[bytes], list[Any]]) -> Callable[[bytes], int]:
    return lambda data: sum(len(s.lines) for s in parser(data))


def run(repeat: int) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": repeat,
        "files": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for kind, data, parser in (
            ("camt", large_camt(), camt.parse),
            ("mt940", large_mt940(), mt940.parse),
        ):
            path = Path(folder) / f"large.{'xml' if kind == 'camt' else 'sta'}"
            path.write_bytes(data)
            seconds, lines = measure(ours(parser), data, repeat)
            rows: dict[str, Any] = {
                "paydue": {"seconds": seconds, "reported": lines, "lines_per_s": lines / seconds}
            }
            for name, parse in competitors(kind, path).items():
                if isinstance(parse, str):
                    rows[name] = {"error": parse}
                    continue
                try:
                    other_seconds, reported = measure(parse, data, repeat)
                except Exception as exc:  # a competitor failing is a result, not a crash
                    rows[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                    continue
                rows[name] = {
                    "seconds": other_seconds,
                    "reported": reported,
                    "lines_per_s": lines / other_seconds,
                }
            speeds = [r["lines_per_s"] for n, r in rows.items() if n != "paydue" and "seconds" in r]
            report["files"][kind] = {
                "bytes": len(data),
                "lines": lines,
                "parsers": rows,
                "ratio_vs_fastest": rows["paydue"]["lines_per_s"] / max(speeds) if speeds else None,
            }
    return report


def main() -> None:
    """Run the benchmark, print a table and write the JSON results."""
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--repeat", type=int, default=3)
    report = run(arguments.parse_args().repeat)
    for kind, result in report["files"].items():
        print(f"{kind}: {result['lines']} lines, {result['bytes']} bytes")
        for name, row in result["parsers"].items():
            if "error" in row:
                print(f"  {name:22} {row['error']}")
            else:
                print(
                    f"  {name:22} {row['lines_per_s']:>12,.0f} lines/s"
                    f"  (median {row['seconds']:.3f} s, reported {row['reported']})"
                )
        ratio = result["ratio_vs_fastest"]
        print(f"  ours / fastest competitor: {ratio:.2f}x" if ratio else "  no competitor ran")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(HERE.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()

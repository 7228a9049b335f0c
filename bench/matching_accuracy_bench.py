"""Matching accuracy on the labelled synthetic portfolio, beside a number-only baseline.

Run from the repository root::

    .venv/bin/python bench/matching_accuracy_bench.py [--invoices 10000] [--seed 2026] [--postgres]

Generates the portfolio (``bench/synthetic_portfolio.py``: 10,000 invoices and five daily
camt.053 files with retyped and mistyped references, invoice numbers, names in other orders,
combined, partial and over-payments, returns, payouts, overlapping files and unrelated money),
creates the invoices for a fresh issuer and imports the files through the real import
(``services.statements.import_statement``) on SQLite (a temporary file) or, with
``--postgres``, PostgreSQL in a schema of its own. Then compares every stored line with its
label: precision of automatic matches (booked to exactly the labelled invoices), recall (lines
that pay invoices booked automatically and right), per kind of line. The baseline, scored on
the same lines, books a credit whose text contains exactly one invoice number, written exactly.

Targets: precision >= 99.9 %, recall >= 97 %. Results: ``bench/results/matching_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paydue.bootstrap import build
from paydue.config import Settings
from paydue.services.issuers import create_issuer
from paydue.services.statements import import_statement
from pg_schema import bench_schema
from synthetic_portfolio import create_invoices, generate, number_only_baseline, score

RESULTS = Path(__file__).resolve().parent / "results" / "matching_accuracy.json"
SCHEMA = "paydue_bench_accuracy"
IBAN = "DE89370400440532013000"
SECRET = "bench-secret-key-with-more-than-thirty-two-characters"
PRECISION_TARGET = 0.999
RECALL_TARGET = 0.97


def run(url: str, invoices: int, seed: int) -> dict[str, Any]:
    from paydue.adapters.db import migrate

    portfolio = generate(invoices=invoices, seed=seed)
    container = build(
        Settings(database_url=url, secret_key=SECRET, base_url="http://127.0.0.1", env="test")
    )
    migrate.upgrade(container.engine)
    with container.uow() as uow:
        issuer = create_issuer(uow, "Bench Stadtwerke", iban=IBAN).issuer
        numbers = create_invoices(uow, container.links, issuer, portfolio.invoices)
        uow.commit()
    started = time.perf_counter()
    counts: dict[str, int] = {}
    for data in portfolio.statement_files():
        with container.uow() as uow:
            report = import_statement(uow, container.links, issuer, data)
            uow.commit()
        for outcome, n in report.counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    elapsed = time.perf_counter() - started
    with container.engine.connect() as conn:
        result = score(conn, issuer.id, portfolio, numbers)
    container.close()
    baseline = number_only_baseline(portfolio)
    lines = len(portfolio.lines)
    return {
        "benchmark": "matching_accuracy",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "database": url.split(":", 1)[0],
        "invoices": invoices,
        "seed": seed,
        "lines": lines,
        "kinds": dict(sorted(portfolio.kinds().items())),
        "outcomes": counts,
        "import_seconds": round(elapsed, 2),
        "paydue": result.as_dict(),
        "baseline_number_only": baseline.as_dict(),
        "targets": {"precision": PRECISION_TARGET, "recall": RECALL_TARGET},
        "met": {
            "precision": result.precision >= PRECISION_TARGET,
            "recall": result.recall >= RECALL_TARGET,
        },
        "wrong_examples": (result.wrong + result.matched_none)[:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if args.postgres:
        with bench_schema(SCHEMA) as url:
            result = run(url, args.invoices, args.seed)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = run(f"sqlite:///{folder}/accuracy.db", args.invoices, args.seed)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    ours, base = result["paydue"], result["baseline_number_only"]
    for name, scored in (("paydue", ours), ("baseline (number only)", base)):
        print(
            f"{name:>22}: matched {scored['matched']:5d} of {scored['payable_lines']:5d} payable,"
            f" wrong {scored['wrong']}, precision {scored['precision']:.4f},"
            f" recall {scored['recall']:.4f}"
        )
    for kind, by in ours["recall_by_kind"].items():
        print(f"{kind:>22}: {by['right']:5d}/{by['lines']:5d}")
    print(f"returns {ours['returns']}, duplicates {ours['duplicates']}, met {result['met']}")
    print(f"import took {result['import_seconds']} s for {result['lines']} lines")


if __name__ == "__main__":
    main()

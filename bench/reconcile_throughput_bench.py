"""Reconciliation throughput on PostgreSQL: statement lines imported end to end against many
open invoices, beside parse-only and raw ``COPY`` of the same lines.

Run from the repository root (PostgreSQL at ``PAYDUE_BENCH_POSTGRES_URL``; own schema)::

    .venv/bin/python bench/reconcile_throughput_bench.py [--invoices 1000000] [--lines 100000]

The open invoices and their payers are written with ``COPY`` (set-up, not timed). The lines are
camt.053 files of 10,000 entries: 80 % pay one invoice by its RF in the structured field, 10 %
by its invoice number in the text, 10 % pay nothing. Timed: ``import_statement`` of every file
(parse, candidate index, matching, booking, commit). Baselines in the same run: parsing alone,
and psycopg ``COPY`` of the same lines into a scratch table ``LIKE statement_lines``.
Target: at least 20,000 lines/s end to end. Results: ``bench/results/reconcile_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from paydue.adapters.db import migrate
from paydue.adapters.formats.statements import parse_statement
from paydue.bootstrap import build
from paydue.config import Settings
from paydue.domain.references import rf_for_sequence
from paydue.services.issuers import create_issuer
from paydue.services.statements import import_statement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schema import bench_schema
from synthetic_portfolio import Line, camt053

RESULTS = Path(__file__).resolve().parent / "results" / "reconcile_throughput.json"
SCHEMA = "paydue_bench_reconcile"
SECRET = "bench-secret-key-with-more-than-thirty-two-characters"
FILE_LINES = 10_000
TARGET = 20_000


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def seed_invoices(url: str, issuer_id: str, count: int, rng: random.Random) -> list[int]:
    """``count`` open invoices of ``count // 2`` payers by COPY; returns their amounts."""
    now = datetime.now(UTC)
    amounts = [rng.randrange(500, 200_000) for _ in range(count)]
    with psycopg.connect(_plain(url)) as conn, conn.cursor() as cur:
        payers = max(1, count // 2)
        with cur.copy(
            "COPY payers (issuer_id, id, ref, name, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(payers):
                copy.write_row((issuer_id, f"pyr_{n:024d}", f"K{n}", f"Payer {n}", now, now))
        with cur.copy(
            "COPY invoices (issuer_id, id, number, payer_id, amount, currency, amount_paid,"
            " status, issue_date, due_date, reference, badge_token_hash, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for seq in range(1, count + 1):
                copy.write_row(
                    (
                        issuer_id,
                        f"inv_{seq:024d}",
                        f"RE-{seq:08d}",
                        f"pyr_{seq % payers:024d}",
                        amounts[seq - 1],
                        "EUR",
                        0,
                        "open",
                        date(2026, 10, 1),
                        date(2026, 10, 31),
                        rf_for_sequence(seq),
                        f"{seq:064x}",
                        now,
                        now,
                    )
                )
        cur.execute("UPDATE issuers SET reference_seq = %s WHERE id = %s", (count, issuer_id))
        conn.commit()
    return amounts


def statement_files(amounts: list[int], lines: int, rng: random.Random) -> list[bytes]:
    paid = rng.sample(range(1, len(amounts) + 1), lines)
    made = []
    for n, seq in enumerate(paid):
        kind = rng.random()
        amount = amounts[seq - 1]
        if kind < 0.8:
            line = Line(
                f"B{n:09d}", "rf", amount, date(2026, 11, 2), "X", structured=rf_for_sequence(seq)
            )
        elif kind < 0.9:
            line = Line(
                f"B{n:09d}", "number", amount, date(2026, 11, 2), "X", texts=(f"RE-{seq:08d}",)
            )
        else:
            line = Line(
                f"B{n:09d}", "none", rng.randrange(100, 9999), date(2026, 11, 2), "Unbekannt"
            )
        made.append(line)
    return [
        camt053(made[i : i + FILE_LINES], statement_id=f"TP-{i // FILE_LINES:04d}")
        for i in range(0, len(made), FILE_LINES)
    ]


def copy_baseline(url: str, files: list[bytes]) -> float:
    """Seconds to COPY the parsed lines into a scratch table shaped like statement_lines."""
    lines = [line for data in files for s in parse_statement(data) for line in s.lines]
    now = datetime.now(UTC)
    with psycopg.connect(_plain(url)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE copy_baseline (LIKE statement_lines INCLUDING ALL)")
        started = time.perf_counter()
        with cur.copy(
            "COPY copy_baseline (issuer_id, id, statement_id, position, fingerprint,"
            " booking_date, amount, currency, counterparty_name, structured_reference,"
            " remittance_text, bank_reference, outcome, created_at) FROM STDIN"
        ) as copy:
            for n, line in enumerate(lines):
                copy.write_row(
                    (
                        "iss",
                        f"sl_{n}",
                        "stm",
                        n,
                        line.fingerprint,
                        line.booking_date,
                        line.amount,
                        line.currency,
                        line.counterparty_name,
                        line.structured_reference,
                        line.remittance_text,
                        line.bank_reference,
                        "matched",
                        now,
                    )
                )
        conn.commit()
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE copy_baseline")
        conn.commit()
    return elapsed


def run(url: str, invoices: int, lines: int) -> dict[str, Any]:
    rng = random.Random(11)
    container = build(
        Settings(database_url=url, secret_key=SECRET, base_url="http://127.0.0.1", env="test")
    )
    migrate.upgrade(container.engine)
    with container.uow() as uow:
        issuer = create_issuer(uow, "Bench Stadtwerke", iban="DE89370400440532013000").issuer
        uow.commit()
    started = time.perf_counter()
    amounts = seed_invoices(url, issuer.id, invoices, rng)
    seeded = time.perf_counter() - started
    files = statement_files(amounts, lines, rng)

    started = time.perf_counter()
    for data in files:
        parse_statement(data)
    parse_seconds = time.perf_counter() - started

    counts: dict[str, int] = {}
    per_file = []
    started = time.perf_counter()
    for data in files:
        file_started = time.perf_counter()
        with container.uow() as uow:
            report = import_statement(uow, container.links, issuer, data)
            uow.commit()
        per_file.append(round(time.perf_counter() - file_started, 2))
        for outcome, n in report.counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    import_seconds = time.perf_counter() - started
    container.close()
    copy_seconds = copy_baseline(url, files)
    rate = lines / import_seconds
    return {
        "benchmark": "reconcile_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "invoices": invoices,
        "lines": lines,
        "seed_seconds": round(seeded, 1),
        "import_seconds": round(import_seconds, 2),
        "import_seconds_per_file": per_file,
        "outcomes": counts,
        "lines_per_second": round(rate),
        "parse_only_lines_per_second": round(lines / parse_seconds),
        "copy_lines_per_second": round(lines / copy_seconds),
        "ratio_to_parse_only": round(rate / (lines / parse_seconds), 4),
        "ratio_to_copy": round(rate / (lines / copy_seconds), 4),
        "target_lines_per_second": TARGET,
        "met": rate >= TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with bench_schema(SCHEMA) as url:
        result = run(url, args.invoices, args.lines)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Batch invoice creation through the API on PostgreSQL, beside raw ``COPY`` of the same rows.

Run from the repository root (PostgreSQL at ``PAYDUE_BENCH_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; the benchmark uses its own schema)::

    .venv/bin/python bench/batch_create_bench.py [--requests 6] [--batch 10000]

A real server process (``paydue serve --no-worker``) answers ``POST /v1/invoices/batch`` with
``--batch`` invoices per request, each request with fresh invoice numbers and about 10% payers
seen in an earlier request. Measured client-side, end to end: JSON encoding of the request, the
HTTP round trip, the server's validation, references, pay links and events, and decoding the
response. The baseline is the physical ceiling: psycopg ``COPY`` of the same invoice rows into a
scratch table of the invoices table's shape (``LIKE invoices INCLUDING ALL``, so with the same
indexes), one transaction per batch, in the same run. Results go to
``bench/results/batch_create.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import sqlalchemy as sa

from paydue.bootstrap import build
from paydue.config import Settings
from paydue.services.ids import new_id
from paydue.services.issuers import create_issuer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schema import bench_schema

RESULTS = Path(__file__).resolve().parent / "results" / "batch_create.json"
SCHEMA = "paydue_bench_batch"
IBAN = "DE89370400440532013000"
SECRET = "bench-secret-key-with-more-than-thirty-two-characters"
BASELINE_COLUMNS = (
    "issuer_id",
    "id",
    "number",
    "payer_id",
    "amount",
    "currency",
    "amount_paid",
    "status",
    "issue_date",
    "due_date",
    "description",
    "reference",
    "badge_token_hash",
    "created_at",
    "updated_at",
)


def settings(url: str, port: int) -> Settings:
    return Settings(
        database_url=url, secret_key=SECRET, base_url=f"http://127.0.0.1:{port}", env="test"
    )


class Workload:
    """Request bodies: fresh numbers per request, about 10% payers seen before."""

    def __init__(self, batch: int, seed: int = 7) -> None:
        self.batch = batch
        self.rng = random.Random(seed)
        self.payers: list[dict[str, Any]] = []
        self.requests = 0

    def _payer(self) -> dict[str, Any]:
        if self.payers and self.rng.random() < 0.10:
            return self.rng.choice(self.payers)
        n = len(self.payers) + 1
        payer = {
            "ref": f"C-{n:08d}",
            "name": f"Payer {n}",
            "email": f"payer{n}@example.org",
            "language": "de",
            "address": {
                "line1": f"Hauptstr. {n % 200 + 1}",
                "postal_code": f"{10000 + n % 89999}",
                "city": "Musterstadt",
                "country": "DE",
            },
        }
        self.payers.append(payer)
        return payer

    def next_body(self) -> list[dict[str, Any]]:
        self.requests += 1
        issue = date(2026, 11, 1)
        return [
            {
                "number": f"R{self.requests:04d}-{i:06d}",
                "payer": self._payer(),
                "amount": self.rng.randint(100, 500_000),
                "currency": "EUR",
                "issue_date": issue.isoformat(),
                "due_date": (issue + timedelta(days=30)).isoformat(),
                "description": "Electricity November",
            }
            for i in range(self.batch)
        ]


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAYDUE_DATABASE_URL": url,
        "PAYDUE_SECRET_KEY": SECRET,
        "PAYDUE_BASE_URL": f"http://127.0.0.1:{port}",
        "PAYDUE_ENV": "test",
    }
    paydue = Path(sys.executable).with_name("paydue")
    server = subprocess.Popen(
        [str(paydue), "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def api_run(url: str, port: int, api_key: str, batch: int, requests: int) -> list[float]:
    """Invoices/s of each timed request (one untimed warm-up request first)."""
    work = Workload(batch)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    rates = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
        for index in range(requests + 1):
            items = work.next_body()
            started = time.perf_counter()
            body = orjson.dumps({"invoices": items})
            response = client.post("/v1/invoices/batch", content=body, headers=headers)
            answer = orjson.loads(response.content)
            elapsed = time.perf_counter() - started
            if response.status_code != 201 or answer["count"] != batch:
                raise RuntimeError(f"batch refused: {response.status_code} {response.text[:500]}")
            if index:
                rates.append(batch / elapsed)
    return rates


def copy_run(url: str, issuer_id: str, batch: int, requests: int) -> list[float]:
    """Rows/s of raw COPY of the same invoice rows, one transaction per batch."""
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    work = Workload(batch, seed=11)
    rates = []
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS copy_baseline")
        conn.execute("CREATE TABLE copy_baseline (LIKE invoices INCLUDING ALL)")
        payer_id = conn.execute("SELECT id FROM payers LIMIT 1").fetchone()
        conn.commit()
        assert payer_id is not None
        for index in range(requests + 1):
            items = work.next_body()
            started = time.perf_counter()
            now = datetime.now(UTC)
            cols = ", ".join(BASELINE_COLUMNS)
            with conn.cursor() as cur, cur.copy(f"COPY copy_baseline ({cols}) FROM STDIN") as cp:
                for n, item in enumerate(items):
                    invoice_id = new_id("inv")
                    cp.write_row(
                        (
                            issuer_id,
                            invoice_id,
                            item["number"],
                            payer_id[0],
                            item["amount"],
                            item["currency"],
                            0,
                            "open",
                            item["issue_date"],
                            item["due_date"],
                            item["description"],
                            f"RF{index:02d}{n:09d}",
                            hashlib.sha256(invoice_id.encode()).hexdigest(),
                            now,
                            now,
                        )
                    )
            conn.commit()
            if index:
                rates.append(batch / (time.perf_counter() - started))
        conn.execute("DROP TABLE copy_baseline")
        conn.commit()
    return rates


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Both cases, one after the other, against the schema at ``url``."""
    container = build(settings(url, args.port))
    with container.uow() as uow:
        created = create_issuer(uow, "Bench Stadtwerke", iban=IBAN)
        uow.commit()
    container.close()

    server = start_server(url, args.port)
    try:
        api = api_run(url, args.port, created.api_key, args.batch, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = copy_run(url, created.issuer.id, args.batch, args.requests)

    api_median = statistics.median(api)
    copy_median = statistics.median(baseline)
    return {
        "benchmark": "batch_create",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("fastapi", "pydantic", "psycopg", "uvicorn")},
        },
        "batch": args.batch,
        "requests": args.requests,
        "results": [
            {
                "case": "API POST /v1/invoices/batch",
                "median_invoices_per_s": round(api_median),
                "runs": [round(r) for r in api],
            },
            {
                "case": "raw COPY of the invoice rows",
                "median_invoices_per_s": round(copy_median),
                "runs": [round(r) for r in baseline],
            },
        ],
        "api_to_copy_ratio": round(api_median / copy_median, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6, help="timed requests per case")
    parser.add_argument("--batch", type=int, default=10_000, help="invoices per request")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    with bench_schema(SCHEMA) as url:
        result = run(url, args)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for case in result["results"]:
        print(f"{case['case']:<30} {case['median_invoices_per_s']:>9,} /s  runs {case['runs']}")
    print(f"ratio API / COPY: {result['api_to_copy_ratio']:.2f}")


if __name__ == "__main__":
    main()

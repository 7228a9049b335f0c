"""The pay page ``GET /p/{token}`` under load, beside a bare FastAPI endpoint in the same run.

Run from the repository root (PostgreSQL optional)::

    .venv/bin/python bench/pay_page_bench.py [--seconds 10] [--repeat 3] [--db sqlite,postgres]

Each server is ONE process served the way ``paydue serve`` serves (``uvicorn.run(app, host,
port)`` with its defaults: uvloop, httptools, access log on, written to /dev/null):

- the pay page: ``paydue serve --no-worker`` on SQLite (a file in a temporary directory) and on
  PostgreSQL (``PAYDUE_BENCH_POSTGRES_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, in a schema of its own, dropped at the
  end). One issuer with branding and two payment methods, one invoice (payer language ``de``),
  one pay link without ``max_opens``: every request is a real view that counts an open (one
  write transaction) and renders the German page with amounts, dates, methods and the bank
  details;
- the baseline: a bare FastAPI app whose ``async`` endpoint returns a small HTML string
  (``HTMLResponse``), the ceiling of the framework and server on this machine.

The load comes from a separate process: an asyncio (uvloop) client on raw sockets with
``--connections`` keep-alive HTTP/1.1 connections, each sending its next request as soon as the
answer is read (closed loop). After a warm-up, requests are counted for ``--seconds``; latency is
measured per request from send to the last body byte. Bare and pay page are measured
alternately, ``--repeat`` times; the medians are reported, and the ratio is pay page / bare of
the medians. Results: ``bench/results/pay_page.json``.

Targets (issue #3): at least 50% of the bare endpoint's requests/s, p99 below 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).resolve().parent / "results" / "pay_page.json"
SCHEMA = "paydue_bench_paypage"
SECRET = "bench-secret-key-with-more-than-thirty-two-characters"
IBAN = "DE89370400440532013000"
BARE_HTML = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Pay</title></head>"
    "<body><h1>Pay your invoice</h1><p>EUR 123.45 due on 1 December 2026.</p></body></html>"
)


# --- the bare baseline server ----------------------------------------------------------------


def serve_bare(port: int) -> None:
    """A bare FastAPI app served like ``paydue serve`` serves the real one."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/bare", response_class=HTMLResponse)
    async def bare() -> HTMLResponse:
        return HTMLResponse(BARE_HTML)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port)


# --- the load generator (its own process) ----------------------------------------------------


async def _connection(
    host: str,
    port: int,
    request: bytes,
    start: float,
    stop: float,
    out: list[float],
    bad: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    try:
        while True:
            sent = perf()
            if sent >= stop:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            done = perf()
            if sent >= start:
                out.append(done - sent)
                if head[9:12] != b"200":
                    bad.append(int(head[9:12]))
    finally:
        writer.close()


async def _load(
    host: str, port: int, path: str, connections: int, warmup: float, seconds: float
) -> dict[str, Any]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: text/html\r\nAccept-Language: de-DE,de;q=0.9,en;q=0.8\r\n\r\n"
    ).encode()
    start = time.perf_counter() + warmup
    stop = start + seconds
    latencies: list[float] = []
    bad: list[int] = []
    await asyncio.gather(
        *(_connection(host, port, request, start, stop, latencies, bad) for _ in range(connections))
    )
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return round(latencies[min(n - 1, int(p * n))] * 1000, 2)

    return {
        "requests": n,
        "requests_per_s": round(n / seconds, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2),
        "non_200": len(bad),
    }


def run_load(url: str, connections: int, warmup: float, seconds: float) -> None:
    import uvloop

    parsed = httpx.URL(url)
    result = uvloop.run(
        _load(
            parsed.host, parsed.port or 80, parsed.raw_path.decode(), connections, warmup, seconds
        )
    )
    print(json.dumps(result))


def load(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement from a separate load-generator process."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--connections",
            str(args.connections),
            "--warmup",
            str(args.warmup),
            "--seconds",
            str(args.seconds),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


# --- servers and data ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


@contextmanager
def server(cmd: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_healthy(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def paydue_server(db_url: str) -> Iterator[str]:
    port = _free_port()
    env = {
        "PAYDUE_DATABASE_URL": db_url,
        "PAYDUE_SECRET_KEY": SECRET,
        "PAYDUE_BASE_URL": f"http://127.0.0.1:{port}",
        "PAYDUE_ENV": "test",
    }
    paydue = Path(sys.executable).with_name("paydue")
    cmd = [str(paydue), "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    with server(cmd, port, env) as base:
        yield base


@contextmanager
def bare_server() -> Iterator[str]:
    port = _free_port()
    with server([sys.executable, __file__, "--serve-bare", str(port)], port, {}) as base:
        yield f"{base}/bare"


def prepare(db_url: str) -> str:
    """Migrate, create the issuer; returns its API key."""
    from paydue.adapters.db import migrate
    from paydue.bootstrap import build
    from paydue.config import Settings
    from paydue.services.issuers import create_issuer

    container = build(Settings(database_url=db_url, secret_key=SECRET, env="test"))
    migrate.upgrade(container.engine)
    with container.uow() as uow:
        created = create_issuer(uow, "Stadtwerke Musterstadt", iban=IBAN)
        uow.commit()
    container.close()
    return created.api_key


def make_link(base: str, api_key: str) -> str:
    """Branding, methods, an invoice and a pay link without ``max_opens``; the page's URL."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        steps = [
            client.put(
                "/v1/branding",
                json={
                    "display_name": "Stadtwerke Musterstadt",
                    "primary_color": "#0f766e",
                    "support_email": "kundenservice@stadtwerke.example",
                    "support_phone": "+49 221 1234567",
                    "legal_footer": "Stadtwerke Musterstadt GmbH, Amtsgericht Köln HRB 12345",
                },
            ),
            client.put(
                "/v1/payment-methods",
                json={
                    "methods": [
                        {"provider": "simulator", "method": "card"},
                        {"provider": "simulator", "method": "paypal", "max_amount": 80000},
                    ]
                },
            ),
        ]
        invoice = client.post(
            "/v1/invoices",
            json={
                "number": "2026-000123",
                "payer": {
                    "ref": "C-1001",
                    "name": "Erika Mustermann",
                    "email": "erika@example.org",
                    "language": "de",
                    "address": {
                        "line1": "Heidestr. 17",
                        "postal_code": "51147",
                        "city": "Köln",
                        "country": "DE",
                    },
                },
                "amount": 12345,
                "currency": "EUR",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "description": "Strom November",
            },
        )
        steps.append(invoice)
        link = client.post(f"/v1/invoices/{invoice.json()['id']}/pay-links", json={})
        steps.append(link)
        for step in steps:
            if step.status_code >= 300:
                raise RuntimeError(f"setup failed: {step.status_code} {step.text[:300]}")
        url = str(link.json()["url"])
        page = client.get(url)
        if page.status_code != 200 or "2026-000123" not in page.text:
            raise RuntimeError(f"the pay page does not show: {page.status_code}")
    return url


@contextmanager
def databases(wanted: list[str]) -> Iterator[list[tuple[str, str]]]:
    found: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in wanted:
            found.append(("sqlite", f"sqlite:///{tmp}/bench.db"))
        if "postgres" in wanted:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from pg_schema import bench_schema

            with bench_schema(SCHEMA) as pg_url:
                found.append(("postgres", pg_url))
                yield found
                return
        yield found


def measure(name: str, db_url: str, bare_url: str, args: argparse.Namespace) -> dict[str, Any]:
    api_key = prepare(db_url)
    bare_runs: list[dict[str, Any]] = []
    page_runs: list[dict[str, Any]] = []
    with paydue_server(db_url) as base:
        page_url = make_link(base, api_key)
        for rep in range(args.repeat):
            bare_runs.append(load(bare_url, args))
            page_runs.append(load(page_url, args))
            b, p = bare_runs[-1], page_runs[-1]
            print(
                f"{name} run {rep + 1}: bare {b['requests_per_s']:,.0f}/s p99 {b['p99_ms']} ms; "
                f"pay page {p['requests_per_s']:,.0f}/s p50 {p['p50_ms']} p99 {p['p99_ms']} ms "
                f"(non-200: {p['non_200']}; load {os.getloadavg()[0]:.1f})",
                flush=True,
            )

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return round(float(statistics.median(r[key] for r in runs)), 2)

    bare = {k: med(bare_runs, k) for k in ("requests_per_s", "p50_ms", "p99_ms")}
    page = {k: med(page_runs, k) for k in ("requests_per_s", "p50_ms", "p99_ms")}
    ratio = page["requests_per_s"] / bare["requests_per_s"]
    return {
        "database": name,
        "bare_median": bare,
        "pay_page_median": page,
        "throughput_ratio": round(ratio, 3),
        "ratio_per_run": [
            round(p["requests_per_s"] / b["requests_per_s"], 3)
            for p, b in zip(page_runs, bare_runs, strict=True)
        ],
        "targets_met": {
            "throughput_ratio_ge_0.5": ratio >= 0.5,
            "p99_lt_50ms": page["p99_ms"] < 50,
        },
        "bare_runs": bare_runs,
        "pay_page_runs": page_runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.load:
        run_load(args.load, args.connections, args.warmup, args.seconds)
        return

    load_before = os.getloadavg()[0]
    cases = []
    with bare_server() as bare_url, databases(args.db.split(",")) as dbs:
        for name, db_url in dbs:
            cases.append(measure(name, db_url, bare_url, args))
    result = {
        "benchmark": "pay_page",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
            "versions": {
                p: version(p)
                for p in (
                    "fastapi",
                    "starlette",
                    "uvicorn",
                    "uvloop",
                    "jinja2",
                    "babel",
                    "sqlalchemy",
                    "psycopg",
                )
            },
        },
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "connections": args.connections,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "repeat": args.repeat,
        "cases": cases,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for case in cases:
        b, p = case["bare_median"], case["pay_page_median"]
        print(
            f"{case['database']}: pay page {p['requests_per_s']:,.0f}/s, p50 {p['p50_ms']} ms, "
            f"p99 {p['p99_ms']} ms; bare {b['requests_per_s']:,.0f}/s, p99 {b['p99_ms']} ms; "
            f"ratio {case['throughput_ratio']:.2f}; targets {case['targets_met']}"
        )


if __name__ == "__main__":
    main()

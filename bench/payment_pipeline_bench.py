"""Provider notification → invoice paid → issuer webhook dispatched, end to end on PostgreSQL.

Run from the repository root (PostgreSQL needed)::

    .venv/bin/python bench/payment_pipeline_bench.py [--payments 5000] [--rate 500] [--workers 2]

The database is ``PAYDUE_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in schemas of its own, dropped at the
end. Processes, all on this machine: one server (``paydue serve --no-worker``), ``--workers``
worker processes (``python -m paydue.worker``, default settings), a webhook receiver (uvicorn,
a bare ASGI app answering 204) and the sender of the notifications (asyncio, raw keep-alive
HTTP/1.1 connections).

Set-up, not timed: one issuer with the simulator's card method, ``--payments`` invoices through
``POST /v1/invoices/batch``, a payment started for each (``services.payments.begin_payment``, as
the pay page does), then one webhook endpoint subscribed to ``--subscribe`` (default ``*``: every
event, as a billing system that mirrors paydue would), so the set-up itself sends no webhooks.
The simulator's signed ``succeeded`` notification of each payment is made in advance.

Timed: the sender posts the notifications to ``POST /inbound/simulator/{issuer}`` at ``--rate``
per second (open loop: on a fixed schedule, up to 64 in flight; ``--rate 0`` sends as fast as
the connections allow) while the workers apply them (``payment.notification`` jobs) and deliver
the resulting webhooks. Measured from the database afterwards, per payment: receipt
(``provider_events.received_at``) to the first dispatch of its ``invoice.paid`` webhook
(``webhook_attempts.attempted_at``, attempt 1). Throughput: payments whose ``invoice.paid`` was
dispatched, divided by the time from the first receipt to the last dispatch.

Baseline, same run, same workers' code and receiver, in a fresh schema: the same number of
webhook deliveries as the pipeline made (every event of every payment), of pre-made events
committed at once — the webhook half of the pipeline alone (what ``webhook_fanout_bench.py``
measures). The ratio pipeline/baseline is the share of the delivery capacity left once the
notifications are also received, stored, applied (payment, credit, allocation, invoice status,
events) under the same two cores. Results: ``bench/results/payment_pipeline.json``.

Target (issue #3): at least 500 payments/s sustained, p99 receipt → dispatch below 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from paydue.adapters.providers.simulator import Simulator
from paydue.bootstrap import Container, build
from paydue.config import Settings
from paydue.services.issuers import create_issuer
from paydue.services.payments import begin_payment, set_methods
from paydue.services.webhooks import register_endpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schema import bench_schema
from webhook_fanout_bench import receiver, run_fanout

RESULTS = Path(__file__).resolve().parent / "results" / "payment_pipeline.json"
SCHEMA = "paydue_bench_pipeline"
BASELINE_SCHEMA = "paydue_bench_pipeline_base"
SECRET = "bench-secret-key-with-more-than-thirty-two-characters"
IBAN = "DE89370400440532013000"
IN_FLIGHT = 64

LATENCY_SQL = """
SELECT pe.received_at, wa.attempted_at
FROM provider_events pe
JOIN payments p ON p.issuer_id = pe.issuer_id AND p.id = pe.payment_id
JOIN events e ON e.issuer_id = p.issuer_id AND e.type = 'invoice.paid'
    AND e.subject_id = p.invoice_id
JOIN webhook_attempts wa ON wa.issuer_id = e.issuer_id AND wa.event_id = e.id
    AND wa.attempt = 1
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PAYDUE_ENV": "test",
        "PAYDUE_DATABASE_URL": db_url,
        "PAYDUE_SECRET_KEY": SECRET,
        "PAYDUE_BASE_URL": f"http://127.0.0.1:{port}",
        "PAYDUE_WEBHOOK_ALLOW_PRIVATE": "true",
    }


@contextmanager
def paydue_server(db_url: str) -> Iterator[str]:
    port = _free_port()
    paydue = Path(sys.executable).with_name("paydue")
    proc = subprocess.Popen(
        [str(paydue), "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(db_url, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def workers(db_url: str, count: int) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paydue.worker"],
            env=_env(db_url, 0),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        time.sleep(3)  # let them import and start polling
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)


# --- set-up --------------------------------------------------------------------------------------


def setup(container: Container, base: str, n: int, hook_url: str, subscribe: list[str]) -> Any:
    """Issuer, invoices, started payments, endpoint; returns (issuer id, notifications)."""
    with container.uow() as uow:
        created = create_issuer(uow, "Bench Stadtwerke", iban=IBAN)
        issuer = created.issuer
        set_methods(uow, issuer, container.providers, [{"provider": "simulator", "method": "card"}])
        uow.commit()
    headers = {"Authorization": f"Bearer {created.api_key}", "Content-Type": "application/json"}
    tokens: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for start in range(0, n, 5000):
            items = [
                {
                    "number": f"2026-{i:07d}",
                    "payer": {"ref": f"C-{i}", "name": f"Payer {i}", "language": "de"},
                    "amount": 1000 + i % 90_000,
                    "currency": "EUR",
                    "issue_date": "2026-11-01",
                    "due_date": "2026-12-01",
                }
                for i in range(start, min(n, start + 5000))
            ]
            r = client.post("/v1/invoices/batch", content=orjson.dumps({"invoices": items}))
            if r.status_code != 201:
                raise RuntimeError(f"invoices refused: {r.status_code} {r.text[:300]}")
            tokens += [inv["pay_url"].rsplit("/p/", 1)[1] for inv in r.json()["data"]]
    payments = []
    for start in range(0, n, 500):
        with container.uow() as uow:
            for token in tokens[start : start + 500]:
                payments.append(
                    begin_payment(uow, container.providers, token, "simulator:card").payment
                )
            uow.commit()
    with container.uow() as uow:
        register_endpoint(uow, issuer.id, hook_url, subscribe, check=lambda _: None)
        uow.commit()
    sim = container.providers["simulator"]
    assert isinstance(sim, Simulator)
    notifications = []
    for p in payments:
        charge = {
            "id": f"ch_{p.id[4:]}",
            "account": issuer.id,
            "reference": p.id,
            "amount": p.amount,
            "currency": p.currency,
        }
        notifications.append(sim.notification(charge, "succeeded"))
    return issuer.id, notifications


# --- the sender (its own process) -----------------------------------------------------------


async def _send_all(
    host: str, port: int, path: str, items: list[tuple[bytes, dict[str, str]]], rate: float
) -> dict[str, Any]:
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body, headers in items
    ]
    started = time.perf_counter()
    next_index = 0
    statuses: dict[str, int] = {}
    lateness: list[float] = []

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                i = next_index
                next_index += 1
                due = started + i / rate if rate else 0.0
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif rate:
                    lateness.append(-wait)
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                code = head[9:12].decode()
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - started
    lateness.sort()
    return {
        "sent": len(requests),
        "send_seconds": round(elapsed, 3),
        "sent_per_second": round(len(requests) / elapsed, 1),
        "statuses": statuses,
        "p99_behind_schedule_ms": round(lateness[int(0.99 * len(lateness))] * 1000, 1)
        if lateness
        else 0.0,
    }


def run_sender(url: str, rate: float, path: str) -> None:
    import uvloop

    items = [(bytes.fromhex(b), h) for b, h in json.loads(Path(path).read_text())]
    parsed = httpx.URL(url)
    result = uvloop.run(
        _send_all(parsed.host, parsed.port or 80, parsed.raw_path.decode(), items, rate)
    )
    print(json.dumps(result))


def send(url: str, items: list[tuple[bytes, dict[str, str]]], rate: float, tmp: Path) -> Any:
    tmp.write_text(json.dumps([(b.hex(), h) for b, h in items]))
    out = subprocess.run(
        [sys.executable, __file__, "--send", url, "--rate", str(rate), "--items", str(tmp)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


# --- the run ---------------------------------------------------------------------------------


def pipeline(db_url: str, hook_url: str, args: argparse.Namespace) -> dict[str, Any]:
    container = build(Settings(database_url=db_url, secret_key=SECRET, env="test"))
    n = args.payments
    with paydue_server(db_url) as base:
        t0 = time.perf_counter()
        issuer_id, notes = setup(container, base, n, hook_url, args.subscribe.split(","))
        print(
            f"set-up: {n:,} invoices and payments in {time.perf_counter() - t0:.1f} s", flush=True
        )
        with workers(db_url, args.workers):
            sent = send(
                f"{base}/inbound/simulator/{issuer_id}",
                notes,
                args.rate,
                Path(f"/tmp/paydue_pipeline_bench_{os.getpid()}.json"),
            )
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                with container.engine.connect() as conn:
                    left = conn.execute(
                        sa.text("SELECT count(*) FROM jobs WHERE status <> 'done'")
                    ).scalar_one()
                if not left:
                    break
                time.sleep(0.2)
    with container.engine.connect() as conn:
        rows = conn.execute(sa.text(LATENCY_SQL)).all()
        jobs: dict[str, int] = {
            k: int(v)
            for k, v in conn.execute(sa.text("SELECT kind, count(*) FROM jobs GROUP BY kind"))
        }
        states: dict[str, int] = {
            k: int(v)
            for k, v in conn.execute(
                sa.text("SELECT status, count(*) FROM payments GROUP BY status")
            )
        }
        left = conn.execute(sa.text("SELECT count(*) FROM jobs WHERE status <> 'done'")).scalar()
    container.close()
    latencies: list[float] = sorted((d - r).total_seconds() for r, d in rows)
    first = min(r for r, _ in rows)
    last = max(d for _, d in rows)
    span = (last - first).total_seconds()

    def pct(p: float) -> float:
        return round(float(latencies[min(len(latencies) - 1, int(p * len(latencies)))]) * 1000, 1)

    return {
        "payments": n,
        "rate_offered": args.rate,
        "sender": sent,
        "invoice_paid_dispatched": len(rows),
        "payment_states": states,
        "jobs_by_kind": jobs,
        "jobs_not_done": left,
        "seconds_first_receipt_to_last_dispatch": round(span, 3),
        "payments_per_second": round(len(rows) / span, 1),
        "receipt_to_dispatch_ms": {
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "max": round(latencies[-1] * 1000, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500, help="notifications/s; 0: flat out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--subscribe", default="*", help="the endpoint's event types, comma-sep.")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the end")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--send", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--items", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        run_sender(args.send, args.rate, args.items)
        return

    load_before = os.getloadavg()[0]
    with receiver() as (hook_url, counter):
        with bench_schema(SCHEMA) as db_url:
            result = pipeline(db_url, hook_url, args)
        result["receiver_requests"] = counter.value
        print(
            f"pipeline: {result['payments_per_second']:,.0f} payments/s "
            f"({result['invoice_paid_dispatched']:,} invoice.paid dispatched in "
            f"{result['seconds_first_receipt_to_last_dispatch']} s), receipt → dispatch "
            f"{result['receipt_to_dispatch_ms']}; sender {result['sender']}",
            flush=True,
        )
        baseline = None
        if not args.no_baseline:
            deliveries = result["jobs_by_kind"].get("webhook.deliver", 0)
            with bench_schema(BASELINE_SCHEMA) as db_url:
                baseline = run_fanout(db_url, hook_url, deliveries, args.workers, {})
            print(
                f"baseline: {deliveries:,} pre-made webhook deliveries at "
                f"{baseline['delivered_per_second']:,.0f}/s",
                flush=True,
            )
    out: dict[str, Any] = {
        "benchmark": "payment_pipeline",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("sqlalchemy", "psycopg", "uvicorn", "httpx")},
        },
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "workers": args.workers,
        "subscribe": args.subscribe,
        "pipeline": result,
        "baseline_webhook_fanout": baseline,
    }
    if baseline:
        per_payment = result["jobs_by_kind"]["webhook.deliver"] / result["payments"]
        out["deliveries_per_payment"] = round(per_payment, 2)
        out["baseline_payments_per_second_equivalent"] = round(
            baseline["delivered_per_second"] / per_payment, 1
        )
        out["ratio_to_baseline"] = round(
            result["payments_per_second"] / out["baseline_payments_per_second_equivalent"], 3
        )
    out["targets_met"] = {
        "payments_per_second_ge_500": result["payments_per_second"] >= 500,
        "p99_lt_1s": result["receipt_to_dispatch_ms"]["p99"] < 1000,
    }
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([*runs, out], indent=2, default=str) + "\n")
    print(json.dumps({k: out.get(k) for k in ("ratio_to_baseline", "targets_met")}))


if __name__ == "__main__":
    main()

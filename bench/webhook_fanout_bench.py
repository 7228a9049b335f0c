"""Webhook fan-out throughput: events delivered per second by worker processes, end to end.

Run from the repository root (PostgreSQL needed)::

    PYTHONPATH=src python bench/webhook_fanout_bench.py [--events 10000] [--workers 2]

The database is ``PAYDUE_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a schema of its own that is dropped
at the end. One issuer, one endpoint subscribed to everything, pointing to a receiver in a
separate process (uvicorn, a bare ASGI app answering 204). The worker processes
(``python -m paydue.worker``) are started and idle first; then N events are committed in one
transaction (the outbox writes N delivery jobs with them) and the clock runs from that commit to
the moment the last job is ``done``.

Baseline, same run, before and after the fan-out (the higher one counts, as the machine's load
drifts): N plain POSTs of the same body from one httpx client with keep-alive, one after the
other, to the same receiver: what the receiver and one client manage without the database, the
signature or the worker (the ceiling). Each run is appended to
``bench/results/webhook_fanout.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn

from paydue.bootstrap import Container, build
from paydue.config import Settings
from paydue.domain import events as ev
from paydue.services.issuers import create_issuer
from paydue.services.webhooks import register_endpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schema import bench_schema

RESULTS = Path(__file__).resolve().parent / "results" / "webhook_fanout.json"
SCHEMA = "paydue_bench_webhooks"
SECRET_KEY = "bench-secret-key-with-enough-characters-0123456789"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Scope]]
Send = Callable[[Scope], Awaitable[None]]


def _receiver_app(counter: Any) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        with counter.get_lock():
            counter.value += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def _serve_receiver(port: int, counter: Any) -> None:
    uvicorn.run(
        _receiver_app(counter),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def receiver() -> Any:
    """A receiver process; yields its URL and its request counter."""
    port = _free_port()
    counter = multiprocessing.Value("q", 0)
    proc = multiprocessing.Process(target=_serve_receiver, args=(port, counter), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{port}/hooks"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url, counter
    finally:
        proc.terminate()
        proc.join(10)


def event_data(i: int) -> dict[str, Any]:
    """An invoice-sized payload, like the ones ``invoice.*`` events carry."""
    return {
        "id": f"inv_bench{i:021d}",
        "object": "invoice",
        "number": f"2026-{i:06d}",
        "status": "open",
        "amount": 12345 + i,
        "currency": "EUR",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "reference": "RF18539007547034",
        "payer": {"ref": f"C-{i}", "name": "Erika Mustermann", "email": "erika@example.org"},
        "pay_url": "https://pay.example.org/p/0123456789abcdefghijklmnopqrstuv",
    }


def baseline(url: str, n: int) -> float:
    """POSTs per second from one keep-alive httpx client, one after the other."""
    body = orjson.dumps({"id": "evt_x", "object": "event", "data": event_data(0)})
    headers = {"content-type": "application/json"}
    with httpx.Client() as client:
        started = time.perf_counter()
        for _ in range(n):
            client.post(url, content=body, headers=headers).raise_for_status()
        return n / (time.perf_counter() - started)


def setup_issuer(container: Container, url: str) -> str:
    with container.uow() as uow:
        issuer = create_issuer(uow, "Bench Stadtwerke").issuer
        register_endpoint(uow, issuer.id, url, ["*"], check=lambda _: None)
        uow.commit()
    return issuer.id


def done_count(container: Container) -> int:
    with container.uow(readonly=True) as uow:
        return uow.jobs.counts().get("done", 0)


def run_fanout(db_url: str, url: str, n: int, workers: int, env: dict[str, str]) -> dict[str, Any]:
    settings = Settings(env="test", database_url=db_url, secret_key=SECRET_KEY)
    container = build(settings)
    issuer_id = setup_issuer(container, url)
    worker_env = {
        **os.environ,
        **env,
        "PAYDUE_ENV": "test",
        "PAYDUE_DATABASE_URL": db_url,
        "PAYDUE_SECRET_KEY": SECRET_KEY,
        "PAYDUE_WEBHOOK_ALLOW_PRIVATE": "true",
        "PAYDUE_WORKER_POLL_SECONDS": "0.05",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paydue.worker"],
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(3)  # let the workers import and start polling
        created = time.perf_counter()
        with container.uow() as uow:
            uow.record_many(
                issuer_id,
                [ev.Event(ev.INVOICE_CREATED, f"inv_{i}", event_data(i)) for i in range(n)],
            )
            uow.commit()
        committed = time.perf_counter()
        while (done := done_count(container)) < n:
            time.sleep(0.02)
        finished = time.perf_counter()
        with container.uow(readonly=True) as uow:
            counts = uow.jobs.counts()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        container.close()
    return {
        "events": n,
        "workers": workers,
        "commit_seconds": round(committed - created, 3),
        "deliver_seconds": round(finished - committed, 3),
        "delivered_per_second": round(done / (finished - committed), 1),
        "job_counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="PAYDUE_WORKER_BATCH_SIZE")
    parser.add_argument("--concurrency", type=int, default=None, help="PAYDUE_WORKER_CONCURRENCY")
    args = parser.parse_args()
    env = {}
    if args.batch_size:
        env["PAYDUE_WORKER_BATCH_SIZE"] = str(args.batch_size)
    if args.concurrency:
        env["PAYDUE_WORKER_CONCURRENCY"] = str(args.concurrency)

    load_before = os.getloadavg()[0]
    with receiver() as (url, counter), bench_schema(SCHEMA) as db_url:
        before = baseline(url, args.events)
        counter.value = 0
        fanout = run_fanout(db_url, url, args.events, args.workers, env)
        fanout["receiver_requests"] = counter.value
        after = baseline(url, args.events)
    ceiling = max(before, after)

    ratio = fanout["delivered_per_second"] / ceiling
    result = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "httpx": version("httpx"),
            "sqlalchemy": version("sqlalchemy"),
            "psycopg": version("psycopg"),
        },
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "settings": env,
        "baseline_posts_per_second": {"before": round(before, 1), "after": round(after, 1)},
        "fanout": fanout,
        "ratio_to_baseline": round(ratio, 3),
    }
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([*runs, result], indent=2) + "\n")
    print(
        f"baseline (one httpx client, plain POSTs): {before:,.0f} requests/s before, "
        f"{after:,.0f} after; the ratio uses the higher"
    )
    print(
        f"{args.workers} workers: {fanout['delivered_per_second']:,.0f} events/s delivered "
        f"({fanout['deliver_seconds']} s for {args.events:,}; commit {fanout['commit_seconds']} s)"
    )
    print(f"ratio: {ratio:.2f} of the baseline; receiver saw {fanout['receiver_requests']:,}")


if __name__ == "__main__":
    main()

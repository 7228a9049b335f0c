"""E-mail throughput of one worker: render reminders and hand them to a local SMTP server.

Run from the repository root::

    .venv/bin/python bench/email_throughput_bench.py [--messages 1000] [--repeat 5]

A local aiosmtpd server (its own process, accepting and discarding every message) stands in
for the relay. Timed, in one process and thread like one worker's ``message.send`` batch:

* **paydue**: as the worker's ``message.send`` handler sends, batches of 100: per message,
  the shipped ``overdue_first`` e-mail template rendered in the sandbox for a different payer
  (subject, text and HTML, amounts and dates in German) and the ``OutboundMessage`` built;
  then the batch handed to ``adapters.channels.email.SmtpEmail.send_many`` at once (MIME
  multipart with List-Unsubscribe and Message-ID headers, over up to four kept-alive
  connections).
* **paydue_one_by_one**: the same, each message handed to ``SmtpEmail.send`` on its own.
* **baseline**: raw ``aiosmtplib`` ``send_message`` of one fixed, pre-built message over one
  connection — what the SMTP exchange costs alone.

Cases alternate, ``--repeat`` times; medians. Target: at least 300 e-mails/s per worker.
Results: ``bench/results/email_throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import socket
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib

from paydue.adapters.channels.base import OutboundMessage
from paydue.adapters.channels.email import EmailBuilder, SmtpEmail
from paydue.domain.money import Money
from paydue.domain.templates import MessageData, MessageInvoice
from paydue.services.templates import default, render, variables

RESULTS = Path(__file__).resolve().parent / "results" / "email_throughput.json"
TARGET = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _data(n: int) -> MessageData:
    due = date(2026, 11, 1) + timedelta(days=n % 28)
    amount = Money(1000 + (n * 37) % 90_000, "EUR")
    link = f"https://pay.example.org/p/{n:032x}"
    return MessageData(
        payer_name=f"Erika Mustermann {n}",
        invoices=(MessageInvoice(f"RE-2026-{n:06d}", amount, due),),
        total=amount,
        pay_link=link,
        link_qr_url=f"{link}/qr.png",
        issuer_name="Stadtwerke Musterstadt",
        issuer_email="kundenservice@stadtwerke.example",
        issuer_phone="+49 221 123456",
    )


BATCH = 100
"""Messages per ``send_many`` in the batch case: a worker's claim of message.send jobs."""


def paydue_batch_case(port: int, count: int) -> float:
    """As a worker sends: a batch rendered, then handed over at once (``send_many``)."""
    source = default("overdue_first", "email", "de")
    assert source is not None
    builder = EmailBuilder(
        from_address="Stadtwerke Musterstadt <rechnung@stadtwerke.example>",
        unsubscribe_url="https://pay.example.org/unsubscribe/{id}",
    )
    channel = SmtpEmail("127.0.0.1", port, builder, tls="none")
    warm = render(source, variables(_data(0), "de"), name="warm")
    channel.send_many([_outbound(n, warm) for n in range(BATCH)])  # connect
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = []
        for n in range(first, min(count, first + BATCH)):
            rendered = render(source, variables(_data(n), "de"), name="overdue_first/email/de")
            batch.append(_outbound(n, rendered))
        results = channel.send_many(batch)
        assert all(r.accepted for r in results), results
    elapsed = time.perf_counter() - started
    channel.close()
    return count / elapsed


def paydue_case(port: int, count: int) -> float:
    source = default("overdue_first", "email", "de")
    assert source is not None
    builder = EmailBuilder(
        from_address="Stadtwerke Musterstadt <rechnung@stadtwerke.example>",
        unsubscribe_url="https://pay.example.org/unsubscribe/{id}",
    )
    channel = SmtpEmail("127.0.0.1", port, builder, tls="none")
    channel.send(_outbound(0, render(source, variables(_data(0), "de"), name="warm")))  # connect
    started = time.perf_counter()
    for n in range(count):
        rendered = render(source, variables(_data(n), "de"), name="overdue_first/email/de")
        result = channel.send(_outbound(n, rendered))
        assert result.accepted, result.error
    elapsed = time.perf_counter() - started
    channel.close()
    return count / elapsed


def _outbound(n: int, rendered: Any) -> OutboundMessage:
    return OutboundMessage(
        id=f"msg_{n:026d}",
        issuer_id="iss_bench",
        channel="email",
        to=f"payer{n}@example.org",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        language="de",
        pay_url=f"https://pay.example.org/p/{n:032x}",
    )


def baseline_case(port: int, count: int) -> float:
    mail = EmailMessage()
    mail["From"] = "rechnung@stadtwerke.example"
    mail["To"] = "payer@example.org"
    mail["Subject"] = "Zahlungserinnerung"
    mail.set_content("Bitte zahlen Sie Ihre Rechnung: https://pay.example.org/p/x\n" * 20)

    async def run() -> float:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        await smtp.send_message(mail)
        started = time.perf_counter()
        for _ in range(count):
            await smtp.send_message(mail)
        elapsed = time.perf_counter() - started
        await smtp.quit()
        return count / elapsed

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    ready.wait(30)
    runs: dict[str, list[float]] = {"paydue": [], "paydue_one_by_one": [], "baseline": []}
    fns = {"paydue": paydue_batch_case, "paydue_one_by_one": paydue_case, "baseline": baseline_case}
    try:
        for r in range(args.repeat):
            cases = list(runs) if r % 2 == 0 else list(reversed(runs))
            for case in cases:
                fn = fns[case]
                runs[case].append(round(fn(port, args.messages), 1))
                print(case, runs[case][-1], flush=True)
    finally:
        server.terminate()
        server.join()
    paydue, baseline = statistics.median(runs["paydue"]), statistics.median(runs["baseline"])
    result = {
        "benchmark": "email_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "messages_per_run": args.messages,
        "runs_per_second": runs,
        "paydue_emails_per_second": round(paydue),
        "paydue_one_by_one_emails_per_second": round(statistics.median(runs["paydue_one_by_one"])),
        "batch_size": BATCH,
        "baseline_emails_per_second": round(baseline),
        "ratio_to_baseline": round(paydue / baseline, 3),
        "target_emails_per_second": TARGET,
        "met": paydue >= TARGET,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

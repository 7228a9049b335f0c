"""The collections engine in simulated time: a portfolio through the default policy day by day,
bundling, catch-up, stop and pause rules, opt-out, quiet hours, weekly caps, fallback after a
bounce, two sweeps at once, and the agent's send-link."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.channels.letter import LetterExport
from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db.tables import (
    allocations,
    invoice_collection,
    message_invoices,
    messages,
)
from paydue.bootstrap import Container
from paydue.services.collections import record_delivery, sweep
from paydue.services.credits import reverse_credit
from paydue.web.app import create_app
from paydue.worker.runner import Worker
from tests.conftest import IssuerHandle, invoice_body, new_issuer

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class RecordingChannel:
    """A real implementation of the channel port that keeps what it was given."""

    name: str
    sent: list[OutboundMessage] = field(default_factory=list)
    refuse: str | None = None
    retryable: bool = False

    def send(self, message: OutboundMessage) -> SendResult:
        if self.refuse is not None:
            return SendResult(False, error=self.refuse, retryable=self.retryable)
        self.sent.append(message)
        return SendResult(True, provider_id=f"{self.name}-{len(self.sent)}", cost_minor=1)


@dataclass
class Engine:
    """The system under test with its simulated clock, channels and API."""

    container: Container
    clock: SimulatedClock
    api: TestClient
    issuer: IssuerHandle
    channels: dict[str, RecordingChannel]

    def at(self, day: date, hour: int = 10, minute: int = 0) -> None:
        """Move the clock to ``hour`` o'clock in Berlin on ``day``."""
        self.clock.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN))

    def run(self) -> None:
        """One sweep, then the worker until no job is left."""
        c = self.container
        sweep(c.uow, self.clock.now(), c.channels, links=c.links, secret=c.settings.secret_bytes)
        worker = Worker(c)
        while worker.run_once():
            pass

    def days(self, first: date, last: date, hour: int = 10) -> None:
        day = first
        while day <= last:
            self.at(day, hour)
            self.run()
            day += timedelta(days=1)

    def invoice(self, number: str, due: str, payer: dict[str, Any] | None = None) -> str:
        body = invoice_body(number, due_date=due, issue_date="2026-11-01")
        if payer is not None:
            body["payer"] = payer
        r = self.api.post("/v1/invoices", json=body, headers=self.issuer.headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def pay(self, invoice_id: str, amount: int = 12345) -> None:
        r = self.api.post(
            f"/v1/invoices/{invoice_id}/external-payments",
            json={"amount": amount, "date": self.clock.now().date().isoformat()},
            headers=self.issuer.headers,
        )
        assert r.status_code == 201, r.text

    def messages(self, invoice_id: str | None = None) -> list[dict[str, Any]]:
        q = f"?invoice_id={invoice_id}&limit=500" if invoice_id else "?limit=500"
        r = self.api.get(f"/v1/messages{q}", headers=self.issuer.headers)
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    def sent(self, invoice_id: str | None = None) -> list[tuple[str, str, int | None, int]]:
        """(local date, channel, step, number of invoices) of every message not skipped."""
        return [
            (
                datetime.fromisoformat(m["created_at"]).astimezone(BERLIN).date().isoformat(),
                m["channel"],
                m["step_offset"],
                len(m["invoice_ids"]),
            )
            for m in self.messages(invoice_id)
            if m["status"] != "skipped"
        ]


def payer(ref: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ref": ref,
        "name": f"Payer {ref}",
        "email": f"{ref.lower()}@example.org",
        "language": "en",
        "timezone": "Europe/Berlin",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def engine(simulated: tuple[Container, SimulatedClock]) -> Iterator[Engine]:
    container, clock = simulated
    channels = {name: RecordingChannel(name) for name in ("email", "sms", "letter")}
    container.channels = channels  # type: ignore[misc]
    issuer = new_issuer(container)
    with TestClient(create_app(container), raise_server_exceptions=False) as api:
        yield Engine(container, clock, api, issuer, channels)


def test_a_portfolio_through_the_default_policy_day_by_day(engine: Engine) -> None:
    a1 = engine.invoice("A-1", "2026-12-01", payer("A"))
    a2 = engine.invoice("A-2", "2026-12-01", payer("A"))
    b1 = engine.invoice("B-1", "2026-12-01", payer("B", email=None, phone="+4915100000001"))

    engine.days(date(2026, 11, 15), date(2026, 12, 9))
    engine.at(date(2026, 12, 10))
    engine.pay(a1)
    engine.days(date(2026, 12, 10), date(2026, 12, 15))
    engine.pay(a2)
    engine.days(date(2026, 12, 16), date(2026, 12, 31))

    # one reminder per payer covering both invoices, until the first is paid
    assert engine.sent(a2) == [
        ("2026-11-26", "email", -5, 2),
        ("2026-12-01", "email", 0, 2),
        ("2026-12-04", "email", 3, 2),
        ("2026-12-08", "email", 7, 2),
        ("2026-12-15", "email", 14, 1),
    ]
    assert engine.sent(a1) == engine.sent(a2)[:4]
    # B has no e-mail: the e-mail/push-only pre-due note is skipped (and says why), then sms
    b_messages = engine.messages(b1)
    assert b_messages[0]["status"] == "skipped"
    assert b_messages[0]["explanation"].startswith("no reachable channel: email no address")
    assert [m[:3] for m in engine.sent(b1)] == [
        ("2026-12-01", "sms", 0),
        ("2026-12-04", "sms", 3),
        ("2026-12-08", "sms", 7),
        ("2026-12-15", "sms", 14),
        ("2026-12-22", "sms", 21),
        ("2026-12-29", "sms", 28),
    ]
    # every message went out with its own pay link per invoice
    emails = engine.channels["email"].sent
    assert len(emails) == 5
    assert all(m.pay_url and m.pay_url in m.text for m in emails)
    assert len({m.pay_url for m in emails}) == 5
    # the bundle: each invoice's own link, the lead's also as the message's link
    assert len(set(re.findall(r"http://testserver/p/[\w-]+", emails[0].text))) == 2
    assert emails[0].html is not None
    assert f'href="{emails[0].pay_url}"' in emails[0].html
    assert all(m["explanation"] == "email no address → sms" for m in engine.messages(b1)[1:])


def test_after_a_20_day_gap_only_the_latest_step_is_sent(engine: Engine) -> None:
    invoice_id = engine.invoice("C-1", "2026-12-01", payer("C"))
    engine.days(date(2026, 11, 15), date(2026, 11, 20))
    assert engine.sent(invoice_id) == []

    engine.days(date(2026, 12, 10), date(2026, 12, 16))

    assert engine.sent(invoice_id) == [
        ("2026-12-10", "email", 7, 1),
        ("2026-12-15", "email", 14, 1),
    ]


def test_paused_and_promised_invoices_and_paused_payers_get_no_reminder(
    engine: Engine,
) -> None:
    paused = engine.invoice("P-1", "2026-12-01", payer("P"))
    promised = engine.invoice("Q-1", "2026-12-01", payer("Q"))
    engine.invoice("R-1", "2026-12-01", payer("R"))
    h = engine.issuer.headers
    engine.at(date(2026, 11, 16))
    r = engine.api.post(f"/v1/invoices/{paused}/pause", json={"until": "2026-12-05"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["paused_until"] == "2026-12-05"
    r = engine.api.post(f"/v1/invoices/{promised}/promise", json={"date": "2026-12-09"}, headers=h)
    assert r.status_code == 200, r.text
    assert engine.api.post("/v1/payers/R/pause", json={}, headers=h).status_code == 200

    engine.days(date(2026, 11, 16), date(2026, 12, 12))
    assert engine.sent(paused) == [("2026-12-07", "email", 3, 1), ("2026-12-08", "email", 7, 1)]
    assert engine.sent(promised) == [("2026-12-10", "email", 7, 1)]
    assert {m["invoice_ids"][0] for m in engine.messages()} == {paused, promised}  # not R's

    assert engine.api.post("/v1/payers/R/resume", headers=h).status_code == 200
    engine.days(date(2026, 12, 14), date(2026, 12, 14))
    assert [m[:3] for m in engine.sent()][-1] == ("2026-12-14", "email", 7)


def test_an_opt_out_is_honoured_at_the_next_sweep(engine: Engine) -> None:
    invoice_id = engine.invoice("O-1", "2026-12-01", payer("O", phone="+4915100000002"))
    engine.at(date(2026, 11, 20))
    r = engine.api.put(
        "/v1/payers/O/channels",
        json={"channels": {"email": {"opted_out": True}}},
        headers=engine.issuer.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["channels"]["email"]["opted_out"] is True

    engine.days(date(2026, 11, 20), date(2026, 12, 4))

    assert engine.channels["email"].sent == []
    assert engine.sent(invoice_id) == [("2026-12-01", "sms", 0, 1), ("2026-12-04", "sms", 3, 1)]
    first = engine.messages(invoice_id)[0]
    assert first["status"] == "skipped"  # the pre-due note is for e-mail or push only
    assert "email opted out" in first["explanation"]


def test_quiet_hours_shift_the_send_time_to_the_payers_morning(engine: Engine) -> None:
    invoice_id = engine.invoice("N-1", "2026-12-01", payer("N", timezone="America/New_York"))
    engine.at(date(2026, 12, 1), hour=10)  # 04:00 in New York
    engine.run()
    assert engine.sent(invoice_id) == []
    with engine.container.engine.connect() as conn:
        due = conn.execute(
            sa.select(invoice_collection.c.next_action_at, invoice_collection.c.hold_reason)
        ).one()
    assert due.next_action_at == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 08:00 New York
    assert due.hold_reason == "quiet_hours"

    engine.clock.set(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    engine.run()
    [message] = engine.messages(invoice_id)
    assert message["created_at"] == "2026-12-01T13:00:00+00:00"
    assert message["status"] == "sent"


def test_the_weekly_cap_holds_back_a_daily_policy(engine: Engine) -> None:
    h = engine.issuer.headers
    daily = {
        "name": "daily",
        "default": True,
        "steps": [{"offset_days": 0, "template": "due_today", "every_days": 1, "until_days": 20}],
    }
    assert engine.api.post("/v1/policies", json=daily, headers=h).status_code == 201
    r = engine.api.put(
        "/v1/collections/settings", json={"contact_rules": {"max_per_week": 2}}, headers=h
    )
    assert r.status_code == 200, r.text
    invoice_id = engine.invoice("W-1", "2026-12-01", payer("W"))

    engine.days(date(2026, 12, 1), date(2026, 12, 14))

    sent = engine.sent(invoice_id)
    assert [s[0] for s in sent] == ["2026-12-01", "2026-12-02", "2026-12-08", "2026-12-09"]
    assert [s[2] for s in sent] == [0, 1, 7, 8]  # after the wait only the latest step


def test_a_bounce_makes_the_next_sweep_try_the_next_channel(engine: Engine) -> None:
    invoice_id = engine.invoice("F-1", "2026-12-01", payer("F", phone="+4915100000003"))
    engine.at(date(2026, 12, 1))
    engine.run()
    [email] = engine.messages(invoice_id)
    assert (email["channel"], email["status"]) == ("email", "sent")

    with engine.container.uow() as uow:
        record_delivery(uow, engine.issuer.id, email["id"], "bounced", engine.clock.now())
        uow.commit()
    engine.at(date(2026, 12, 1), hour=11)
    engine.run()

    first, second = engine.messages(invoice_id)
    assert first["status"] == "bounced"
    assert (second["channel"], second["step_offset"], second["attempt"]) == ("sms", 0, 2)
    assert second["explanation"] == "email bounced on 2026-12-01 → sms"
    # the bounced address is not used again for the payer
    engine.days(date(2026, 12, 4), date(2026, 12, 4))
    assert engine.messages(invoice_id)[-1]["channel"] == "sms"


def test_a_returned_payment_that_reopens_a_paid_invoice_resumes_its_follow_up(
    engine: Engine,
) -> None:
    invoice_id = engine.invoice("RP-1", "2026-12-01", payer("RP"))
    engine.at(date(2026, 11, 20))
    engine.pay(invoice_id)
    engine.days(date(2026, 11, 20), date(2026, 12, 2))
    assert engine.sent(invoice_id) == []  # paid: no reminder

    engine.at(date(2026, 12, 3))
    with engine.container.engine.connect() as conn:
        credit_id = conn.execute(
            sa.select(allocations.c.credit_id).where(allocations.c.invoice_id == invoice_id)
        ).scalar_one()
    with engine.container.uow() as uow:
        issuer = uow.issuers.get(engine.issuer.id)
        assert issuer is not None
        reverse_credit(uow, engine.container.links, issuer, credit_id, reason="returned")
        uow.commit()
    engine.run()
    engine.days(date(2026, 12, 4), date(2026, 12, 5))

    # overdue by then: the due-date step is not sent late, the next one is
    assert engine.sent(invoice_id) == [("2026-12-04", "email", 3, 1)]


def test_reminders_are_in_the_payers_language_and_a_failing_template_sends_nothing(
    engine: Engine,
) -> None:
    german = engine.invoice("DE-1", "2026-12-01", payer("DE", language="de-AT"))
    swedish = engine.invoice("SV-1", "2026-12-01", payer("SV", language="sv"))
    engine.at(date(2026, 12, 1))
    engine.run()
    by_to = {m.to: m for m in engine.channels["email"].sent}
    assert by_to["de@example.org"].subject == "Zahlung heute fällig: 123,45 €"
    assert by_to["sv@example.org"].subject == "Payment due today: €123.45"  # English fallback
    assert [m["language"] for m in engine.messages(german) + engine.messages(swedish)] == [
        "de-AT",
        "sv",
    ]

    custom = {
        "name": "custom",
        "steps": [{"offset_days": 3, "template": "no_such_text", "channels": ["email"]}],
    }
    r = engine.api.post("/v1/policies", json=custom, headers=engine.issuer.headers)
    assert r.status_code == 201, r.text
    r = engine.api.put(
        f"/v1/invoices/{german}/policy",
        json={"policy_id": r.json()["id"]},
        headers=engine.issuer.headers,
    )
    assert r.status_code == 200, r.text
    sent_before = len(engine.channels["email"].sent)
    engine.days(date(2026, 12, 4), date(2026, 12, 4))

    failed = engine.messages(german)[-1]
    assert (failed["status"], failed["step_offset"]) == ("failed", 3)
    assert failed["error"].startswith("template no_such_text/email/de: no template")
    assert failed["text"] is None
    assert [m.to for m in engine.channels["email"].sent[sent_before:]] == ["sv@example.org"]
    events = engine.api.get("/v1/events?limit=100", headers=engine.issuer.headers).json()["data"]
    mine = [e for e in events if e["data"].get("id") == failed["id"]]
    assert [(e["type"], e["data"]["status"]) for e in mine] == [("message.failed", "failed")]
    assert "text" not in mine[0]["data"]


def test_the_agent_send_link_arrives_and_respects_the_contact_rules(engine: Engine) -> None:
    invoice_id = engine.invoice("L-1", "2026-12-20", payer("L", phone="+4915100000004"))
    h = engine.issuer.headers
    engine.at(date(2026, 12, 1), hour=22)
    r = engine.api.post(f"/v1/invoices/{invoice_id}/send-link", json={"channel": "sms"}, headers=h)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "contact_refused"
    assert "quiet_hours" in error["message"]
    assert error["details"]["earliest_send_at"] == "2026-12-02T07:00:00+00:00"

    engine.at(date(2026, 12, 2), hour=9)
    r = engine.api.post(
        f"/v1/invoices/{invoice_id}/send-link",
        json={"channel": "sms", "expires_in_hours": 2},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "queued"
    Worker(engine.container).run_once()

    [sms] = engine.channels["sms"].sent
    assert sms.to == "+4915100000004"
    assert sms.pay_url is not None
    assert sms.pay_url in sms.text
    [message] = engine.messages(invoice_id)
    assert (message["kind"], message["status"]) == ("link", "sent")
    links = engine.api.get(f"/v1/invoices/{invoice_id}/pay-links", headers=h).json()["data"]
    assert [(link["channel"], link["expires_at"]) for link in links if not link["primary"]] == [
        ("sms", "2026-12-02T10:00:00+00:00")
    ]

    engine.api.put(
        "/v1/payers/L/channels", json={"channels": {"sms": {"opted_out": True}}}, headers=h
    )
    r = engine.api.post(f"/v1/invoices/{invoice_id}/send-link", json={"channel": "sms"}, headers=h)
    assert r.status_code == 409
    assert r.json()["error"]["details"]["reason"] == "opted_out"
    r = engine.api.post(f"/v1/invoices/{invoice_id}/send-link", json={"channel": "fax"}, headers=h)
    assert r.status_code == 422
    assert "unknown channel 'fax'" in r.json()["error"]["message"]


def test_policies_are_validated_and_name_the_step_at_fault(engine: Engine) -> None:
    h = engine.issuer.headers
    listed = engine.api.get("/v1/policies", headers=h).json()
    assert listed["data"] == []
    assert listed["builtin_default"]["name"] == "default"

    bad = {
        "name": "x",
        "steps": [{"offset_days": 0, "template": "a"}, {"offset_days": 0, "template": "b"}],
    }
    r = engine.api.post("/v1/policies", json=bad, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "steps[1]: day +0 is already a step (steps[0])"
    bad["steps"] = [{"offset_days": 1000, "template": "a"}]
    r = engine.api.post("/v1/policies", json=bad, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("steps[0].offset_days:")

    good = {"name": "gentle", "bundle": False, "steps": [{"offset_days": 3, "template": "late"}]}
    created = engine.api.post("/v1/policies", json=good, headers=h)
    assert created.status_code == 201, created.text
    policy_id = created.json()["id"]
    assert created.json()["default"] is False
    again = engine.api.post("/v1/policies", json=good, headers=h)
    assert again.status_code == 409

    good["default"] = True
    r = engine.api.put(f"/v1/policies/{policy_id}", json=good, headers=h)
    assert r.status_code == 200
    assert r.json()["default"] is True
    assert engine.api.get("/v1/policies", headers=h).json()["builtin_default"] is None

    invoice_id = engine.invoice("G-1", "2026-12-01", payer("G"))
    r = engine.api.put(
        f"/v1/invoices/{invoice_id}/policy", json={"policy_id": policy_id}, headers=h
    )
    assert r.status_code == 200, r.text
    assert engine.api.delete(f"/v1/policies/{policy_id}", headers=h).status_code == 409
    engine.days(date(2026, 11, 26), date(2026, 12, 5))
    assert engine.sent(invoice_id) == [("2026-12-04", "email", 3, 1)]

    engine.api.put(f"/v1/invoices/{invoice_id}/policy", json={"policy_id": None}, headers=h)
    other = engine.api.post("/v1/policies", json={**good, "name": "other"}, headers=h).json()
    assert engine.api.delete(f"/v1/policies/{policy_id}", headers=h).status_code == 204
    assert engine.api.get(f"/v1/policies/{policy_id}", headers=h).status_code == 404
    assert engine.api.get(f"/v1/policies/{other['id']}", headers=h).json()["default"] is True


@pytest.mark.postgres_only
def test_two_sweeps_at_once_send_each_reminder_exactly_once(engine: Engine) -> None:
    ids = [engine.invoice(f"T-{i}", "2026-12-01", payer(f"T{i}")) for i in range(60)]
    engine.at(date(2026, 12, 1))
    c = engine.container
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_sweep() -> None:
        try:
            start.wait()
            sweep(
                c.uow,
                engine.clock.now(),
                c.channels,
                links=c.links,
                secret=c.settings.secret_bytes,
                batch_size=7,
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with c.engine.connect() as conn:
        per_invoice = conn.execute(
            sa.select(message_invoices.c.invoice_id, sa.func.count()).group_by(
                message_invoices.c.invoice_id
            )
        ).all()
        total = conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one()
    assert total == 60
    assert sorted(per_invoice) == sorted((i, 1) for i in ids)


def test_an_idle_worker_sweeps_every_so_often(engine: Engine) -> None:
    invoice_id = engine.invoice("S-1", "2026-12-01", payer("S"))
    engine.at(date(2026, 12, 1))
    engine.container.settings.collections_sweep_seconds = 3600
    worker = Worker(engine.container)
    worker.sweep_when_due()
    assert engine.messages(invoice_id) == []  # not yet: the first sweep is a period after start

    worker.last_sweep -= 3600
    worker.sweep_when_due()
    worker.sweep_when_due()
    worker.run_once()
    assert engine.sent(invoice_id) == [("2026-12-01", "email", 0, 1)]


def test_the_letters_of_each_sweep_go_out_as_one_batch(engine: Engine, tmp_path: Path) -> None:
    letters = LetterExport(tmp_path, clock=engine.clock)
    engine.container.channels = {**engine.channels, "letter": letters}  # type: ignore[misc]
    engine.container.settings.collections_sweep_seconds = 1
    worker = Worker(engine.container)
    engine.at(date(2026, 12, 1), 9)
    worker.last_sweep -= 10
    worker.sweep_when_due()
    first = letters.batch
    engine.at(date(2026, 12, 1), 11)
    worker.last_sweep -= 10
    worker.sweep_when_due()
    assert (first, letters.batch) == ("letters-20261201T080000", "letters-20261201T100000")

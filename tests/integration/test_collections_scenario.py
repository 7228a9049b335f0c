"""Ninety days of collections in simulated time, swept every hour: payers in Berlin, New York,
Tokyo and Sydney across the daylight-saving changes of autumn 2026 (Sydney on 4 October, Berlin
on 25 October, New York on 1 November), a five-day outage, a bounce, a payment, a cancellation,
a pause and a daily policy against a weekly cap of three.

Whatever happens: no contact in a payer's quiet hours, rest days or public holidays (in their
own timezone), never more than three contacts in any seven days, nothing after an invoice is
paid, cancelled or paused, the next channel after a bounce, and after the outage only the
latest step."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paydue.domain.contact import public_holidays
from paydue.services.collections import record_delivery, sweep
from paydue.worker.runner import Worker
from tests.conftest import invoice_body
from tests.integration.test_collections import Engine, engine, payer  # noqa: F401

BERLIN = ZoneInfo("Europe/Berlin")
FIRST, LAST = date(2026, 9, 30), date(2026, 12, 28)  # 90 days
OUTAGE = (date(2026, 11, 20), date(2026, 11, 24))  # no sweep on these five days
CAP = 3


class Scenario:
    def __init__(self, e: Engine) -> None:
        self.e = e
        self.ids: dict[str, str] = {}
        self.tz: dict[str, ZoneInfo] = {}
        self.bounced = False

    def invoice(self, ref: str, due: str, tz: str, **fields: Any) -> str:
        body = invoice_body(f"{ref}-1", due_date=due, issue_date="2026-09-01")
        body["payer"] = payer(ref, timezone=tz, phone=f"+49151{len(self.ids):07d}", **fields)
        body["payer"]["address"] = invoice_body()["payer"]["address"]  # type: ignore[index]
        r = self.e.api.post("/v1/invoices", json=body, headers=self.e.issuer.headers)
        assert r.status_code == 201, r.text
        self.ids[ref] = r.json()["id"]
        self.tz[ref] = ZoneInfo(tz)
        return self.ids[ref]

    def hour(self, at: datetime) -> None:
        e, c = self.e, self.e.container
        e.clock.set(at)
        report = sweep(c.uow, at, c.channels, links=c.links, secret=c.settings.secret_bytes)
        if report.messages:
            worker = Worker(c)
            while worker.run_once():
                pass
            self.bounce_sydneys_first_email()

    def bounce_sydneys_first_email(self) -> None:
        if self.bounced:
            return
        for m in self.e.messages(self.ids["SYD"]):
            if m["channel"] == "email" and m["status"] == "sent" and m["step_offset"] == 0:
                with self.e.container.uow() as uow:
                    record_delivery(uow, self.e.issuer.id, m["id"], "bounced", self.e.clock.now())
                    uow.commit()
                self.bounced = True

    def on(self, day: date, hour: int = 12) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)

    def sent(self, ref: str) -> list[dict[str, Any]]:
        return [m for m in self.e.messages(self.ids[ref]) if m["status"] != "skipped"]


def test_ninety_days_across_timezones_and_daylight_saving(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    s = Scenario(e)
    e.clock.set(datetime(2026, 9, 29, 12, tzinfo=UTC))
    r = e.api.put(
        "/v1/collections/settings", json={"contact_rules": {"max_per_week": CAP}}, headers=h
    )
    assert r.status_code == 200, r.text
    daily = {
        "name": "daily",
        "steps": [{"offset_days": 0, "template": "due_today", "every_days": 1, "until_days": 60}],
    }
    daily_id = e.api.post("/v1/policies", json=daily, headers=h).json()["id"]

    s.invoice("BER", "2026-10-20", "Europe/Berlin")  # never pays
    s.invoice("NYC", "2026-10-28", "America/New_York")  # pays on 10 November
    s.invoice("TYO", "2026-10-15", "Asia/Tokyo")  # paused on 20 October
    s.invoice("SYD", "2026-10-10", "Australia/Sydney")  # its e-mail of the due date bounces
    s.invoice("OUT", "2026-11-20", "Europe/Berlin")  # steps 0 and +3 fall in the outage
    s.invoice("CAN", "2026-10-26", "America/New_York")  # cancelled on 2 November
    s.invoice("DAY", "2026-10-05", "Asia/Tokyo")  # a daily policy against the weekly cap
    assert e.api.put("/v1/payers/DAY/policy", json={"policy_id": daily_id}, headers=h).is_success

    day = FIRST
    while day <= LAST:
        if day == date(2026, 10, 20):
            e.clock.set(s.on(day, 0))
            assert e.api.post("/v1/payers/TYO/pause", json={}, headers=h).is_success
        if day == date(2026, 11, 2):
            e.clock.set(s.on(day, 0))
            assert e.api.post(f"/v1/invoices/{s.ids['CAN']}/cancel", headers=h).is_success
        if day == date(2026, 11, 10):
            e.clock.set(s.on(day, 0))
            e.pay(s.ids["NYC"])
        if not OUTAGE[0] <= day <= OUTAGE[1]:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            for hour in range(24):
                s.hour(start + timedelta(hours=hour))
        day += timedelta(days=1)

    contacts: dict[str, list[datetime]] = defaultdict(list)
    for ref in s.ids:
        holidays = public_holidays("DE", (2026, 2027))
        for m in s.sent(ref):
            at = datetime.fromisoformat(m["sent_at"] or m["created_at"])
            local = at.astimezone(s.tz[ref])
            # the payer's contact window, in their own time, across the DST changes
            assert 8 <= local.hour < 21, (ref, m["channel"], local.isoformat())
            assert local.weekday() != 6, (ref, "a Sunday", local.isoformat())
            assert local.date() not in holidays, (ref, "a public holiday", local.isoformat())
            contacts[ref].append(at)
    # the weekly cap: never more than three contacts in any seven days
    for ref, times in contacts.items():
        times.sort()
        for i, first in enumerate(times):
            within = [t for t in times[i:] if t < first + timedelta(days=7)]
            assert len(within) <= CAP, (ref, [t.isoformat() for t in within])
    assert len(contacts["DAY"]) >= 10  # the daily policy ran into the cap, week after week

    # nothing after paid, cancelled or paused
    def last_local_day(ref: str) -> date:
        return max(t.astimezone(BERLIN).date() for t in contacts[ref])

    assert contacts["NYC"]
    assert last_local_day("NYC") < date(2026, 11, 10)
    assert last_local_day("CAN") < date(2026, 11, 2)
    assert last_local_day("TYO") < date(2026, 10, 20)
    assert len(contacts["BER"]) >= 8  # the one who never pays is reminded throughout

    # fallback: the bounced e-mail is followed by an sms for the same step, then sms only
    syd = s.sent("SYD")
    assert [(m["step_offset"], m["channel"], m["status"]) for m in syd[:3]] == [
        (-5, "email", "sent"),
        (0, "email", "bounced"),
        (0, "sms", "sent"),
    ]
    assert syd[2]["attempt"] == 2
    assert syd[2]["explanation"].startswith("email bounced on 2026-10-")
    assert all(m["channel"] != "email" for m in syd[3:])  # the bounced address is not used again

    # catch-up after the outage: steps 0 and +3 fell in it; only +3 went out, once
    out_steps = [m["step_offset"] for m in s.sent("OUT")]
    assert out_steps[:4] == [-5, 3, 7, 14]
    assert 0 not in out_steps
    after = [
        m
        for m in s.sent("OUT")
        if OUTAGE[1]
        < datetime.fromisoformat(m["created_at"]).astimezone(BERLIN).date()
        <= OUTAGE[1] + timedelta(days=2)
    ]
    assert [m["step_offset"] for m in after] == [3]

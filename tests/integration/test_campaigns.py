"""Campaigns: a pay link on one channel to the payers a filter or a CSV of refs names, at a
limited rate, with the contact rules holding, progress and per-recipient results, once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from paydue.services.campaigns import run_campaign
from paydue.worker.runner import Worker
from tests.conftest import invoice_body
from tests.integration.test_collections import Engine, engine, payer  # noqa: F401

H = {"Idempotency-Key": "campaign-1"}


def overdue_invoice(e: Engine, number: str, due: str, who: dict[str, Any]) -> str:
    body = invoice_body(number, due_date=due, issue_date="2026-09-01")
    body["payer"] = who
    r = e.api.post("/v1/invoices", json=body, headers=e.issuer.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def work(e: Engine) -> None:
    worker = Worker(e.container)
    while worker.run_once():
        pass


def test_a_filtered_campaign_keeps_the_rate_and_the_contact_rules(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    a1 = overdue_invoice(e, "A-1", "2026-10-01", payer("A"))
    a2 = overdue_invoice(e, "A-2", "2026-10-05", payer("A"))
    overdue_invoice(e, "B-1", "2026-11-05", payer("B"))  # only 10 days overdue: not listed
    overdue_invoice(e, "C-1", "2026-10-01", payer("C"))
    overdue_invoice(e, "D-1", "2026-10-01", payer("D", timezone="America/Los_Angeles"))
    overdue_invoice(e, "E-1", "2026-10-01", payer("E"))
    r = e.api.put(
        "/v1/collections/settings", json={"contact_rules": {"max_per_week": 1}}, headers=h
    )
    assert r.status_code == 200, r.text
    e.at(date(2026, 11, 16), hour=9)
    r = e.api.put(
        "/v1/payers/C/channels", json={"channels": {"email": {"opted_out": True}}}, headers=h
    )
    assert r.status_code == 200, r.text
    e_invoice = e.api.get("/v1/invoices?limit=100", headers=h).json()["data"]
    e_id = next(i["id"] for i in e_invoice if i["number"] == "E-1")
    assert e.api.post(
        f"/v1/invoices/{e_id}/send-link", json={"channel": "email"}, headers=h
    ).is_success
    work(e)

    e.at(date(2026, 11, 16), hour=10)  # 01:00 in Los Angeles
    body = {"channel": "email", "filter": {"overdue_days_min": 30}, "rate_per_minute": 2}
    created = e.api.post("/v1/campaigns", json=body, headers={**h, **H})
    assert created.status_code == 201, created.text
    campaign = created.json()
    again = e.api.post("/v1/campaigns", json=body, headers={**h, **H})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == campaign["id"]
    assert campaign["recipients"] == 4  # A, C, D, E; not B
    assert campaign["counts"]["pending"] == 4
    url = f"/v1/campaigns/{campaign['id']}"

    work(e)  # the first run: two recipients (A sent, C opted out)
    assert e.api.get(url, headers=h).json()["counts"] == {
        "pending": 2,
        "queued": 0,
        "sent": 1,
        "delivered": 0,
        "skipped": 1,
        "failed": 0,
    }
    e.clock.advance(timedelta(minutes=1))
    work(e)  # a minute later: D waits for the morning in Los Angeles, E is over the weekly cap
    progress = e.api.get(url, headers=h).json()
    assert progress["counts"]["pending"] == 1
    assert progress["status"] == "running"

    e.at(date(2026, 11, 16), hour=17)  # 08:00 in Los Angeles
    work(e)
    done = e.api.get(url, headers=h).json()
    assert done["status"] == "done"
    assert done["counts"] == {
        "pending": 0,
        "queued": 0,
        "sent": 2,
        "delivered": 0,
        "skipped": 2,
        "failed": 0,
    }
    recipients = e.api.get(f"{url}/recipients", headers=h).json()["data"]
    assert [(r["payer_ref"], r["status"], r["reason"]) for r in recipients] == [
        ("A", "sent", None),
        ("C", "skipped", "opted_out: the payer opted out of email"),
        ("D", "sent", None),
        ("E", "skipped", "weekly_cap: 1 contacts in the past 7 days"),
    ]
    [to_a] = [m for m in e.channels["email"].sent if m.to == "a@example.org"]
    assert to_a.text.count("http://testserver/p/") >= 1
    messages = e.messages(a1)
    assert [(m["kind"], sorted(m["invoice_ids"])) for m in messages] == [
        ("campaign", sorted([a1, a2]))
    ]
    [to_d] = [m for m in e.messages() if m["to"] == "d@example.org"]
    assert to_d["created_at"] == "2026-11-16T16:00:00+00:00"

    # running it again sends nothing more
    c = e.container
    with c.uow() as uow:
        report = run_campaign(
            uow,
            e.issuer.id,
            campaign["id"],
            available=c.channels,
            links=c.links,
            secret=c.settings.secret_bytes,
        )
        uow.commit()
    assert (report.queued, report.skipped) == (0, 0)
    assert len(e.channels["email"].sent) == 3  # E's send-link, A, D


def test_a_csv_of_payer_refs_names_the_recipients(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    overdue_invoice(e, "A-1", "2026-10-01", payer("A", phone="+4915100000011"))
    paid = overdue_invoice(e, "P-1", "2026-10-01", payer("P"))
    e.at(date(2026, 11, 16), hour=10)
    e.pay(paid)
    csv = b"payer_ref;note\nA;first\nNOBODY;x\nP;paid\nA;again\n"
    r = e.api.post(
        "/v1/campaigns",
        data={"channel": "sms", "name": "November"},
        files={"file": ("refs.csv", csv, "text/csv")},
        headers=h,
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert (campaign["source"], campaign["recipients"], campaign["name"]) == ("refs", 3, "November")
    work(e)
    recipients = e.api.get(f"/v1/campaigns/{campaign['id']}/recipients", headers=h).json()
    assert [(x["payer_ref"], x["status"], x["reason"]) for x in recipients["data"]] == [
        ("A", "sent", None),
        ("NOBODY", "skipped", "no payer with this ref"),
        ("P", "skipped", "nothing to pay"),
    ]
    [sms] = e.channels["sms"].sent
    assert sms.to == "+4915100000011"
    assert sms.pay_url
    assert sms.pay_url in sms.text

    bad = e.api.post("/v1/campaigns", json={"channel": "email"}, headers=h)
    assert bad.status_code == 422
    bad = e.api.post(
        "/v1/campaigns", json={"channel": "email", "filter": {"overdue": 3}}, headers=h
    )
    assert bad.status_code == 422
    assert "unknown field(s) overdue" in bad.json()["error"]["message"]
    bad = e.api.post("/v1/campaigns", json={"channel": "push", "filter": {}}, headers=h)
    assert bad.status_code == 409
    assert bad.json()["error"]["code"] == "channel_unavailable"

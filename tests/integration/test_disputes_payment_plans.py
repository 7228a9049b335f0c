"""Disputes and payment plans hold an invoice's reminders: none while disputed (nor in a
campaign), they resume after the dispute is resolved; a plan holds them through its last day;
bad input is refused naming the field."""

from __future__ import annotations

from datetime import date

from tests.integration.test_campaigns import overdue_invoice, work
from tests.integration.test_collections import Engine, engine, payer  # noqa: F401


def events(e: Engine, prefix: str) -> list[dict[str, object]]:
    r = e.api.get("/v1/events?limit=500", headers=e.issuer.headers)
    assert r.status_code == 200, r.text
    return [ev for ev in r.json()["data"] if ev["type"].startswith(prefix)]


def test_no_reminder_while_disputed_and_reminders_resume_after_resolve(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    disputed = e.invoice("D-1", "2026-12-01", payer("D"))
    other = e.invoice("F-1", "2026-12-01", payer("F"))
    e.at(date(2026, 11, 16))
    r = e.api.post(
        f"/v1/invoices/{disputed}/dispute", json={"reason": "  goods not received "}, headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["disputed"] is True
    assert body["dispute_reason"] == "goods not received"
    again = e.api.post(
        f"/v1/invoices/{disputed}/dispute", json={"reason": "goods damaged"}, headers=h
    )
    assert again.json()["dispute_reason"] == "goods damaged"
    assert again.json()["disputed_at"] == body["disputed_at"]

    e.days(date(2026, 11, 16), date(2026, 12, 10))
    assert e.sent(disputed) == []
    assert [m[:3] for m in e.sent(other)][:3] == [
        ("2026-11-26", "email", -5),
        ("2026-12-01", "email", 0),
        ("2026-12-04", "email", 3),
    ]
    with e.container.uow(readonly=True) as uow:
        row = uow.collections.state(e.issuer.id, disputed)
    assert row is not None
    assert row.next_action_at is None

    r = e.api.post(f"/v1/invoices/{disputed}/dispute/resolve", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["disputed"] is False
    assert r.json()["dispute_reason"] is None
    assert e.api.post(f"/v1/invoices/{disputed}/dispute/resolve", headers=h).status_code == 200
    e.days(date(2026, 12, 11), date(2026, 12, 15))
    # only the latest due step, then the policy goes on
    assert e.sent(disputed) == [("2026-12-11", "email", 7, 1), ("2026-12-15", "email", 14, 1)]

    found = events(e, "invoice.disput")
    assert [ev["type"] for ev in found] == ["invoice.disputed", "invoice.dispute_resolved"]
    assert found[0]["data"]["reason"] == "goods not received"  # type: ignore[index]
    assert found[1]["data"]["reason"] == "goods damaged"  # type: ignore[index]


def test_a_payment_plan_holds_reminders_through_its_last_day(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    planned = e.invoice("P-1", "2026-12-01", payer("P"))
    ended = e.invoice("Q-1", "2026-12-01", payer("Q"))
    e.at(date(2026, 11, 16))
    for invoice_id in (planned, ended):
        r = e.api.post(
            f"/v1/invoices/{invoice_id}/payment-plan",
            json={"until": "2026-12-09", "note": "3 x 41.15 EUR"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert r.json()["payment_plan_until"] == "2026-12-09"
        assert r.json()["payment_plan_note"] == "3 x 41.15 EUR"

    e.days(date(2026, 11, 16), date(2026, 12, 2))
    assert e.sent(planned) == []
    assert e.sent(ended) == []
    r = e.api.delete(f"/v1/invoices/{ended}/payment-plan", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["payment_plan_until"] is None
    assert r.json()["payment_plan_note"] is None

    e.days(date(2026, 12, 3), date(2026, 12, 12))
    # the plan ended: the next step goes out (the due-date note is not sent once overdue)
    assert e.sent(ended) == [("2026-12-04", "email", 3, 1), ("2026-12-08", "email", 7, 1)]
    assert e.sent(planned) == [("2026-12-10", "email", 7, 1)]


def test_bad_input_is_refused_naming_the_field(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    invoice_id = e.invoice("B-1", "2026-12-01", payer("B"))
    e.at(date(2026, 11, 16))
    cases = [
        ("dispute", {}, "reason"),
        ("dispute", {"reason": ""}, "reason"),
        ("dispute", {"reason": "   "}, "reason"),
        ("dispute", {"reason": "x" * 1001}, "reason"),
        ("dispute", {"reason": "a", "extra": 1}, "extra"),
        ("payment-plan", {}, "until"),
        ("payment-plan", {"until": "soon"}, "until"),
        ("payment-plan", {"until": "2026-11-15"}, "until"),
        ("payment-plan", {"until": "2030-01-01"}, "until"),
        ("payment-plan", {"until": "2026-12-20", "note": "n" * 501}, "note"),
    ]
    for path, body, field in cases:
        r = e.api.post(f"/v1/invoices/{invoice_id}/{path}", json=body, headers=h)
        assert r.status_code == 422, (path, body, r.text)
        assert field in r.text, (path, body, r.text)
    r = e.api.post("/v1/invoices/inv_unknown/dispute", json={"reason": "a"}, headers=h)
    assert r.status_code == 404, r.text
    with e.container.uow(readonly=True) as uow:
        row = uow.collections.state(e.issuer.id, invoice_id)
    assert row is not None
    assert row.disputed_at is None
    assert row.payment_plan_until is None


def test_a_campaign_leaves_disputed_invoices_out(engine: Engine) -> None:  # noqa: F811
    e, h = engine, engine.issuer.headers
    a1 = overdue_invoice(e, "A-1", "2026-10-01", payer("A"))
    a2 = overdue_invoice(e, "A-2", "2026-10-05", payer("A"))
    c1 = overdue_invoice(e, "C-1", "2026-10-01", payer("C"))
    e.at(date(2026, 11, 16), hour=10)
    for invoice_id in (a2, c1):
        r = e.api.post(f"/v1/invoices/{invoice_id}/dispute", json={"reason": "no"}, headers=h)
        assert r.status_code == 200, r.text
    body = {"channel": "email", "filter": {"overdue_days_min": 30}}
    created = e.api.post("/v1/campaigns", json=body, headers={**h, "Idempotency-Key": "c-1"})
    assert created.status_code == 201, created.text
    work(e)
    url = f"/v1/campaigns/{created.json()['id']}"
    recipients = e.api.get(f"{url}/recipients", headers=h).json()["data"]
    assert [(r["payer_ref"], r["status"], r["reason"]) for r in recipients] == [
        ("A", "sent", None),
        ("C", "skipped", "disputed"),
    ]
    [message] = [m for m in e.messages() if m["kind"] == "campaign"]
    assert message["invoice_ids"] == [a1]

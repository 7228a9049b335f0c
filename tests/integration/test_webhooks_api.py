"""The webhook endpoint API on SQLite and PostgreSQL (private addresses not allowed)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import IssuerHandle, invoice_body

BASE = "/v1/webhook-endpoints"
PUBLIC_URL = "https://1.1.1.1/hooks/paydue"


def _register(
    client: TestClient, issuer: IssuerHandle, url: str = PUBLIC_URL, **body: Any
) -> dict[str, Any]:
    r = client.post(BASE, json={"url": url, **body}, headers=issuer.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_registration_answers_the_signing_secret_once(
    client: TestClient, issuer: IssuerHandle
) -> None:
    created = _register(client, issuer, event_types=["invoice.*", "payment.failed"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["invoice.*", "payment.failed"]
    assert created["enabled"] is True
    shown = client.get(f"{BASE}/{created['id']}", headers=issuer.headers).json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = client.get(BASE, headers=issuer.headers).json()["data"]
    assert listed == [shown]


def test_event_types_default_to_everything(client: TestClient, issuer: IssuerHandle) -> None:
    assert _register(client, issuer)["event_types"] == ["*"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback address 127.0.0.1"),
        ("http://10.1.2.3/", "private network address 10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata address"),
        ("http://[::1]/", "loopback address ::1"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped IPv6 address"),
        ("http://localhost/", "(localhost resolves to it)"),
        ("ftp://files.example.org/hooks", "scheme 'ftp' is not allowed"),
        ("http://user:pass@1.1.1.1/", "credentials in the URL are not allowed"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(
    client: TestClient, issuer: IssuerHandle, url: str, reason: str
) -> None:
    r = client.post(BASE, json={"url": url}, headers=issuer.headers)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unsafe_url"
    assert reason in error["message"]
    assert client.get(BASE, headers=issuer.headers).json()["data"] == []


def test_unknown_event_types_are_refused(client: TestClient, issuer: IssuerHandle) -> None:
    r = client.post(
        BASE, json={"url": PUBLIC_URL, "event_types": ["invoice.eaten"]}, headers=issuer.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_event_type"
    assert "invoice.eaten" in r.json()["error"]["message"]


def test_a_repeated_registration_with_the_same_idempotency_key_makes_one_endpoint(
    client: TestClient, issuer: IssuerHandle
) -> None:
    headers = {**issuer.headers, "Idempotency-Key": "register-1"}
    first = client.post(BASE, json={"url": PUBLIC_URL}, headers=headers)
    second = client.post(BASE, json={"url": PUBLIC_URL}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert len(client.get(BASE, headers=issuer.headers).json()["data"]) == 1


def test_another_issuers_endpoint_is_not_found_and_unchanged(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    endpoint = _register(client, issuer)
    path = f"{BASE}/{endpoint['id']}"
    client.post("/v1/invoices", json=invoice_body(), headers=issuer.headers)
    [delivery] = client.get(f"{path}/deliveries", headers=issuer.headers).json()["data"]
    h = other_issuer.headers
    answers = [
        client.get(path, headers=h),
        client.patch(path, json={"enabled": False}, headers=h),
        client.post(f"{path}/rotate-secret", headers=h),
        client.get(f"{path}/deliveries", headers=h),
        client.post(f"{path}/deliveries/{delivery['id']}/replay", headers=h),
    ]
    assert [r.status_code for r in answers] == [404] * 5
    assert client.get(BASE, headers=h).json()["data"] == []
    shown = client.get(path, headers=issuer.headers).json()
    assert shown["enabled"] is True
    assert len(client.get(f"{path}/deliveries", headers=issuer.headers).json()["data"]) == 1


def test_disabling_gives_up_pending_deliveries_and_records_the_event(
    client: TestClient, issuer: IssuerHandle
) -> None:
    endpoint = _register(client, issuer)
    path = f"{BASE}/{endpoint['id']}"
    client.post("/v1/invoices", json=invoice_body(), headers=issuer.headers)
    r = client.patch(path, json={"enabled": False}, headers=issuer.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["disabled_reason"]) == (False, "disabled by the issuer")
    [delivery] = client.get(f"{path}/deliveries", headers=issuer.headers).json()["data"]
    assert (delivery["status"], delivery["last_error"]) == ("failed", "endpoint disabled")
    events = client.get("/v1/events", headers=issuer.headers).json()["data"]
    assert [e["type"] for e in events] == ["invoice.created", "webhook_endpoint.disabled"]
    assert events[-1]["data"] == {
        "endpoint_id": endpoint["id"],
        "url": PUBLIC_URL,
        "reason": "disabled by the issuer",
    }

    r = client.patch(path, json={"enabled": True}, headers=issuer.headers)
    assert (r.json()["enabled"], r.json()["disabled_reason"]) == (True, None)
    client.post("/v1/invoices", json=invoice_body("INV-2"), headers=issuer.headers)
    log = client.get(f"{path}/deliveries", headers=issuer.headers).json()["data"]
    assert [d["status"] for d in log] == ["pending", "failed"]


def test_event_types_can_be_changed_but_not_to_unknown_ones(
    client: TestClient, issuer: IssuerHandle
) -> None:
    endpoint = _register(client, issuer)
    path = f"{BASE}/{endpoint['id']}"
    r = client.patch(path, json={"event_types": ["payment.*"]}, headers=issuer.headers)
    assert r.json()["event_types"] == ["payment.*"]
    r = client.patch(path, json={"event_types": ["nope"]}, headers=issuer.headers)
    assert r.status_code == 422
    client.post("/v1/invoices", json=invoice_body(), headers=issuer.headers)
    assert client.get(f"{path}/deliveries", headers=issuer.headers).json()["data"] == []


def test_rotating_the_secret_answers_a_new_one(client: TestClient, issuer: IssuerHandle) -> None:
    endpoint = _register(client, issuer)
    r = client.post(f"{BASE}/{endpoint['id']}/rotate-secret", headers=issuer.headers)
    assert r.status_code == 200
    assert r.json()["secret"].startswith("whsec_")
    assert r.json()["secret"] != endpoint["secret"]


def test_the_delivery_log_pages_newest_first(client: TestClient, issuer: IssuerHandle) -> None:
    endpoint = _register(client, issuer, event_types=["invoice.created"])
    path = f"{BASE}/{endpoint['id']}/deliveries"
    for i in range(5):
        client.post("/v1/invoices", json=invoice_body(f"INV-{i}"), headers=issuer.headers)
    events = [e["id"] for e in client.get("/v1/events", headers=issuer.headers).json()["data"]]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, params=params, headers=issuer.headers).json()
        seen += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == 3
    assert [d["event_id"] for d in seen] == events[::-1]
    assert all(d["status"] == "pending" and d["attempts"] == [] for d in seen)
    r = client.get(path, params={"cursor": "nonsense"}, headers=issuer.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_cursor")


def test_replaying_an_unknown_delivery_is_not_found(
    client: TestClient, issuer: IssuerHandle
) -> None:
    endpoint = _register(client, issuer)
    r = client.post(
        f"{BASE}/{endpoint['id']}/deliveries/job_unknown/replay", headers=issuer.headers
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "webhook_delivery_not_found"

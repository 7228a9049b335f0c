"""Tenant isolation: another issuer's ids answer 404 on every route and change nothing.

The routes are found by introspecting the app, so a new route with an id in its path is covered
without editing this file, or fails here until its path parameter is known."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from paydue.adapters.db.tables import jobs
from paydue.bootstrap import Container, build
from paydue.services.ids import new_id, new_webhook_secret
from paydue.web.app import create_app
from tests.conftest import IssuerHandle, invoice_body, make_settings
from tests.integration.helpers import table_contents
from tests.integration.statement_files import Entry, camt053, upload
from tests.payflow import set_methods, start_payment, token_of


def api_routes() -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every issuer API route (``/v1/…``)."""
    app = create_app(build(make_settings("sqlite://")))
    try:  # FastAPI with lazily included routers keeps them nested
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: a flat list
        flat = [(r.path, r.methods, r) for r in app.routes if isinstance(r, APIRoute)]
    else:
        flat = [
            (ctx.path, ctx.methods, ctx.original_route)
            for ctx in iter_route_contexts(app.routes)
            if isinstance(ctx.original_route, APIRoute)
        ]
    return sorted(
        (method, path, route)
        for path, methods, route in flat
        if path.startswith("/v1/")
        for method in methods or ()
        if method != "HEAD"
    )


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::[^}]*)?}", path)


# Path parameters that are not resource ids, and the value to use for them. A route whose
# parameters are all of these (a template's key, channel and language) names no resource of
# another issuer: every issuer has its own of each (its isolation is in test_templates_api.py).
NOT_IDS = {
    "kind": "svg",
    "image": "qr",
    "key": "overdue_first",
    "channel": "email",
    "language": "de",
}

ROUTES = api_routes()
ID_ROUTES = [r for r in ROUTES if set(path_params(r[1])) - NOT_IDS.keys()]

# Valid request bodies by model, so a request reaches the lookup instead of failing validation.
BODIES: dict[str, dict[str, Any]] = {
    "ExternalPaymentIn": {"amount": 100, "date": "2026-11-20"},
    "PayLinkIn": {"max_opens": 3},
    "WebhookEndpointIn": {"url": "https://billing.example.org/hooks", "event_types": ["*"]},
    "WebhookEndpointPatch": {"enabled": False},
    "InvoiceIn": invoice_body("ISO-NEW"),
    "BatchIn": {"invoices": [invoice_body("ISO-NEW")]},
    # an amount that is not the line's: the owner gets 422, never a booking
    "SuspenseAssignIn": {"allocations": [{"invoice_id": "inv_x", "amount": 1}]},
    "SuspenseResolveIn": {"status": "other_income"},
    "BrandingIn": {"display_name": "Not yours"},
    "MethodsIn": {"methods": [{"provider": "simulator", "method": "card"}]},
    "TemplateIn": {"subject": "s", "text": "{{ pay_link }}", "html": "<a>{{ pay_link }}</a>"},
    "TemplatePreviewIn": {"key": "overdue_first", "channel": "sms", "language": "en"},
    "ReconciliationSettingsIn": {"match_threshold": 0.9},
    "CsvMappingIn": {"booking_date": "Datum", "amount": "Betrag", "fixed_currency": "EUR"},
    "PayoutIn": {
        "provider": "simulator",
        "reference": "PO-NOT-YOURS",
        "currency": "EUR",
        "items": [{"payment_id": "pay_x", "amount": 1, "fee": 0}],
    },
    "PolicyIn": {"name": "Not yours", "steps": [{"offset_days": 3, "template": "late"}]},
    "CollectionSettingsIn": {"contact_rules": {"max_per_week": 3}},
    "PauseIn": {"until": "2026-12-24"},
    "PromiseIn": {"date": "2026-12-24"},
    "DisputeIn": {"reason": "not yours to dispute"},
    "PaymentPlanIn": {"until": "2026-12-24", "note": "2 instalments"},
    "PolicyAssignIn": {"policy_id": None},
    "PayerChannelsIn": {"preferred_channel": "sms", "channels": {"email": {"opted_out": True}}},
    "SendLinkIn": {"channel": "email"},
    "CampaignIn": {"channel": "webhook", "payer_refs": ["B-ONLY"]},
}


def body_for(route: APIRoute) -> dict[str, Any] | None:
    params = route.dependant.body_params
    if not params:
        return None
    name = getattr(params[0].field_info.annotation, "__name__", str(params[0]))
    assert name in BODIES, f"{route.path}: add a valid {name} body to BODIES"
    return BODIES[name]


def add_payout(container: Container, issuer: IssuerHandle, payment: dict[str, Any]) -> str:
    """A payout of ``payment`` for ``issuer``, inserted directly: registering one through the
    API needs the payment to have succeeded."""
    payout_id = new_id("po")
    amount = payment["amount"]
    with container.uow() as uow:
        uow.payouts.add(
            {
                "issuer_id": issuer.id,
                "id": payout_id,
                "provider": "simulator",
                "reference": "PO-B-1",
                "currency": "EUR",
                "gross": amount,
                "fees": 0,
                "net": amount,
                "status": "open",
                "created_at": uow.now(),
            },
            [
                {
                    "issuer_id": issuer.id,
                    "payout_id": payout_id,
                    "payment_id": payment["id"],
                    "amount": amount,
                    "fee": 0,
                }
            ],
        )
        uow.commit()
    return payout_id


def add_endpoint(container: Container, issuer: IssuerHandle) -> str:
    """A webhook endpoint for ``issuer``, inserted directly: registering one through the API
    checks its URL over the network."""
    endpoint_id = new_id("we")
    with container.uow() as uow:
        uow.webhooks.add(
            {
                "issuer_id": issuer.id,
                "id": endpoint_id,
                "url": "https://billing.example.org/hooks",
                "event_types": ["*"],
                "secret": new_webhook_secret(),
                "enabled": True,
                "created_at": uow.now(),
            }
        )
        uow.commit()
    return endpoint_id


@dataclass
class World:
    """Issuer B with one of everything, and issuer A who must not reach any of it."""

    a: IssuerHandle
    b: IssuerHandle
    b_ids: dict[str, str]
    b_invoice_id: str


@pytest.fixture
def world(
    container: Container, client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> World:
    a, b = issuer, other_issuer
    endpoint_id = add_endpoint(container, b)
    assert client.post("/v1/invoices", json=invoice_body("A-1"), headers=a.headers).is_success
    invoice = client.post("/v1/invoices", json=invoice_body("B-1"), headers=b.headers).json()
    paid = client.post(
        f"/v1/invoices/{invoice['id']}/external-payments",
        json={"amount": 1000, "date": "2026-11-20"},
        headers=b.headers,
    )
    assert paid.status_code == 201, paid.text
    link = client.post(
        f"/v1/invoices/{invoice['id']}/pay-links", json={"max_opens": 5}, headers=b.headers
    ).json()
    set_methods(client, b)
    start_payment(client, token_of(invoice["pay_url"]))
    payment = client.get("/v1/payments", headers=b.headers).json()["data"][0]
    event = client.get("/v1/events", headers=b.headers).json()["data"][0]
    imported = upload(client, b, camt053([Entry(777, name="Unknown", text="?")])).json()
    only_b = invoice_body("B-2", payer={**invoice_body()["payer"], "ref": "B-ONLY"})  # type: ignore[dict-item]
    assert client.post("/v1/invoices", json=only_b, headers=b.headers).is_success
    policy = client.post("/v1/policies", json=BODIES["PolicyIn"], headers=b.headers).json()
    campaign = client.post("/v1/campaigns", json=BODIES["CampaignIn"], headers=b.headers).json()
    assert "id" in campaign, campaign
    with container.engine.connect() as conn:
        delivery_id = conn.execute(
            jobs.select().with_only_columns(jobs.c.id).where(jobs.c.issuer_id == b.id).limit(1)
        ).scalar_one()
    b_ids = {
        "invoice_id": invoice["id"],
        "link_id": link["id"],
        "event_id": event["id"],
        "endpoint_id": endpoint_id,
        "delivery_id": delivery_id,
        "statement_id": imported["statements"][0]["id"],
        "item_id": imported["suspense_items"][0]["id"],
        "payment_id": payment["id"],
        "policy_id": policy["id"],
        "payer_ref": "B-ONLY",
        "payout_id": add_payout(container, b, payment),
        "campaign_id": campaign["id"],
    }
    return World(a, b, b_ids, invoice["id"])


def build_path(path: str, ids: dict[str, str]) -> str:
    values = {**NOT_IDS, **ids}
    unknown = [p for p in path_params(path) if p not in values]
    assert not unknown, (
        f"{path} has path parameter(s) {unknown} this test does not know: add issuer B's id "
        "for it to the world fixture (or its value to NOT_IDS)"
    )
    return re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: values[m.group(1)], path)


def send(
    client: TestClient, method: str, path: str, route: APIRoute, headers: dict[str, str]
) -> Any:
    body = body_for(route)
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "route"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES]
)
def test_another_issuers_id_answers_404_and_changes_nothing(
    method: str,
    path: str,
    route: APIRoute,
    world: World,
    container: Container,
    client: TestClient,
) -> None:
    url = build_path(path, world.b_ids)
    invoice_url = f"/v1/invoices/{world.b_invoice_id}"
    b_invoice = client.get(invoice_url, headers=world.b.headers).json()
    before = table_contents(container.engine)

    r = send(client, method, url, route, world.a.headers)

    assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text}"
    error = r.json()["error"]
    assert error["code"].endswith("not_found")
    assert set(error) >= {"type", "code", "message"}
    assert table_contents(container.engine) == before
    assert client.get(invoice_url, headers=world.b.headers).json() == b_invoice

    # the same request by B reaches the resource: the 404 above was not a mistyped path
    mine = send(client, method, url, route, world.b.headers)
    assert mine.status_code != 404, f"{method} {url} as its owner: {mine.text}"
    assert mine.status_code < 500


def test_the_isolation_test_covers_every_id_route() -> None:
    assert ID_ROUTES, "no issuer API route with an id found: the introspection broke"
    named = {p for _, path, _ in ID_ROUTES for p in path_params(path)}
    assert {"invoice_id", "link_id", "event_id"} <= named


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer pd_not-a-key-of-anyone", "Basic dXNlcjpwYXNz", "Bearer "],
    ids=["no key", "wrong key", "other scheme", "empty key"],
)
def test_without_a_valid_api_key_every_route_answers_401_and_changes_nothing(
    authorization: str | None, world: World, container: Container, client: TestClient
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    before = table_contents(container.engine)
    for method, path, route in ROUTES:
        url = build_path(path, world.b_ids)
        r = send(client, method, url, route, headers)
        assert r.status_code == 401, f"{method} {url}: {r.status_code} {r.text}"
        assert r.json()["error"]["code"] in {"missing_api_key", "invalid_api_key"}
    assert table_contents(container.engine) == before


def test_another_issuers_invoices_and_events_are_not_listed(
    world: World, client: TestClient
) -> None:
    listed = client.get("/v1/invoices", headers=world.a.headers).json()["data"]
    assert [i["number"] for i in listed] == ["A-1"]
    events = client.get("/v1/events", headers=world.a.headers).json()["data"]
    assert {e["data"].get("number") for e in events if e["type"] == "invoice.created"} == {"A-1"}
    assert world.b_invoice_id not in {e["data"].get("id") for e in events}


@pytest.mark.parametrize("other", ["delivery_id", "event_id"])
def test_a_replay_to_ones_own_endpoint_cannot_fetch_another_issuers_event(
    other: str, world: World, container: Container, client: TestClient
) -> None:
    mine = add_endpoint(container, world.a)
    before = table_contents(container.engine)
    path = f"/v1/webhook-endpoints/{mine}/deliveries/{world.b_ids[other]}/replay"
    r = client.post(path, headers=world.a.headers)
    assert r.status_code == 404, r.text
    assert table_contents(container.engine) == before
    own_event = client.get("/v1/events", headers=world.a.headers).json()["data"][0]["id"]
    own = client.post(
        f"/v1/webhook-endpoints/{mine}/deliveries/{own_event}/replay", headers=world.a.headers
    )
    assert own.status_code != 404, "the replay route itself was not found"

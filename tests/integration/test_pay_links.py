"""Pay links: limits that hold under concurrency, secrets shown once and stored only as hashes."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydue.adapters.clock import SimulatedClock
from paydue.adapters.db.tables import pay_links
from paydue.bootstrap import Container
from paydue.domain.paylinks import MAX_TAN_ATTEMPTS
from paydue.web.app import create_app
from paydue.web.pay.security import CSRF_COOKIE, csrf_field
from tests.conftest import TEST_SECRET, IssuerHandle, LiveServer, invoice_body, new_issuer
from tests.integration.helpers import count, send_concurrently
from tests.payflow import CSRF_COOKIE_VALUE, csrf_form

TOKEN = re.compile(r"[A-Za-z0-9_-]+")
CONCURRENT_OPENS = 50
CONCURRENT_TANS = 20


def create_invoice(client: TestClient, issuer: IssuerHandle, number: str = "INV-1") -> Any:
    r = client.post("/v1/invoices", json=invoice_body(number), headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def create_link(
    client: TestClient, issuer: IssuerHandle, invoice_id: str, **limits: Any
) -> dict[str, Any]:
    r = client.post(f"/v1/invoices/{invoice_id}/pay-links", json=limits, headers=issuer.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def token_of(url: str) -> str:
    return url.rsplit("/p/", 1)[1]


def link_state(client: TestClient, issuer: IssuerHandle, link_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/pay-links/{link_id}", headers=issuer.headers)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def stored_link(container: Container, link_id: str) -> dict[str, Any]:
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(pay_links).where(pay_links.c.id == link_id)).one()
    return dict(row._mapping)


@pytest.fixture
def invoice(client: TestClient, issuer: IssuerHandle) -> Any:
    return create_invoice(client, issuer)


def test_the_url_and_tan_are_shown_once_at_creation(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(
        client,
        issuer,
        invoice["id"],
        max_opens=3,
        expires_in_hours=48,
        require_tan=True,
        channel="sms",
    )
    assert link["url"].startswith("http://testserver/p/")
    assert re.fullmatch(r"\d{6}", link["tan"])
    assert (link["max_opens"], link["opens"], link["channel"]) == (3, 0, "sms")
    assert link["require_tan"] is True
    assert link["revoked"] is False
    again = link_state(client, issuer, link["id"])
    assert "url" not in again
    assert "tan" not in again
    listed = client.get(f"/v1/invoices/{invoice['id']}/pay-links", headers=issuer.headers).json()
    extra = [item for item in listed["data"] if item["id"] == link["id"]]
    assert extra == [again]
    token = token_of(link["url"])
    assert token not in str(listed)
    assert token not in str(client.get("/v1/events", headers=issuer.headers).json())


def test_only_hashes_of_the_token_and_tan_are_stored(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], require_tan=True)
    token, tan = token_of(link["url"]), link["tan"]
    row = stored_link(container, link["id"])
    for column, value in row.items():
        assert token not in str(value), f"the token is stored in pay_links.{column}"
        assert str(value) != tan, f"the TAN is stored in pay_links.{column}"
        if column not in {"id", "issuer_id", "invoice_id"}:
            assert tan not in str(value), f"the TAN is stored in pay_links.{column}"
    assert re.fullmatch(r"[0-9a-f]{64}", row["token_hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", row["tan_hash"])
    # the events carry no secret either
    with container.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM events")))
    assert token not in stored
    assert f'"{tan}"' not in stored


def test_tokens_carry_at_least_128_random_bits(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    tokens = [token_of(create_link(client, issuer, invoice["id"])["url"]) for _ in range(20)]
    tokens.append(token_of(invoice["pay_url"]))
    tokens.append(invoice["badge_url"].rsplit("/b/", 1)[1].removesuffix(".svg"))
    for token in tokens:
        assert TOKEN.fullmatch(token), token
        assert len(token) * 6 >= 128, f"{token!r} carries fewer than 128 bits"
    assert len(set(tokens)) == len(tokens)


def test_opening_a_link_counts_each_open(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], max_opens=5)
    path = f"/p/{token_of(link['url'])}?lang=en"
    for expected in (1, 2, 3):
        r = client.get(path)
        assert r.status_code == 200
        assert invoice["number"] in r.text
        assert r.headers["cache-control"] == "no-store"
        assert link_state(client, issuer, link["id"])["opens"] == expected


def test_a_link_at_its_limit_is_refused_and_not_counted(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], max_opens=2)
    path = f"/p/{token_of(link['url'])}?lang=en"
    assert [client.get(path).status_code for _ in range(4)] == [200, 200, 410, 410]
    assert "opened too often" in client.get(path).text
    assert link_state(client, issuer, link["id"])["opens"] == 2


def test_an_unknown_token_is_not_found(client: TestClient) -> None:
    assert client.get("/p/" + "A" * 32).status_code == 404


def test_fifty_concurrent_opens_at_the_limit_let_exactly_one_through(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    limit = 3
    link = create_link(client, issuer, invoice["id"], max_opens=limit)
    path = f"/p/{token_of(link['url'])}?lang=en"
    for _ in range(limit - 1):
        assert client.get(path).status_code == 200

    with LiveServer(container) as server:
        responses = send_concurrently([("GET", server.url + path, {})] * CONCURRENT_OPENS)

    assert Counter(r.status_code for r in responses) == {200: 1, 410: CONCURRENT_OPENS - 1}
    assert link_state(client, issuer, link["id"])["opens"] == limit


def test_an_expired_link_shows_the_expiry_page(
    simulated: tuple[Container, SimulatedClock],
) -> None:
    container, clock = simulated
    issuer = new_issuer(container)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        invoice = create_invoice(client, issuer)
        link = create_link(client, issuer, invoice["id"], expires_in_hours=2)
        assert link["expires_at"] == (clock.now() + timedelta(hours=2)).isoformat()
        path = f"/p/{token_of(link['url'])}?lang=en"
        assert client.get(path).status_code == 200
        clock.advance(timedelta(hours=2) - timedelta(seconds=1))
        assert client.get(path).status_code == 200
        clock.advance(timedelta(seconds=1))
        r = client.get(path)
        assert r.status_code == 410
        assert "expired" in r.text
        assert invoice["number"] not in r.text
        assert link_state(client, issuer, link["id"])["opens"] == 2


def test_a_revoked_link_is_refused_and_revoking_again_changes_nothing(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"])
    path = f"/p/{token_of(link['url'])}?lang=en"
    assert client.get(path).status_code == 200
    first = client.post(f"/v1/pay-links/{link['id']}/revoke", headers=issuer.headers)
    assert first.status_code == 200
    assert first.json()["revoked"] is True
    again = client.post(f"/v1/pay-links/{link['id']}/revoke", headers=issuer.headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert count(container.engine, "events", type="pay_link.revoked") == 1
    r = client.get(path)
    assert r.status_code == 410
    assert "withdrawn" in r.text
    # the invoice's own link is not affected
    assert client.get(f"/p/{token_of(invoice['pay_url'])}").status_code == 200


def test_another_issuer_cannot_revoke_a_link(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"])
    r = client.post(f"/v1/pay-links/{link['id']}/revoke", headers=other_issuer.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "pay_link_not_found"
    assert link_state(client, issuer, link["id"])["revoked"] is False
    assert client.get(f"/p/{token_of(link['url'])}").status_code == 200


def submit_tan(client: TestClient, token: str, tan: str) -> Any:
    return client.post(f"/p/{token}/tan?lang=en", data={"tan": tan, "csrf": csrf_form(client)})


def wrong(tan: str) -> str:
    return f"{(int(tan) + 1) % 1_000_000:06d}"


def test_the_right_tan_shows_the_page_and_counts_the_open(
    client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], require_tan=True, max_opens=3)
    token = token_of(link["url"])
    form = client.get(f"/p/{token}")
    assert form.status_code == 200
    assert 'name="tan"' in form.text
    assert invoice["number"] not in form.text, "nothing about the invoice before the TAN"
    assert link_state(client, issuer, link["id"])["opens"] == 0
    r = submit_tan(client, token, link["tan"])
    assert r.status_code == 200
    assert invoice["number"] in r.text
    assert link_state(client, issuer, link["id"])["opens"] == 1


def test_five_wrong_tans_lock_the_link_even_for_the_right_tan(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], require_tan=True)
    token, tan = token_of(link["url"]), link["tan"]
    for attempt in range(1, MAX_TAN_ATTEMPTS):
        r = submit_tan(client, token, wrong(tan))
        assert r.status_code == 401
        left = MAX_TAN_ATTEMPTS - attempt
        assert f"{left} {'try' if left == 1 else 'tries'} left" in r.text
    fifth = submit_tan(client, token, wrong(tan))
    assert fifth.status_code == 410
    assert "locked" in fifth.text
    sixth = submit_tan(client, token, tan)
    assert sixth.status_code == 410
    assert invoice["number"] not in sixth.text
    assert client.get(f"/p/{token}").status_code == 410
    assert stored_link(container, link["id"])["tan_failures"] == MAX_TAN_ATTEMPTS


def test_a_right_tan_does_not_use_up_a_try(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], require_tan=True)
    token, tan = token_of(link["url"]), link["tan"]
    assert submit_tan(client, token, wrong(tan)).status_code == 401
    for _ in range(MAX_TAN_ATTEMPTS + 1):
        assert submit_tan(client, token, tan).status_code == 200
    assert stored_link(container, link["id"])["tan_failures"] == 1


def test_concurrent_wrong_tans_never_make_more_than_five_tries(
    container: Container, client: TestClient, issuer: IssuerHandle, invoice: Any
) -> None:
    link = create_link(client, issuer, invoice["id"], require_tan=True)
    token, tan = token_of(link["url"]), link["tan"]
    guess = {
        "data": {"tan": wrong(tan), "csrf": csrf_field(TEST_SECRET.encode(), CSRF_COOKIE_VALUE)},
        "headers": {"cookie": f"{CSRF_COOKIE}={CSRF_COOKIE_VALUE}"},
    }
    with LiveServer(container) as server:
        responses = send_concurrently(
            [("POST", f"{server.url}/p/{token}/tan", guess)] * CONCURRENT_TANS
        )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {401, 410}
    assert statuses[401] <= MAX_TAN_ATTEMPTS - 1, "more wrong tries were let in than allowed"
    assert stored_link(container, link["id"])["tan_failures"] == MAX_TAN_ATTEMPTS
    assert submit_tan(client, token, tan).status_code == 410


def test_a_pay_link_for_another_issuers_invoice_cannot_be_made(
    container: Container, client: TestClient, other_issuer: IssuerHandle, invoice: Any
) -> None:
    r = client.post(
        f"/v1/invoices/{invoice['id']}/pay-links", json={}, headers=other_issuer.headers
    )
    assert r.status_code == 404
    assert count(container.engine, "pay_links") == 1  # the invoice's own link only

"""The back office under /admin: log in with the API key, work the suspense queue through forms
(assign with a split, resolve, undo), every form CSRF-checked and every action audited."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from paydue.services.ids import hash_token
from paydue.web.admin.session import SESSION_COOKIE, Session, encode
from tests.conftest import TEST_SECRET, IssuerHandle
from tests.integration.helpers import table_contents
from tests.integration.statement_files import Entry, camt053, create_invoices, upload
from tests.payflow import csrf_of

UNKNOWN = Entry(8000, text="Zahlung", name="K. Unbekannt", iban="NL91ABNA0417164300")


def login(client: TestClient, issuer: IssuerHandle) -> Any:
    page = client.get("/admin/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/admin/login",
        data={"api_key": issuer.api_key, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )


@pytest.fixture
def queued(client: TestClient, issuer: IssuerHandle) -> tuple[dict[str, Any], list[Any]]:
    """An open suspense item of 80.00 and two open invoices of 50.00 and 30.00."""
    invoices = create_invoices(client, issuer, [5000, 3000])
    [item] = upload(client, issuer, camt053([UNKNOWN])).json()["suspense_items"]
    return item, invoices


def item_state(client: TestClient, issuer: IssuerHandle, item_id: str) -> Any:
    return client.get(f"/v1/suspense/{item_id}", headers=issuer.headers).json()


def test_without_a_session_every_page_sends_the_browser_to_the_login(
    client: TestClient, container: Container, queued: tuple[dict[str, Any], list[Any]]
) -> None:
    item, _ = queued
    before = table_contents(container.engine)
    for method, path in [
        ("GET", "/admin"),
        ("GET", "/admin/suspense"),
        ("GET", f"/admin/suspense/{item['id']}"),
        ("POST", f"/admin/suspense/{item['id']}/resolve"),
        ("POST", f"/admin/suspense/{item['id']}/undo"),
    ]:
        r = client.request(method, path, follow_redirects=False)
        assert r.status_code == 303, f"{method} {path}: {r.status_code}"
        assert r.headers["location"] in ("/admin/login", "/admin/suspense"), path
    r = client.get("/admin/suspense", follow_redirects=False)
    assert r.headers["location"] == "/admin/login"
    assert table_contents(container.engine) == before


def test_logging_in_sets_a_strict_http_only_signed_session(
    client: TestClient, issuer: IssuerHandle
) -> None:
    r = login(client, issuer)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/admin/suspense"
    cookie = next(v for k, v in r.headers.multi_items() if v.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    assert issuer.api_key not in cookie, "the key itself is never in the cookie"
    page = client.get("/admin/suspense")
    assert page.status_code == 200
    assert "Suspense queue" in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text


def test_a_wrong_key_or_a_missing_csrf_field_does_not_log_in(
    client: TestClient, issuer: IssuerHandle
) -> None:
    page = client.get("/admin/login")
    wrong = client.post(
        "/admin/login",
        data={"api_key": "pd_not-a-key", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    assert "not valid" in wrong.text
    no_csrf = client.post("/admin/login", data={"api_key": issuer.api_key}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 303


def test_an_altered_or_expired_session_is_refused(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    assert login(client, issuer).status_code == 303
    value = client.cookies[SESSION_COOKIE]
    issuer_id, key_id, expires, mac = value.split(".")
    client.cookies.set(SESSION_COOKIE, f"{issuer_id}.{key_id}.{int(expires) + 3600}.{mac}")
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 303
    past = int((container.clock.now() - timedelta(seconds=1)).timestamp())
    expired = encode(TEST_SECRET.encode(), Session(issuer_id, key_id, past))
    client.cookies.set(SESSION_COOKIE, expired)
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 303
    valid = encode(TEST_SECRET.encode(), Session(issuer_id, key_id, past + 3600))
    client.cookies.set(SESSION_COOKIE, valid)
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 200


def test_the_queue_lists_open_items_with_their_suggestions(
    client: TestClient, issuer: IssuerHandle, queued: tuple[dict[str, Any], list[Any]]
) -> None:
    item, _ = queued
    assert login(client, issuer).status_code == 303
    page = client.get("/admin/suspense")
    assert item["id"] in page.text
    assert "80.00 EUR" in page.text
    assert "K. Unbekannt" in page.text
    detail = client.get(f"/admin/suspense/{item['id']}")
    assert detail.status_code == 200
    assert 'name="invoice_id"' in detail.text
    assert csrf_of(detail.text)
    assert client.get("/admin/suspense?status=assigned").text.count("Work on this item") == 0


def test_assigning_with_a_split_books_the_invoices_and_undo_takes_it_back(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    queued: tuple[dict[str, Any], list[Any]],
) -> None:
    item, (a, b) = queued
    assert login(client, issuer).status_code == 303
    page = client.get(f"/admin/suspense/{item['id']}")

    r = client.post(
        f"/admin/suspense/{item['id']}/assign",
        data={
            "invoice_id": [a["id"], b["id"], ""],
            "amount": ["50.00", "30,00", ""],
            "note": "called the payer",
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/admin/suspense/{item['id']}?done=assign"
    state = item_state(client, issuer, item["id"])
    assert state["status"] == "assigned"
    [audit] = state["audit"]
    assert audit["action"] == "assign"
    with container.uow(readonly=True) as uow:  # the key that logged in acted
        assert audit["actor"] == uow.issuers.api_key_id(issuer.id, hash_token(issuer.api_key))
    assert audit["details"]["allocations"] == [
        {"invoice_id": a["id"], "amount": 5000},
        {"invoice_id": b["id"], "amount": 3000},
    ]
    for invoice in (a, b):
        got = client.get(f"/v1/invoices/{invoice['id']}", headers=issuer.headers).json()
        assert got["status"] == "paid"
    shown = client.get(r.headers["location"])
    assert "The credit was booked on the invoices." in shown.text
    assert "Undo" in shown.text

    undone = client.post(
        f"/admin/suspense/{item['id']}/undo",
        data={"note": "wrong payer", "csrf": csrf_of(shown.text)},
        follow_redirects=False,
    )

    assert undone.status_code == 303, undone.text
    state = item_state(client, issuer, item["id"])
    assert state["status"] == "open"
    assert [x["action"] for x in state["audit"]] == ["assign", "undo"]
    assert state["audit"][1]["actor"] == audit["actor"]
    got = client.get(f"/v1/invoices/{a['id']}", headers=issuer.headers).json()
    assert got["status"] == "open"


def test_resolving_as_other_income_is_audited(
    client: TestClient, issuer: IssuerHandle, queued: tuple[dict[str, Any], list[Any]]
) -> None:
    item, _ = queued
    assert login(client, issuer).status_code == 303
    page = client.get(f"/admin/suspense/{item['id']}")
    r = client.post(
        f"/admin/suspense/{item['id']}/resolve",
        data={"status": "other_income", "note": "interest", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    state = item_state(client, issuer, item["id"])
    assert (state["status"], state["note"]) == ("other_income", "interest")
    assert state["audit"][0]["details"] == {"status": "other_income", "note": "interest"}


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        ({"invoice_id": ["X"], "amount": ["80.00"]}, 404, "no invoice"),
        ({"invoice_id": ["A"], "amount": ["79.99"]}, 422, "add up to"),
        ({"invoice_id": ["A"], "amount": ["eighty"]}, 422, "row 1"),
        ({"invoice_id": ["A"], "amount": ["80.001"]}, 422, "decimal places"),
        ({"invoice_id": ["A", ""], "amount": ["50.00", "30.00"]}, 422, "row 2"),
    ],
)
def test_a_bad_assignment_is_refused_on_the_page_and_changes_nothing(
    data: dict[str, list[str]],
    status: int,
    says: str,
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    queued: tuple[dict[str, Any], list[Any]],
) -> None:
    item, (a, _) = queued
    assert login(client, issuer).status_code == 303
    page = client.get(f"/admin/suspense/{item['id']}")
    ids = [a["id"] if i == "A" else ("inv_unknown" if i == "X" else i) for i in data["invoice_id"]]
    before = table_contents(container.engine)
    r = client.post(
        f"/admin/suspense/{item['id']}/assign",
        data={"invoice_id": ids, "amount": data["amount"], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    if status == 404:  # an unknown invoice is named on the item's page
        assert r.status_code == 404, r.text
    else:
        assert r.status_code == status, r.text
    assert says in r.text
    assert table_contents(container.engine) == before


def test_a_form_without_the_right_csrf_field_is_refused(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    queued: tuple[dict[str, Any], list[Any]],
) -> None:
    item, _ = queued
    assert login(client, issuer).status_code == 303
    client.get(f"/admin/suspense/{item['id']}")
    before = table_contents(container.engine)
    for csrf in (None, "0" * 64):
        data: dict[str, Any] = {"status": "other_income"}
        if csrf is not None:
            data["csrf"] = csrf
        r = client.post(f"/admin/suspense/{item['id']}/resolve", data=data, follow_redirects=False)
        assert r.status_code == 403, r.text
    assert table_contents(container.engine) == before
    assert item_state(client, issuer, item["id"])["status"] == "open"


def test_another_issuers_item_is_not_found(
    client: TestClient,
    container: Container,
    issuer: IssuerHandle,
    other_issuer: IssuerHandle,
    queued: tuple[dict[str, Any], list[Any]],
) -> None:
    item, _ = queued
    assert login(client, other_issuer).status_code == 303
    assert item["id"] not in client.get("/admin/suspense").text
    page = client.get(f"/admin/suspense/{item['id']}")
    assert page.status_code == 404
    before = table_contents(container.engine)
    for action, data in [
        ("resolve", {"status": "other_income"}),
        ("undo", {}),
        ("assign", {"invoice_id": ["inv_x"], "amount": ["80.00"]}),
    ]:
        r = client.post(
            f"/admin/suspense/{item['id']}/{action}",
            data={**data, "csrf": csrf_of(client.get("/admin/login").text)},
            follow_redirects=False,
        )
        assert r.status_code == 404, f"{action}: {r.status_code} {r.text}"
    assert table_contents(container.engine) == before
    assert item_state(client, issuer, item["id"])["status"] == "open"


def test_logging_out_ends_the_session(client: TestClient, issuer: IssuerHandle) -> None:
    assert login(client, issuer).status_code == 303
    page = client.get("/admin/suspense")
    r = client.post("/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/login"
    assert re.search(rf'{SESSION_COOKIE}=""?;', r.headers["set-cookie"])
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_its_sessions(
    client: TestClient, container: Container, issuer: IssuerHandle
) -> None:
    assert login(client, issuer).status_code == 303
    with container.uow() as uow:
        uow.issuers.revoke_api_keys(issuer.id, uow.now())
        uow.commit()
    assert client.get("/admin/suspense", follow_redirects=False).status_code == 303

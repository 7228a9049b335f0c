"""Bad input gets a clear 4xx whose message names the problem, and changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from tests.conftest import IssuerHandle, invoice_body
from tests.integration.helpers import table_contents


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error object of ``response``, after checking its status and the shape of the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"type", "code", "message", "details"}
    assert {"type", "code", "message"} <= set(error)
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str)
    assert error["message"]
    return error  # type: ignore[no-any-return]


@pytest.fixture
def unchanged(container: Container) -> Iterator[None]:
    """Fails the test when anything was written to the database during it."""
    before = table_contents(container.engine)
    yield
    assert table_contents(container.engine) == before, "a refused request changed the database"


@pytest.fixture
def existing(client: TestClient, issuer: IssuerHandle) -> dict[str, Any]:
    """An invoice that exists before the bad request (created before ``unchanged`` looks)."""
    r = client.post(
        "/v1/invoices", json=invoice_body("EXISTING", amount=10000), headers=issuer.headers
    )
    assert r.status_code == 201
    return r.json()  # type: ignore[no-any-return]


def payer(**changes: Any) -> dict[str, Any]:
    return {**invoice_body()["payer"], **changes}  # type: ignore[dict-item]


def without(field: str) -> dict[str, Any]:
    body = invoice_body()
    del body[field]
    return body


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        pytest.param(
            invoice_body(currency="EURO"), "currency", "pattern", id="four-letter currency"
        ),
        pytest.param(invoice_body(currency="XXY"), "currency", "ISO 4217", id="unknown currency"),
        pytest.param(invoice_body(currency="eur"), "currency", "pattern", id="lower-case currency"),
        pytest.param(invoice_body(amount=-100), "amount", "greater than 0", id="negative amount"),
        pytest.param(invoice_body(amount=0), "amount", "greater than 0", id="zero amount"),
        pytest.param(invoice_body(amount=123.45), "amount", "integer", id="float amount"),
        pytest.param(invoice_body(amount="100"), "amount", "integer", id="amount as string"),
        pytest.param(invoice_body(amount=10**16), "amount", "less than", id="huge amount"),
        pytest.param(invoice_body(colour="red"), "colour", "unknown field", id="unknown field"),
        pytest.param(
            invoice_body(payer=payer(nickname="E")),
            "payer.nickname",
            "unknown field",
            id="unknown payer field",
        ),
        pytest.param(without("due_date"), "due_date", "required", id="missing due date"),
        pytest.param(without("payer"), "payer", "required", id="missing payer"),
        pytest.param(
            invoice_body(issue_date="2026-11-01", due_date="2026-10-31"),
            "due_date",
            "before issue_date",
            id="due before issue",
        ),
        pytest.param(invoice_body(due_date="2026-02-30"), "due_date", "date", id="impossible date"),
        pytest.param(
            invoice_body(payer=payer(email="erika.example.org")),
            "payer.email",
            "email",
            id="invalid email",
        ),
        pytest.param(
            invoice_body(payer=payer(timezone="Europe/Atlantis")),
            "payer.timezone",
            "Europe/Atlantis",
            id="bad timezone",
        ),
        pytest.param(invoice_body(number=""), "number", "at least 1", id="empty number"),
    ],
)
def test_an_invalid_invoice_is_refused_with_a_message_naming_the_field(
    body: dict[str, Any],
    field: str,
    words: str,
    client: TestClient,
    issuer: IssuerHandle,
    unchanged: None,
) -> None:
    error = error_of(client.post("/v1/invoices", json=body, headers=issuer.headers), 422)
    assert field in error["message"]
    assert words.lower() in error["message"].lower()
    assert any(
        d["field"] == field.rsplit(".", 1)[-1] or d["field"] == field for d in error["details"]
    )


@pytest.mark.parametrize(
    ("path", "content", "position"),
    [
        ("/v1/invoices", b'{"number": "INV-1",', 19),
        ("/v1/invoices", b'{"number": "INV-1" "amount": 5}', 19),
        ("/v1/invoices", b"{'number': 'INV-1'}", 1),
        ("/v1/invoices", b"not json at all", 0),
        ("/v1/invoices/batch", b'{"invoices": [{"number": "INV-1",', 33),
        ("/v1/invoices/batch", b'{"invoices": [] "x": 1}', 16),
        ("/v1/invoices/batch", b"{'invoices': []}", 1),
        ("/v1/invoices/batch", b"not json at all", 0),
    ],
)
def test_malformed_json_is_a_400_naming_the_position(
    path: str,
    content: bytes,
    position: int,
    client: TestClient,
    issuer: IssuerHandle,
    unchanged: None,
) -> None:
    headers = {**issuer.headers, "Content-Type": "application/json"}
    error = error_of(client.post(path, content=content, headers=headers), 400)
    assert error["code"] == "malformed_json"
    assert f"position {position}" in error["message"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"", "application/json"), (b'{"invoices": []}', "text/plain"), (b"{}", None)],
    ids=["empty body", "not sent as JSON", "no content type"],
)
def test_a_batch_body_that_is_missing_or_not_json_is_refused_like_a_single_invoice(
    content: bytes,
    content_type: str | None,
    client: TestClient,
    issuer: IssuerHandle,
    unchanged: None,
) -> None:
    headers = {**issuer.headers, **({"Content-Type": content_type} if content_type else {})}
    single = error_of(client.post("/v1/invoices", content=content, headers=headers), 422)
    batch = error_of(client.post("/v1/invoices/batch", content=content, headers=headers), 422)
    assert [d["field"] for d in batch["details"]] == [d["field"] for d in single["details"]]
    assert batch["code"] == single["code"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"payer": payer(email="erika.example.org")}, "payer.email", "email"),
        ({"payer": payer(nickname="E")}, "payer.nickname", "unknown field"),
        ({"amount": 12.5}, "amount", "integer"),
        ({"due_date": "2026-02-30"}, "due_date", "date"),
    ],
)
def test_a_schema_error_in_a_batch_names_the_item_and_field(
    change: dict[str, Any],
    field: str,
    words: str,
    client: TestClient,
    issuer: IssuerHandle,
    unchanged: None,
) -> None:
    items = [invoice_body(f"B-{i}") for i in range(4)]
    items[2] = {**items[2], **change}
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    error = error_of(r, 422)
    assert f"item 2: {field}" in error["message"]
    assert words in error["message"].lower()
    assert [(d["index"], d["field"]) for d in error["details"]] == [(2, field)]


def test_a_batch_above_the_limit_is_refused_naming_the_limit(
    client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    item = {k: v for k, v in invoice_body().items() if k != "description"}
    item["payer"] = {"ref": "C-1", "name": "Erika Mustermann"}
    items = [{**item, "number": f"N-{i}"} for i in range(10_001)]
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    error = error_of(r, 422)
    assert "10000" in error["message"].replace(",", "")
    assert "invoices" in error["message"]


def test_an_empty_batch_is_refused(
    client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    error = error_of(
        client.post("/v1/invoices/batch", json={"invoices": []}, headers=issuer.headers), 422
    )
    assert "invoices" in error["message"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (invoice_body("B-3", amount=-1), "amount"),  # refused by the schema
        (invoice_body("B-3", currency="XXY"), "currency"),  # refused by the service
        (invoice_body("B-3", issue_date="2026-12-02"), "due_date"),
    ],
    ids=["schema error", "currency error", "date error"],
)
def test_one_bad_item_refuses_the_whole_batch_and_names_its_index(
    bad: dict[str, Any], field: str, client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    items = [invoice_body(f"B-{i}") for i in range(5)]
    items[3] = bad
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    error = error_of(r, 422)
    assert "item 3" in error["message"]
    assert field in error["message"]
    assert [(d["index"], d["field"]) for d in error["details"]] == [(3, field)]


def test_numbers_repeated_within_a_batch_are_a_conflict_naming_both_items(
    client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    items = [invoice_body(f"B-{i}") for i in range(5)]
    items[4] = invoice_body("B-1")
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    error = error_of(r, 409)
    assert error["code"] == "duplicate_number"
    assert "B-1" in error["message"]
    [detail] = error["details"]
    assert (detail["index"], detail["field"], detail["code"]) == (4, "number", "duplicate")
    assert "item 1" in detail["message"]


def test_a_number_that_exists_already_is_a_conflict_for_a_batch_and_a_single_invoice(
    existing: dict[str, Any], client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    items = [invoice_body("NEW-1"), invoice_body("EXISTING"), invoice_body("NEW-2")]
    r = client.post("/v1/invoices/batch", json={"invoices": items}, headers=issuer.headers)
    error = error_of(r, 409)
    assert error["code"] == "duplicate_number"
    assert [(d["index"], d["code"]) for d in error["details"]] == [(1, "duplicate")]
    assert "EXISTING" in error["details"][0]["message"]
    r = client.post("/v1/invoices", json=invoice_body("EXISTING"), headers=issuer.headers)
    assert error_of(r, 409)["code"] == "duplicate_number"


def test_an_external_payment_in_another_currency_is_refused(
    existing: dict[str, Any], client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    r = client.post(
        f"/v1/invoices/{existing['id']}/external-payments",
        json={"amount": 100, "currency": "USD", "date": "2026-11-20"},
        headers=issuer.headers,
    )
    error = error_of(r, 422)
    assert error["code"] == "currency_mismatch"
    assert "USD" in error["message"]
    assert "EUR" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "date": "2026-11-20"}, "amount"),
        ({"amount": 1.5, "date": "2026-11-20"}, "amount"),
        ({"amount": 100}, "date"),
        ({"amount": 100, "date": "2026-11-20", "method": "cash"}, "method"),
    ],
)
def test_an_invalid_external_payment_is_refused(
    body: dict[str, Any],
    field: str,
    existing: dict[str, Any],
    client: TestClient,
    issuer: IssuerHandle,
    unchanged: None,
) -> None:
    r = client.post(
        f"/v1/invoices/{existing['id']}/external-payments", json=body, headers=issuer.headers
    )
    assert field in error_of(r, 422)["message"]


def test_a_cancelled_invoice_takes_no_payment(
    existing: dict[str, Any], container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    assert client.post(f"/v1/invoices/{existing['id']}/cancel", headers=issuer.headers).is_success
    before = table_contents(container.engine)
    r = client.post(
        f"/v1/invoices/{existing['id']}/external-payments",
        json={"amount": 100, "date": "2026-11-20"},
        headers=issuer.headers,
    )
    error = error_of(r, 409)
    assert error["code"] == "invoice_cancelled"
    assert "cancelled" in error["message"]
    assert table_contents(container.engine) == before


def test_a_paid_invoice_cannot_be_cancelled(
    existing: dict[str, Any], container: Container, client: TestClient, issuer: IssuerHandle
) -> None:
    paid = client.post(
        f"/v1/invoices/{existing['id']}/external-payments",
        json={"amount": 10000, "date": "2026-11-20"},
        headers=issuer.headers,
    )
    assert paid.json()["invoice"]["status"] == "paid"
    before = table_contents(container.engine)
    error = error_of(
        client.post(f"/v1/invoices/{existing['id']}/cancel", headers=issuer.headers), 409
    )
    assert error["code"] == "invoice_not_cancellable"
    assert "paid" in error["message"]
    assert table_contents(container.engine) == before


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor", ["!!!", "not-a-cursor", "AAAA", b64("inv_x"), b64("' OR 1=1 --"), "%%%", ""]
)
def test_a_cursor_the_api_did_not_give_out_is_refused(
    cursor: str, existing: dict[str, Any], client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.get("/v1/invoices", params={"cursor": cursor}, headers=issuer.headers)
    error = error_of(r, 422)
    assert error["code"] == "invalid_cursor"
    assert "cursor" in error["message"]


def test_a_cursor_the_api_gave_out_pages_through_everything(
    client: TestClient, issuer: IssuerHandle
) -> None:
    batch = {"invoices": [invoice_body(f"P-{i}") for i in range(5)]}
    assert client.post("/v1/invoices/batch", json=batch, headers=issuer.headers).status_code == 201
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/v1/invoices", params=params, headers=issuer.headers).json()
        seen += [i["number"] for i in page["data"]]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == [f"P-{i}" for i in range(5)]


@pytest.mark.parametrize("status", ["unpaid", "PAID", "paid,open"])
def test_an_unknown_status_filter_is_refused_listing_the_valid_ones(
    status: str, client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.get("/v1/invoices", params={"status": status}, headers=issuer.headers)
    error = error_of(r, 422)
    assert status in error["message"]
    assert "partially_paid" in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"due_from": "soon"}, "due_from")],
)
def test_bad_list_parameters_are_refused(
    params: dict[str, Any], field: str, client: TestClient, issuer: IssuerHandle
) -> None:
    r = client.get("/v1/invoices", params=params, headers=issuer.headers)
    assert field in error_of(r, 422)["message"]


def test_an_error_body_is_json_with_a_stable_shape(
    client: TestClient, issuer: IssuerHandle, unchanged: None
) -> None:
    r = client.post("/v1/invoices", json=invoice_body(amount=-1), headers=issuer.headers)
    assert r.headers["content-type"].startswith("application/json")
    error = error_of(r, 422)
    assert error["code"] == "invalid_request"
    assert json.loads(r.text) == {"error": error}

"""The events feed: per issuer, ordered and gap-free, so a poller never misses an event."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient

from paydue.bootstrap import Container
from tests.conftest import IssuerHandle, LiveServer, invoice_body

WRITERS = 8
INVOICES_PER_WRITER = 4
EVENTS_PER_INVOICE = 3  # invoice.created, credit.received, invoice.partially_paid


def read_all(
    client: TestClient | httpx.Client, issuer: IssuerHandle, limit: int = 1000
) -> list[Any]:
    """The whole feed, page by page."""
    events: list[Any] = []
    after = 0
    while True:
        page = client.get(
            "/v1/events", params={"after": after, "limit": limit}, headers=issuer.headers
        ).json()
        events += page["data"]
        if not page["has_more"]:
            return events
        after = page["next_after"]


def make_history(client: TestClient, issuer: IssuerHandle, prefix: str) -> None:
    """A little of everything: invoices, payments, a cancellation, a pay link and its revocation."""
    ids = []
    for i in range(3):
        r = client.post(
            "/v1/invoices", json=invoice_body(f"{prefix}-{i}", amount=1000), headers=issuer.headers
        )
        ids.append(r.json()["id"])
    payment = {"amount": 400, "date": "2026-11-20"}
    client.post(f"/v1/invoices/{ids[0]}/external-payments", json=payment, headers=issuer.headers)
    client.post(f"/v1/invoices/{ids[1]}/cancel", headers=issuer.headers)
    link = client.post(f"/v1/invoices/{ids[2]}/pay-links", json={}, headers=issuer.headers).json()
    client.post(f"/v1/pay-links/{link['id']}/revoke", headers=issuer.headers)


def test_sequence_numbers_run_from_one_without_gaps(
    client: TestClient, issuer: IssuerHandle
) -> None:
    make_history(client, issuer, "S")
    events = read_all(client, issuer)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == [
        "invoice.created",
        "invoice.created",
        "invoice.created",
        "credit.received",
        "invoice.partially_paid",
        "invoice.cancelled",
        "pay_link.created",
        "pay_link.revoked",
    ]
    assert len({e["id"] for e in events}) == len(events)
    first = events[0]
    assert first["object"] == "event"
    assert first["data"]["number"] == "S-0"
    one = client.get(f"/v1/events/{first['id']}", headers=issuer.headers)
    assert one.json() == first


def test_paginating_with_after_loses_nothing(client: TestClient, issuer: IssuerHandle) -> None:
    make_history(client, issuer, "P")
    everything = read_all(client, issuer)
    for limit in (1, 2, 3, 7):
        assert read_all(client, issuer, limit=limit) == everything
    last = everything[-1]["sequence"]
    tail = client.get("/v1/events", params={"after": last}, headers=issuer.headers).json()
    assert (tail["data"], tail["next_after"], tail["has_more"]) == ([], last, False)
    middle = client.get(
        "/v1/events", params={"after": 3, "limit": 2}, headers=issuer.headers
    ).json()
    assert [e["sequence"] for e in middle["data"]] == [4, 5]
    assert (middle["next_after"], middle["has_more"]) == (5, True)


def test_an_issuer_never_sees_another_issuers_events(
    client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    make_history(client, issuer, "A")
    make_history(client, other_issuer, "B")
    mine, theirs = read_all(client, issuer), read_all(client, other_issuer)
    assert [e["sequence"] for e in mine] == list(range(1, len(mine) + 1))
    assert [e["sequence"] for e in theirs] == list(range(1, len(theirs) + 1))
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
    numbers = {e["data"].get("number") for e in mine} - {None}
    assert numbers == {"A-0", "A-1", "A-2"}
    r = client.get(f"/v1/events/{theirs[0]['id']}", headers=issuer.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "event_not_found"


def write(url: str, issuer: IssuerHandle, writer: int, start: threading.Barrier) -> None:
    with httpx.Client(base_url=url, headers=issuer.headers, timeout=120) as http:
        start.wait()
        for i in range(INVOICES_PER_WRITER):
            r = http.post("/v1/invoices", json=invoice_body(f"W{writer}-{i}", amount=1000))
            assert r.status_code == 201, r.text
            paid = http.post(
                f"/v1/invoices/{r.json()['id']}/external-payments",
                json={"amount": 100 + writer, "date": "2026-11-20"},
            )
            assert paid.status_code == 201, paid.text


def poll(url: str, issuer: IssuerHandle, writing: threading.Event, seen: list[Any]) -> None:
    """Poll as an issuer's billing system would: ``after`` the last sequence seen, small pages,
    until the writers are done and one more poll finds nothing new."""
    after = 0
    with httpx.Client(base_url=url, headers=issuer.headers, timeout=120) as http:
        while True:
            done = not writing.is_set()
            page = http.get("/v1/events", params={"after": after, "limit": 5}).json()
            seen += page["data"]
            after = page["next_after"]
            if done and not page["data"]:
                return


def test_concurrent_writers_give_a_gap_free_feed_and_a_poller_misses_nothing(
    container: Container, client: TestClient, issuer: IssuerHandle, other_issuer: IssuerHandle
) -> None:
    seen: list[Any] = []
    writing = threading.Event()
    writing.set()
    start = threading.Barrier(WRITERS)
    with LiveServer(container) as server, ThreadPoolExecutor(WRITERS + 2) as pool:
        poller = pool.submit(poll, server.url, issuer, writing, seen)
        noise = pool.submit(make_history, client, other_issuer, "N")  # another issuer writes too
        writers = [pool.submit(write, server.url, issuer, w, start) for w in range(WRITERS)]
        for writer in writers:
            writer.result()
        noise.result()
        writing.clear()
        poller.result()

    final = read_all(client, issuer)
    expected = WRITERS * INVOICES_PER_WRITER * EVENTS_PER_INVOICE
    assert [e["sequence"] for e in final] == list(range(1, expected + 1))
    assert len({e["id"] for e in final}) == expected
    assert [e["id"] for e in seen] == [e["id"] for e in final], (
        "the poller missed or repeated events"
    )
    for e in final:  # every invoice's events appear in causal order
        if e["type"] == "credit.received":
            created = next(x for x in final if x["data"].get("id") == e["data"]["invoice_id"])
            assert created["sequence"] < e["sequence"]

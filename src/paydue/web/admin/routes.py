"""The back office under ``/admin``: a person works the suspense queue in the browser.

Server-rendered pages with no script: the open suspense items with their suggestions, and for
each item forms to assign it to one or more invoices (a split), to resolve it as a refund to
send or other income, and to undo what was done. The forms call the same services as the API
(``services.suspense``), so every action is audited the same way, with the API key that logged
in as the actor.

Logging in takes the issuer's API key once; the browser then holds a signed session cookie
(``web/admin/session.py``). Every form carries the double-submit CSRF field of the payer pages
(``web/pay/security.py``), and every page answers with the same strict headers (no script, no
framing).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.bootstrap import Container
from paydue.domain.errors import DomainError, InvalidInput, NotFound
from paydue.domain.money import MoneyError, describe, parse_decimal
from paydue.services import suspense as svc
from paydue.services.ids import hash_token
from paydue.services.issuers import authenticate
from paydue.web.admin.session import (
    SESSION_COOKIE,
    Session,
    clear_session,
    decode,
    new_session,
    set_session,
)
from paydue.web.deps import ContainerDep
from paydue.web.pay.security import (
    check_csrf,
    csrf_cookie,
    csrf_field,
    page_headers,
    set_csrf_cookie,
)

router = APIRouter(prefix="/admin", tags=["back office"], include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
CSS = (Path(__file__).with_name("static") / "admin.css").read_bytes()
LOGIN = "/admin/login"
SPLIT_ROWS = 4  # invoice rows of the assign form
PAGE_SIZE = 100
DONE = {
    "assign": "The credit was booked on the invoices.",
    "resolve": "The item was resolved.",
    "undo": "The item is open again.",
}
STATUS_NAMES = {
    "open": "open",
    "assigned": "assigned",
    "refund_pending": "refund to send",
    "other_income": "other income",
}


def _secure(c: Container) -> bool:
    return c.settings.base_url.startswith("https")


class Page:
    """One back-office page being rendered: the CSRF field and the nonce."""

    def __init__(self, request: Request, c: Container, session: Session | None) -> None:
        self.request, self.c, self.session = request, c, session
        self.nonce = secrets.token_urlsafe(16)
        self.cookie = csrf_cookie(request)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(template).render(
            csrf=csrf_field(self.c.settings.secret_bytes, self.cookie),
            session=self.session,
            money=describe,
            status_names=STATUS_NAMES,
            **context,
        )
        response = HTMLResponse(html, status, headers=page_headers(self.nonce))
        set_csrf_cookie(response, self.cookie, secure=_secure(self.c))
        return response

    def error(self, exc: DomainError, **context: Any) -> HTMLResponse:
        title = "Not found" if exc.status == 404 else "Refused"
        return self.render("message.html", exc.status, title=title, message=exc.message, **context)


def _to_login() -> RedirectResponse:
    return RedirectResponse(LOGIN, status_code=303)


def _session(request: Request, c: Container) -> tuple[Session, Issuer] | None:
    """The logged-in issuer: a valid, unexpired session whose API key is still active."""
    session = decode(c.settings.secret_bytes, request.cookies.get(SESSION_COOKIE), c.clock.now())
    if session is None:
        return None
    with c.uow(readonly=True) as uow:
        if not uow.issuers.api_key_active(session.issuer_id, session.key_id):
            return None
        issuer = uow.issuers.get(session.issuer_id)
    return (session, issuer) if issuer is not None else None


@router.get("/admin.css")
def stylesheet() -> Response:
    return Response(
        CSS,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# --- logging in and out ---------------------------------------------------------------------------


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/admin/suspense", status_code=303)


@router.get("/login")
def login_page(request: Request, c: ContainerDep) -> HTMLResponse:
    return Page(request, c, None).render("login.html", title="Log in", error=None)


@router.post("/login")
def login(
    request: Request,
    c: ContainerDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    page = Page(request, c, None)
    try:
        check_csrf(request, c.settings.secret_bytes, csrf)
        with c.uow(readonly=True) as uow:
            issuer = authenticate(uow, api_key.strip())
            key_id = uow.issuers.api_key_id(issuer.id, hash_token(api_key.strip()))
    except DomainError as exc:
        return page.render("login.html", exc.status, title="Log in", error=exc.message)
    assert key_id is not None
    response = RedirectResponse("/admin/suspense", status_code=303)
    session = new_session(issuer.id, key_id, c.clock.now())
    set_session(response, c.settings.secret_bytes, session, secure=_secure(c))
    return response


@router.post("/logout")
def logout(
    request: Request, c: ContainerDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    try:
        check_csrf(request, c.settings.secret_bytes, csrf)
    except DomainError as exc:
        return Page(request, c, None).error(exc, title="Refused")
    response = _to_login()
    clear_session(response, secure=_secure(c))
    return response


# --- the suspense queue ---------------------------------------------------------------------------


@router.get("/suspense")
def queue(
    request: Request,
    c: ContainerDep,
    status: Annotated[str, Query(max_length=20)] = "open",
    after: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    found = _session(request, c)
    if found is None:
        return _to_login()
    session, issuer = found
    page = Page(request, c, session)
    statuses = None if status == "all" else [status]
    try:
        with c.uow(readonly=True) as uow:
            items = svc.list_items(
                uow, issuer.id, statuses=statuses, after_id=after, limit=PAGE_SIZE + 1
            )
    except DomainError as exc:
        return page.error(exc, issuer=issuer)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    return page.render(
        "queue.html",
        title="Suspense queue",
        issuer=issuer,
        items=items,
        current=status,
        next_url=f"/admin/suspense?status={quote(status)}&after={items[-1]['id']}"
        if more
        else None,
    )


def _item_page(
    page: Page,
    issuer: Issuer,
    item_id: str,
    status: int = 200,
    *,
    error: str | None = None,
    done: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    try:
        with page.c.uow(readonly=True) as uow:
            item = svc.get_item(uow, issuer.id, item_id)
    except DomainError as exc:
        return page.error(exc, issuer=issuer)
    if form is None:  # the assign form starts with the best suggestion's allocations
        best = next((s for s in item["suggestions"] if s["allocations"]), None)
        rows = [
            {"invoice_id": a["invoice_id"], "amount": _decimal(a["amount"], item)}
            for a in (best["allocations"] if best else [])
        ]
        form = {"rows": rows, "note": ""}
    rows = list(form["rows"]) + [{"invoice_id": "", "amount": ""}] * SPLIT_ROWS
    return page.render(
        "item.html",
        status,
        title=f"Suspense item {item['id']}",
        issuer=issuer,
        item=item,
        error=error,
        done=DONE.get(done or ""),
        rows=rows[: max(SPLIT_ROWS, len(form["rows"]) + 1)],
        note=form["note"],
        payout=next((s for s in item["suggestions"] if s.get("payout_id")), None),
    )


def _decimal(amount: int, item: dict[str, Any]) -> str:
    """Minor units as the decimal text a person types (``147.40``)."""
    text = describe(amount, item["line"]["currency"])
    return text.rsplit(" ", 1)[0] if " " in text else str(amount)


@router.get("/suspense/{item_id}")
def item_page(
    request: Request,
    item_id: str,
    c: ContainerDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    found = _session(request, c)
    if found is None:
        return _to_login()
    session, issuer = found
    return _item_page(Page(request, c, session), issuer, item_id, done=done)


def _act(
    request: Request,
    c: Container,
    item_id: str,
    csrf: str | None,
    action: str,
    run: Any,
    form: dict[str, Any] | None = None,
) -> Response:
    """Check the session and the CSRF field, run ``run(uow, issuer, actor)`` and commit; on a
    refusal nothing is committed and the item's page says why."""
    found = _session(request, c)
    if found is None:
        return _to_login()
    session, issuer = found
    page = Page(request, c, session)
    try:
        check_csrf(request, c.settings.secret_bytes, csrf)
        with c.uow() as uow:
            run(uow, issuer, session.key_id)
            uow.commit()
    except NotFound as exc:
        return page.error(exc, issuer=issuer)
    except DomainError as exc:
        return _item_page(page, issuer, item_id, exc.status, error=exc.message, form=form)
    return RedirectResponse(f"/admin/suspense/{quote(item_id)}?done={action}", status_code=303)


def _parts(
    uow: UnitOfWork, issuer: Issuer, item_id: str, invoices: list[str], amounts: list[str]
) -> list[tuple[str, int]]:
    """The (invoice id, minor units) rows of the assign form; empty rows are skipped."""
    currency = svc.get_item(uow, issuer.id, item_id)["line"]["currency"]
    parts: list[tuple[str, int]] = []
    for number, (invoice_id, amount) in enumerate(zip(invoices, amounts, strict=False), start=1):
        invoice_id, amount = invoice_id.strip(), amount.strip()
        if not invoice_id and not amount:
            continue
        if not invoice_id or not amount:
            raise InvalidInput(f"row {number}: give both the invoice id and the amount")
        text = amount.replace(",", ".") if "." not in amount else amount
        try:
            parts.append((invoice_id, parse_decimal(text, currency)))
        except MoneyError as exc:
            raise InvalidInput(f"row {number}: {exc}") from exc
    if not parts:
        raise InvalidInput("give at least one invoice and amount")
    return parts


@router.post("/suspense/{item_id}/assign")
def assign(
    request: Request,
    item_id: str,
    c: ContainerDep,
    invoice_id: Annotated[list[str] | None, Form(max_length=40)] = None,
    amount: Annotated[list[str] | None, Form(max_length=30)] = None,
    note: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    invoices, amounts = invoice_id or [], amount or []
    rows = [
        {"invoice_id": i, "amount": a}
        for i, a in zip(invoices, amounts, strict=False)
        if i.strip() or a.strip()
    ]

    def run(uow: UnitOfWork, issuer: Issuer, actor: str) -> None:
        parts = _parts(uow, issuer, item_id, invoices, amounts)
        svc.assign(uow, c.links, issuer, item_id, parts, actor=actor, note=note.strip() or None)

    return _act(request, c, item_id, csrf, "assign", run, {"rows": rows, "note": note})


@router.post("/suspense/{item_id}/resolve")
def resolve(
    request: Request,
    item_id: str,
    c: ContainerDep,
    status: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    def run(uow: UnitOfWork, issuer: Issuer, actor: str) -> None:
        svc.resolve(uow, issuer.id, item_id, status, actor=actor, note=note.strip() or None)

    return _act(request, c, item_id, csrf, "resolve", run)


@router.post("/suspense/{item_id}/undo")
def undo(
    request: Request,
    item_id: str,
    c: ContainerDep,
    note: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    def run(uow: UnitOfWork, issuer: Issuer, actor: str) -> None:
        svc.undo(uow, c.links, issuer, item_id, actor=actor, note=note.strip() or None)

    return _act(request, c, item_id, csrf, "undo", run)

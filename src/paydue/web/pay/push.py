"""Reminders by Web Push, subscribed on the pay page.

``GET /p/{token}/notifications`` explains and offers a button; it is the one payer page that
runs a script, ``/assets/push.js`` from our own origin (``script-src 'self'``, no inline
script), which registers the service worker ``/sw.js`` (root scope), asks for permission,
subscribes with the VAPID public key (derived from ``PAYDUE_VAPID_PRIVATE_KEY``) and posts the
subscription to ``POST /p/{token}/push-subscription`` with the CSRF field in ``X-CSRF-Token``.
The subscription becomes the push address of the invoice's payer, with their consent
(``services.collections.set_push_subscription``); ``DELETE`` on the same path, or the page's
"stop" form, opts them out. A TAN link needs the browser's TAN pass, as the pay form does.
Without VAPID settings the page says that push is not available.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from paydue.adapters.channels.push import application_server_key
from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.bootstrap import Container
from paydue.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from paydue.domain.invoices import InvoiceStatus
from paydue.domain.paylinks import Refusal, refusal
from paydue.services import collections
from paydue.services import paylinks as svc
from paydue.services.invoices import get_invoice
from paydue.web.deps import ContainerDep, raw_body
from paydue.web.pay import i18n
from paydue.web.pay.i18n import N_
from paydue.web.pay.routes import REFUSALS, Page
from paydue.web.pay.security import check_csrf, content_security_policy, has_tan_pass
from paydue.web.responses import error_body, json_response

router = APIRouter(tags=["pay page"], include_in_schema=False)
STATIC = Path(__file__).with_name("static")
PUSH_JS = (STATIC / "push.js").read_bytes()
SERVICE_WORKER = (STATIC / "sw.js").read_bytes()
CSRF_HEADER = "X-CSRF-Token"
MAX_BODY = 4096


class Gone(DomainError):
    status = 410
    code = "pay_link_unavailable"


@cache
def _public_key(private_key: str) -> str:
    return application_server_key(private_key)


def vapid_public_key(c: Container) -> str | None:
    """The key browsers subscribe with, or None when push is not set up."""
    s = c.settings
    if not (s.vapid_private_key and s.vapid_subject):
        return None
    return _public_key(s.vapid_private_key)


@dataclass(frozen=True, slots=True)
class _Target:
    invoice: Invoice
    issuer: Issuer
    refused: Refusal | None


def _target(request: Request, c: Container, uow: UnitOfWork, token: str) -> _Target:
    """The invoice behind ``token`` (a TAN link only with the browser's TAN pass) and whether
    the link is refused now."""
    link = svc.find_link(uow, token)
    if link.tan_hash is not None and not has_tan_pass(request, c.settings.secret_bytes, link.id):
        raise NotFound("this payment link does not exist", code="pay_link_not_found")
    invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
    issuer = uow.issuers.get(link.issuer_id)
    assert issuer is not None
    refused = refusal(svc.state_of(link), uow.now(), counting_open=False)
    if refused is None and invoice.status == InvoiceStatus.CANCELLED:
        refused = Refusal.INVOICE_CANCELLED
    return _Target(invoice, issuer, refused)


def _usable(request: Request, c: Container, uow: UnitOfWork, token: str) -> Invoice:
    target = _target(request, c, uow, token)
    if target.refused is not None:
        raise Gone(f"this payment link cannot be used: {target.refused.value}")
    return target.invoice


@router.get("/assets/push.js")
def push_script() -> Response:
    return Response(
        PUSH_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/sw.js")
def service_worker() -> Response:
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={
            "Cache-Control": "no-cache",
            "Service-Worker-Allowed": "/",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


@router.get("/p/{token}/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    token: str,
    c: ContainerDep,
    lang: Annotated[str | None, Query()] = None,
    stopped: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    with c.uow(readonly=True) as uow:
        target = _target(request, c, uow, token)
        subscribed = collections.has_push(uow, target.invoice)
    language = i18n.choose(
        lang, target.invoice.payer.language, request.headers.get("accept-language")
    )
    page = Page(request, c, target.issuer, language)
    if target.refused is not None:
        return page.message(410, N_("Payment link not available"), REFUSALS[target.refused])
    key = vapid_public_key(c)
    response = page.render(
        "notifications.html",
        title=N_("Reminders on this device"),
        public_key=key,
        subscribed=subscribed,
        stopped=stopped,
        action=f"/p/{token}/push-subscription",
        stop=f"/p/{token}/push-subscription/stop",
        back=f"/p/{token}",
    )
    if key is not None:
        response.headers["Content-Security-Policy"] = content_security_policy(
            page.nonce, own_scripts=True
        )
    return response


def _json_error(exc: DomainError) -> Response:
    kind = "invalid_request_error" if exc.status < 500 else "api_error"
    return json_response(
        error_body(exc.code, exc.message, kind=kind, details=exc.details),
        exc.status,
        headers={"Cache-Control": "no-store"},
    )


def _subscription(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise InvalidInput(
            f"the push subscription is longer than {MAX_BODY} bytes", details={"where": "body"}
        )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput(
            f"the push subscription is not JSON: {exc}", details={"where": "body"}
        ) from None


NO_CONTENT = {"Cache-Control": "no-store"}


@router.post("/p/{token}/push-subscription")
def subscribe(
    request: Request, token: str, c: ContainerDep, body: Annotated[bytes, Depends(raw_body)]
) -> Response:
    """Store the browser's subscription as the payer's push address: 204, or a JSON error
    (403 without the CSRF field, 422 naming what is wrong with the subscription)."""
    try:
        check_csrf(request, c.settings.secret_bytes, request.headers.get(CSRF_HEADER))
        if vapid_public_key(c) is None:
            raise Conflict("push notifications are not set up here", code="push_unavailable")
        subscription = _subscription(body)
        collections.push_subscription(subscription)  # refused before any write
        with c.uow() as uow:
            collections.set_push_subscription(uow, _usable(request, c, uow, token), subscription)
            uow.commit()
    except DomainError as exc:
        return _json_error(exc)
    return Response(status_code=204, headers=NO_CONTENT)


def _stop(request: Request, c: Container, token: str) -> None:
    with c.uow() as uow:
        collections.stop_push(uow, _usable(request, c, uow, token))
        uow.commit()


@router.delete("/p/{token}/push-subscription")
def unsubscribe(request: Request, token: str, c: ContainerDep) -> Response:
    """The payer opts out of reminders by push: 204 (CSRF field in ``X-CSRF-Token``)."""
    try:
        check_csrf(request, c.settings.secret_bytes, request.headers.get(CSRF_HEADER))
        _stop(request, c, token)
    except DomainError as exc:
        return _json_error(exc)
    return Response(status_code=204, headers=NO_CONTENT)


@router.post("/p/{token}/push-subscription/stop")
def stop_form(
    request: Request,
    token: str,
    c: ContainerDep,
    csrf: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """The page's "stop" form (works without script): opts out, back to the page."""
    check_csrf(request, c.settings.secret_bytes, csrf)
    _stop(request, c, token)
    language = i18n.choose(lang, None, None)
    return RedirectResponse(f"/p/{token}/notifications?lang={language}&stopped=true", 303)

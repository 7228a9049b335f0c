"""The payer's pages under ``/p/{token}``: the pay page, the TAN form, starting a payment with a
provider, and the result page. Server-rendered, in the payer's language, in the issuer's look,
with no script at all.

Every view of the pay page counts an open of its link (atomically; ``services.paylinks``). The
result page never trusts its URL: it shows what the pipeline recorded for the payment, and while
that is not final it reloads itself (``<meta http-equiv=refresh>``, no script).
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paydue.adapters.db.records import Invoice, Issuer, PayLink, Payment
from paydue.adapters.providers.base import Redirect
from paydue.bootstrap import Container
from paydue.domain.errors import DomainError, NotFound
from paydue.domain.invoices import InvoiceStatus, outstanding
from paydue.domain.paylinks import Refusal, refusal
from paydue.domain.payments import TERMINAL, FailureReason, PaymentStatus
from paydue.domain.references import format_rf
from paydue.services import branding, elements
from paydue.services import paylinks as svc
from paydue.services import payments as pay
from paydue.services.invoices import get_invoice
from paydue.web.deps import ContainerDep
from paydue.web.images import image_response
from paydue.web.pay import i18n
from paydue.web.pay.i18n import N_
from paydue.web.pay.security import (
    check_csrf,
    csrf_cookie,
    csrf_field,
    has_tan_pass,
    page_headers,
    set_csrf_cookie,
    set_tan_pass,
)

router = APIRouter(tags=["pay page"], include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,  # the templates ship with the code: no stat() of each file per page
)
CSS = (Path(__file__).with_name("static") / "pay.css").read_bytes()
RESULT_REFRESH_SECONDS = 2
LANGUAGE_LINKS = tuple((code, i18n.language_name(code)) for code in i18n.LANGUAGES)

# Rendered pay pages, per database (so per container), by everything that decides their text:
# the template, language, path and the stored values the page shows (``PageView.content``).
# The per-response parts, the CSP nonce and the CSRF field, are rendered as these random marks
# and filled in for each response.
PAGE_CACHE_SIZE = 1024
_NONCE_MARK = secrets.token_hex(16)
_CSRF_MARK = secrets.token_hex(16)
_page_cache: weakref.WeakKeyDictionary[sa.Engine, dict[Hashable, str]] = weakref.WeakKeyDictionary()
_page_cache_lock = threading.Lock()

REFUSALS = {
    Refusal.REVOKED: N_("This payment link was withdrawn."),
    Refusal.EXPIRED: N_("This payment link has expired."),
    Refusal.TOO_MANY_OPENS: N_("This payment link was opened too often."),
    Refusal.TOO_MANY_FAILED_PAYMENTS: N_("Too many payments failed with this link."),
    Refusal.TAN_LOCKED: N_("This link is locked after too many wrong TANs."),
    Refusal.INVOICE_CANCELLED: N_("This invoice was cancelled; there is nothing to pay."),
}
FAILURES = {
    FailureReason.EXPIRED_CARD: N_("Your card has expired."),
    FailureReason.STOLEN_CARD: N_("Your card was reported stolen or lost."),
    FailureReason.INVALID_CARD: N_("The card details are not valid."),
    FailureReason.INACTIVE_CARD: N_("Your card is not active yet."),
    FailureReason.INSUFFICIENT_FUNDS: N_("There are not enough funds on the account."),
    FailureReason.DECLINED: N_("Your bank declined the payment."),
    FailureReason.CANCELLED_BY_PAYER: N_("You cancelled the payment."),
    FailureReason.FRAUD_SUSPECTED: N_("Your bank declined the payment."),
    FailureReason.TECHNICAL_ERROR: N_("The payment could not be started. Please try again."),
}
METHOD_NAMES = {
    "card": N_("Card"),
    "bank_payment": N_("Pay from your bank account"),
    "paypal": "PayPal",
    "revolut": "Revolut",
    "payconiq": "Payconiq",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "sepa_direct_debit": N_("SEPA direct debit"),
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    "bank_transfer": N_("Bank transfer"),
}


class Page:
    """One payer page being rendered: language, branding, CSRF field and the nonce."""

    def __init__(self, request: Request, c: Container, issuer: Issuer | None, lang: str) -> None:
        self.request = request
        self.c = c
        self.issuer = issuer
        self.lang = lang
        self.nonce = secrets.token_urlsafe(16)
        self.cookie = csrf_cookie(request)

    def render(
        self,
        template: str,
        status: int = 200,
        *,
        form_origins: frozenset[str] = frozenset(),
        **context: Any,
    ) -> HTMLResponse:
        csrf = csrf_field(self.c.settings.secret_bytes, self.cookie)
        return self._response(self._html(template, self.nonce, csrf, context), status, form_origins)

    def render_cached(
        self,
        key: Hashable,
        template: str,
        *,
        form_origins: frozenset[str] = frozenset(),
        context: Callable[[], dict[str, Any]],
    ) -> HTMLResponse:
        """``render`` of a page whose text depends only on ``key`` (which must hold everything
        that decides it but the nonce and the CSRF field): rendered once, with marks in place of
        those two, then filled in per response. ``context`` is only called to render."""
        cache = _page_cache.get(self.c.engine)
        if cache is None:
            with _page_cache_lock:
                cache = _page_cache.setdefault(self.c.engine, {})
        full_key = (id(self.c), template, self.lang, self.request.url.path, key)
        html = cache.get(full_key)
        if html is None:
            html = self._html(template, _NONCE_MARK, _CSRF_MARK, context())
            with _page_cache_lock:
                if len(cache) >= PAGE_CACHE_SIZE:
                    cache.pop(next(iter(cache)))
                cache[full_key] = html
        csrf = csrf_field(self.c.settings.secret_bytes, self.cookie)
        filled = html.replace(_NONCE_MARK, self.nonce).replace(_CSRF_MARK, csrf)
        return self._response(filled, 200, form_origins)

    def _html(self, template: str, nonce: str, csrf: str, context: dict[str, Any]) -> str:
        t = i18n.translations(self.lang)
        lang = self.lang
        return templates.get_template(template).render(
            _=t.gettext,
            ngettext=t.ngettext,
            gettext=t.gettext,
            lang=lang,
            languages=LANGUAGE_LINKS,
            here=self.request.url.path,
            brand=branding.branding_of(self.issuer) if self.issuer is not None else None,
            nonce=nonce,
            csrf=csrf,
            money=lambda amount, currency: i18n.money(amount, currency, lang),
            long_date=lambda d: i18n.long_date(d, lang),
            **{"switch_to": None, **context},
        )

    def _response(self, html: str, status: int, form_origins: frozenset[str]) -> HTMLResponse:
        response = HTMLResponse(html, status, headers=page_headers(self.nonce, form_origins))
        set_csrf_cookie(response, self.cookie, secure=self.c.settings.base_url.startswith("https"))
        return response

    def message(self, status: int, title: str, message: str, **context: Any) -> HTMLResponse:
        return self.render("message.html", status, title=title, message=message, **context)


def _language(request: Request, lang: str | None, invoice: Invoice | None) -> str:
    return i18n.choose(
        lang,
        invoice.payer.language if invoice is not None else None,
        request.headers.get("accept-language"),
    )


def _secure(c: Container) -> bool:
    return c.settings.base_url.startswith("https")


def _bank_details(issuer: Issuer, invoice: Invoice, link: PayLink, token: str) -> dict[str, Any]:
    epc = elements.epc_payload(issuer, invoice)
    return {
        "iban": issuer.iban,
        "bic": issuer.bic,
        "reference": format_rf(invoice.reference),
        "epc_url": None
        if isinstance(epc, elements.EpcUnavailable) or link.tan_hash is not None
        else f"/p/{token}/epc.svg",
    }


def _methods(c: Container, issuer: Issuer, invoice: Invoice) -> list[dict[str, str]]:
    return [
        {"key": rule.key, "name": METHOD_NAMES.get(rule.method, rule.method)}
        for rule in pay.offered_methods(issuer, invoice, c.providers)
    ]


def _form_origins(c: Container) -> frozenset[str]:
    origins: set[str] = set()
    for provider in c.providers.values():
        origins |= provider.redirect_origins
    return frozenset(origins)


def _show(
    request: Request,
    c: Container,
    token: str,
    lang: str | None,
    *,
    tan_verified: bool | Callable[[PayLink], bool],
    tan_error: str | None = None,
) -> HTMLResponse:
    # One write transaction of two statements: the link with its invoice, payer and issuer,
    # and the conditional UPDATE that counts the open (the refusal rules applied again in SQL).
    with c.uow() as uow:
        opened, view = svc.open_for_page(uow, token, tan_verified=tan_verified)
        if opened.outcome == svc.OpenOutcome.SHOW:
            uow.commit()
    issuer = view.issuer
    invoice, link = opened.invoice, opened.link
    if opened.outcome == svc.OpenOutcome.NEED_TAN:
        # Before its TAN, a link shows nothing of the invoice, not even the issuer's look.
        page = Page(request, c, None, _language(request, lang, None))
        return page.render(
            "tan.html",
            401 if tan_error else 200,
            switch_to=f"/p/{token}",
            title=N_("Enter your TAN"),
            error=tan_error,
            action=f"/p/{token}/tan",
            attempts_left=opened.tan_attempts_left,
        )
    page = Page(request, c, issuer, _language(request, lang, invoice))
    if opened.outcome == svc.OpenOutcome.REFUSED:
        assert opened.refusal is not None
        return page.message(
            410, N_("Payment link not available"), REFUSALS[opened.refusal], switch_to=f"/p/{token}"
        )
    if opened.outcome == svc.OpenOutcome.PAID:
        return page.render(
            "paid.html", title=N_("Already paid"), invoice=invoice, switch_to=f"/p/{token}"
        )
    return page.render_cached(
        (token, view.content),
        "page.html",
        form_origins=_form_origins(c),
        context=lambda: {
            "switch_to": f"/p/{token}",
            "title": N_("Pay your invoice"),
            "invoice": invoice,
            "due": outstanding(invoice.status, invoice.amount, invoice.amount_paid),
            "methods": _methods(c, issuer, invoice),
            "action": f"/p/{token}/pay",
            "bank": _bank_details(issuer, invoice, link, token),
        },
    )


@router.get("/assets/pay.css")
def stylesheet() -> Response:
    return Response(
        CSS,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/assets/logos/{issuer_id}/{sha}.{ext}")
def logo(request: Request, issuer_id: str, sha: str, ext: str, c: ContainerDep) -> Response:
    with c.uow(readonly=True) as uow:
        issuer = uow.issuers.get(issuer_id)
    found = branding.logo_bytes(issuer, sha) if issuer is not None else None
    if found is None:
        raise NotFound("no such logo", code="logo_not_found")
    body, media = found
    return Response(
        body,
        media_type=media,
        headers={
            "Cache-Control": "public, max-age=86400, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'none'; sandbox",
        },
    )


@router.get("/p/{token}", response_class=HTMLResponse)
def pay_page(
    request: Request, token: str, c: ContainerDep, lang: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    secret = c.settings.secret_bytes
    return _show(
        request, c, token, lang, tan_verified=lambda link: has_tan_pass(request, secret, link.id)
    )


@router.post("/p/{token}/tan", response_class=HTMLResponse)
def submit_tan(
    request: Request,
    token: str,
    tan: Annotated[str, Form(max_length=12)],
    c: ContainerDep,
    csrf: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    check_csrf(request, c.settings.secret_bytes, csrf)
    with c.uow() as uow:
        ok, left = svc.verify_tan(uow, c.settings.secret_bytes, token, tan)
        link = svc.find_link(uow, token)
        uow.commit()
    if not ok:
        message = N_("The TAN is not correct.") if left else N_("Too many wrong TANs.")
        return _show(request, c, token, lang, tan_verified=False, tan_error=message)
    response = _show(request, c, token, lang, tan_verified=True)
    set_tan_pass(response, c.settings.secret_bytes, link.id, token, secure=_secure(c))
    return response


def _usable_link(request: Request, c: Container, token: str) -> PayLink:
    """The link behind a form or result request; a TAN link needs the browser's TAN pass."""
    with c.uow(readonly=True) as uow:
        link = svc.find_link(uow, token)
    if link.tan_hash is not None and not has_tan_pass(request, c.settings.secret_bytes, link.id):
        raise NotFound("this payment link does not exist", code="pay_link_not_found")
    return link


@router.post("/p/{token}/pay")
def start_payment(
    request: Request,
    token: str,
    method: Annotated[str, Form(max_length=80)],
    c: ContainerDep,
    csrf: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    check_csrf(request, c.settings.secret_bytes, csrf)
    _usable_link(request, c, token)
    language = i18n.choose(lang, None, None)
    with c.uow() as uow:
        started = pay.begin_payment(uow, c.providers, token, method)
        uow.commit()
    payment = started.payment
    base = c.settings.base_url.rstrip("/")
    provider = c.providers[payment.provider]
    try:
        outcome = provider.start(
            pay.payment_request(
                started,
                locale=language,
                return_url=f"{base}/p/{token}/payments/{payment.id}?lang={language}",
                notify_url=f"{base}/inbound/{provider.name}/{payment.issuer_id}",
            )
        )
    except Exception as exc:  # the provider is down or refused: the payer may try again
        with c.uow() as uow:
            pay.fail_to_start(uow, payment, repr(exc))
            uow.commit()
        return RedirectResponse(f"/p/{token}/payments/{payment.id}?lang={language}", 303)
    if not isinstance(outcome, Redirect):
        return RedirectResponse(f"/p/{token}?lang={language}", 303)
    with c.uow() as uow:
        pay.attach_provider(uow, payment, outcome.provider_payment_id)
        uow.commit()
    return RedirectResponse(outcome.url, 303)


@router.get("/p/{token}/payments/{payment_id}", response_class=HTMLResponse)
def result(
    request: Request,
    token: str,
    payment_id: str,
    c: ContainerDep,
    lang: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    link = _usable_link(request, c, token)
    with c.uow(readonly=True) as uow:
        payment = uow.payments.get(link.issuer_id, payment_id)
        if payment is None or payment.invoice_id != link.invoice_id:
            raise NotFound("no such payment for this link", code="payment_not_found")
        invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
        issuer = uow.issuers.get(link.issuer_id)
        current = uow.pay_links.get(link.issuer_id, link.id)
        now = uow.now()
    assert issuer is not None
    assert current is not None
    page = Page(request, c, issuer, _language(request, lang, invoice))
    return page.render(
        "result.html",
        form_origins=_form_origins(c),
        **_result_context(c, token, issuer, invoice, current, payment, now),
    )


def _result_context(
    c: Container,
    token: str,
    issuer: Issuer,
    invoice: Invoice,
    link: PayLink,
    payment: Payment,
    now: Any,
) -> dict[str, Any]:
    status = payment.status
    context: dict[str, Any] = {"invoice": invoice, "payment": payment, "refresh": None}
    if status == PaymentStatus.SUCCEEDED:
        context["title"] = N_("Thank you, your payment was received")
        context["state"] = "review" if payment.review_reason else "paid"
        return context
    if status not in TERMINAL:
        context.update(
            title=N_("Your payment is being processed"),
            state="pending",
            refresh=RESULT_REFRESH_SECONDS,
        )
        return context
    reason = FailureReason(payment.failure_reason or FailureReason.DECLINED)
    retry = (
        refusal(svc.state_of(link), now, counting_open=False) is None
        and invoice.status != InvoiceStatus.CANCELLED
        and outstanding(invoice.status, invoice.amount, invoice.amount_paid) > 0
    )
    context.update(
        title=N_("The payment did not go through"),
        state="failed",
        reason=FAILURES[reason],
        methods=_methods(c, issuer, invoice) if retry else [],
        action=f"/p/{token}/pay",
        retry=retry,
    )
    return context


@router.get("/p/{token}/{image}.{kind}")
def pay_link_image(
    request: Request,
    token: str,
    image: Literal["qr", "epc"],
    kind: Literal["svg", "png"],
    c: ContainerDep,
) -> Response:
    """Images for e-mails and pages; viewing them does not count as opening the link."""
    with c.uow(readonly=True) as uow:
        link = svc.find_link(uow, token)
        if image == "qr":
            return image_response(request, elements.render(c.links.pay_url(token), kind), kind)
        if not svc.shows_bank_details(link, uow.now()):
            raise NotFound("no bank details for this payment link", code="epc_unavailable")
        invoice = get_invoice(uow, link.issuer_id, link.invoice_id)
        issuer = uow.issuers.get(link.issuer_id)
    assert issuer is not None
    payload = elements.require_epc(issuer, invoice)
    return image_response(request, elements.render(payload, kind), kind)


def error_page(request: Request, c: Container, exc: DomainError) -> HTMLResponse:
    """A payer-page error (unknown link, expired form, a payment that cannot start) as a page
    in the browser's language rather than JSON."""
    page = Page(request, c, None, _language(request, request.query_params.get("lang"), None))
    messages = {
        404: N_("This payment link does not exist. Please check the address."),
        403: N_("This form has expired. Please go back, reload the page and try again."),
    }
    text = messages.get(exc.status, N_("This payment cannot be made now."))
    return page.message(exc.status, N_("Something is not right"), text, detail=exc.message)

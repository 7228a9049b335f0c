"""What keeps the payer's pages safe: CSRF tokens, the TAN pass, and the response headers.

CSRF is the double-submit pattern with a signed field: the browser holds a random cookie
(``pd_csrf``, HttpOnly, SameSite=Lax) and every form carries HMAC(server secret, cookie); a
POST whose field does not match its cookie is refused. A TAN-protected link, once its TAN was
given, hands the browser a pass (``pd_tan``, scoped to the link's path) that the payment and
result pages require. Pages answer with a Content-Security-Policy that allows no script at all
(but the push subscription page, which loads its script file from our origin), styles only from
our origin or with the page's nonce, forms only to our origin (and the providers' checkouts),
and no framing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from fastapi import Request, Response

from paydue.domain.errors import DomainError

CSRF_COOKIE = "pd_csrf"
TAN_COOKIE = "pd_tan"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def _mac(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_cookie(request: Request) -> str:
    """The browser's CSRF cookie value, or a new one (set it with ``set_csrf_cookie``)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 32 <= len(value) <= 64 else secrets.token_urlsafe(32)


def csrf_field(secret: bytes, cookie: str) -> str:
    return _mac(secret, "csrf", cookie)


def set_csrf_cookie(response: Response, cookie: str, *, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=secure, path="/")


def check_csrf(request: Request, secret: bytes, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if (
        not cookie
        or not submitted
        or not hmac.compare_digest(csrf_field(secret, cookie), submitted)
    ):
        raise Forbidden(
            "this form has expired or did not come from this page; reload the page and try again",
            code="csrf_failed",
        )


def tan_pass(secret: bytes, link_id: str) -> str:
    return _mac(secret, "tan-passed", link_id)


def has_tan_pass(request: Request, secret: bytes, link_id: str) -> bool:
    given = request.cookies.get(TAN_COOKIE)
    return bool(given) and hmac.compare_digest(given or "", tan_pass(secret, link_id))


def set_tan_pass(
    response: Response, secret: bytes, link_id: str, token: str, *, secure: bool
) -> None:
    response.set_cookie(
        TAN_COOKIE,
        tan_pass(secret, link_id),
        httponly=True,
        samesite="lax",
        secure=secure,
        path=f"/p/{token}",
    )


def content_security_policy(
    nonce: str, form_origins: Iterable[str] = (), *, own_scripts: bool = False
) -> str:
    """The payer pages' policy. ``own_scripts`` is for the one page that runs a script (the
    push subscription): script files and a service worker from our own origin, requests to our
    own origin; still no inline script."""
    forms = " ".join(["'self'", *sorted(form_origins)])
    scripts = (
        "script-src 'self'; worker-src 'self'; connect-src 'self'"
        if own_scripts
        else "script-src 'none'"
    )
    return (
        f"default-src 'none'; {scripts}; style-src 'self' 'nonce-{nonce}'; "
        f"img-src 'self' data:; form-action {forms}; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


def page_headers(nonce: str, form_origins: Iterable[str] = ()) -> dict[str, str]:
    """Headers of every payer page; ``nonce`` admits the page's own ``<style>`` element."""
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": content_security_policy(nonce, form_origins),
    }

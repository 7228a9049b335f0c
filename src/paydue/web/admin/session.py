"""The back office's session: a cookie that holds the issuer id, the API key id that logged in
and an expiry, signed with an HMAC of a key derived from the server secret.

Nothing is stored on the server. The cookie is HttpOnly, SameSite=Strict and scoped to
``/admin``; a session whose key was revoked since it was made is refused as well as one that
expired or was altered.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Response

SESSION_COOKIE = "pd_admin"
LIFETIME = timedelta(hours=8)
PATH = "/admin"


@dataclass(frozen=True, slots=True)
class Session:
    issuer_id: str
    key_id: str  # the API key that logged in: the "who" of the audit log
    expires: int  # unix seconds


def _key(secret: bytes) -> bytes:
    """The signing key: derived from the server secret for this purpose only."""
    return hmac.digest(secret, b"paydue admin session v1", hashlib.sha256)


def _mac(secret: bytes, payload: str) -> str:
    return hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()


def encode(secret: bytes, session: Session) -> str:
    payload = f"{session.issuer_id}.{session.key_id}.{session.expires}"
    return f"{payload}.{_mac(secret, payload)}"


def decode(secret: bytes, value: str | None, now: datetime) -> Session | None:
    """The session in a cookie value, or None when it is missing, altered or expired."""
    if not value or len(value) > 300:
        return None
    parts = value.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    issuer_id, key_id, expires, mac = parts
    if not hmac.compare_digest(_mac(secret, f"{issuer_id}.{key_id}.{expires}"), mac):
        return None
    if int(expires) <= now.timestamp():
        return None
    return Session(issuer_id, key_id, int(expires))


def new_session(issuer_id: str, key_id: str, now: datetime) -> Session:
    return Session(issuer_id, key_id, int((now + LIFETIME).timestamp()))


def set_session(response: Response, secret: bytes, session: Session, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        encode(secret, session),
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure,
        path=PATH,
    )


def clear_session(response: Response, *, secure: bool) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=secure, path=PATH
    )

"""Identifiers and secrets: sortable ids, unguessable tokens, and their hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from functools import lru_cache

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
"""Crockford base32 of every 10-bit number: an id's 26 characters are 13 table look-ups."""

_last_id = 0
_id_lock = threading.Lock()


def _encode(value: int) -> str:
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -10, -10)])


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` ULID-style ids: 48 bits of milliseconds and 80 random bits, sortable by creation
    time.

    Monotonic within a process: an id made in the same millisecond as the previous one is the
    previous one plus one (the ULID rule), so a batch lists in the order it was created. A batch
    takes one clock reading, one random draw and the lock once, and consecutive ids share all
    but their last four characters, which are the only ones encoded per id."""
    global _last_id
    candidate = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    with _id_lock:
        if candidate >> 80 <= _last_id >> 80:
            candidate = _last_id + 1
        _last_id = candidate + count - 1
    ids: list[str] = []
    head, head_of = "", -1
    for value in range(candidate, candidate + count):
        if value >> 20 != head_of:
            head_of = value >> 20
            head = f"{prefix}_{_encode(value)[:22]}"
        ids.append(head + _PAIRS[(value >> 10) & 1023] + _PAIRS[value & 1023])
    return ids


def new_id(prefix: str) -> str:
    """One id of ``new_ids``."""
    return new_ids(prefix, 1)[0]


def new_token(nbytes: int = 24) -> str:
    """A URL-safe random token; 24 bytes = 192 bits."""
    return secrets.token_urlsafe(nbytes)


@lru_cache(maxsize=65_536)
def derived_token(secret: bytes, purpose: str, subject: str, nbytes: int = 24) -> str:
    """A stable unguessable token for ``subject`` (HMAC of the server secret).

    Used for an invoice's own pay link and badge: the URL can be shown again on every read, while
    only the token's hash is stored. Rotating the secret key changes these URLs. Cached: a
    batch create derives each invoice's tokens for its rows, its event and the response.
    """
    digest = hmac.digest(secret, f"{purpose}:{subject}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:nbytes]).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    """What is stored for a token: its SHA-256 (tokens carry enough entropy for a plain hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_tan(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def hash_tan(secret: bytes, link_id: str, tan: str) -> str:
    """A TAN has few digits, so its hash is keyed with the server secret and the link id."""
    return hmac.new(secret, f"tan:{link_id}:{tan}".encode(), hashlib.sha256).hexdigest()


def new_api_key() -> str:
    return "pd_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

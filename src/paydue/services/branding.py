"""The issuer's look on the payer's pages: name, logo, colours, support contact, legal footer.

Stored on the issuer (``branding``). Colours are checked hex values and texts are plain text
(escaped where shown); a logo is kept as bytes of a PNG, JPEG or sanitised SVG and served from
paydue's own origin, so no issuer-provided markup ever reaches a payer's page.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from paydue.adapters.db.records import Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.adapters.formats.svg import SvgError, sanitize_svg
from paydue.domain.errors import InvalidInput

LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}
MAX_LOGO_BYTES = 256 * 1024
DEFAULT_PRIMARY = "#1d4ed8"
DEFAULT_ACCENT = "#111827"
TEXT_FIELDS = (
    "display_name",
    "support_email",
    "support_phone",
    "support_url",
    "website_url",
    "legal_footer",
)


@dataclass(frozen=True, slots=True)
class Branding:
    display_name: str
    primary_color: str
    accent_color: str
    support_email: str | None
    support_phone: str | None
    support_url: str | None
    website_url: str | None
    legal_footer: str | None
    logo_path: str | None
    """Where the page loads the logo from, on our own origin; None without a logo."""


def branding_of(issuer: Issuer) -> Branding:
    doc = issuer.branding or {}
    logo = doc.get("logo")
    return Branding(
        display_name=doc.get("display_name") or issuer.name,
        primary_color=doc.get("primary_color") or DEFAULT_PRIMARY,
        accent_color=doc.get("accent_color") or DEFAULT_ACCENT,
        support_email=doc.get("support_email"),
        support_phone=doc.get("support_phone"),
        support_url=doc.get("support_url"),
        website_url=doc.get("website_url"),
        legal_footer=doc.get("legal_footer"),
        logo_path=f"/assets/logos/{issuer.id}/{logo['sha']}.{logo['ext']}" if logo else None,
    )


def branding_resource(issuer: Issuer) -> dict[str, Any]:
    doc = issuer.branding or {}
    b = branding_of(issuer)
    return {
        "object": "branding",
        "display_name": b.display_name,
        "primary_color": b.primary_color,
        "accent_color": b.accent_color,
        **{name: doc.get(name) for name in TEXT_FIELDS if name != "display_name"},
        "logo_url": b.logo_path,
    }


def logo_bytes(issuer: Issuer, sha: str) -> tuple[bytes, str] | None:
    """The logo's bytes and media type when ``sha`` names the current logo."""
    logo = (issuer.branding or {}).get("logo")
    if not logo or logo["sha"] != sha:
        return None
    media = next(m for m, ext in LOGO_TYPES.items() if ext == logo["ext"])
    return base64.b64decode(logo["data"]), media


def _logo(data_uri: str) -> dict[str, str]:
    header, sep, payload = data_uri.partition(",")
    media = header.removeprefix("data:").removesuffix(";base64")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise InvalidInput("logo must be a data URI: data:<type>;base64,<data>", code="bad_logo")
    if media not in LOGO_TYPES:
        raise InvalidInput(
            f"logo type {media!r} is not one of {sorted(LOGO_TYPES)}", code="bad_logo"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except ValueError:
        raise InvalidInput("logo data is not valid base64", code="bad_logo") from None
    if not raw or len(raw) > MAX_LOGO_BYTES:
        raise InvalidInput(f"logo must be 1 byte to {MAX_LOGO_BYTES // 1024} KiB", code="bad_logo")
    signatures = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff"}
    ext = LOGO_TYPES[media]
    if ext in signatures and not raw.startswith(signatures[ext]):
        raise InvalidInput(f"logo data is not a {ext.upper()} image", code="bad_logo")
    if ext == "svg":
        try:
            raw = sanitize_svg(raw)
        except SvgError as exc:
            raise InvalidInput(f"logo: {exc}", code="bad_logo") from None
    return {
        "ext": ext,
        "sha": hashlib.sha256(raw).hexdigest()[:16],
        "data": base64.b64encode(raw).decode(),
    }


def update_branding(uow: UnitOfWork, issuer: Issuer, changes: dict[str, Any]) -> Issuer:
    """Apply ``changes`` (already schema-checked): given fields replace stored ones, ``None``
    clears one, a ``logo`` data URI is checked (and an SVG sanitised) before it is kept."""
    doc = dict(issuer.branding or {})
    for name, value in changes.items():
        if value is None:
            doc.pop(name, None)
        elif name == "logo":
            doc["logo"] = _logo(value)
        else:
            doc[name] = value
    uow.issuers.update(issuer.id, {"branding": doc})
    updated = uow.issuers.get(issuer.id)
    assert updated is not None
    return updated

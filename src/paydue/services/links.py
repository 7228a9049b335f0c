"""Public URLs of an invoice: its own pay link and its status badge.

Their tokens are derived from the server secret (HMAC), so the same URL can be shown on every read
of the invoice while the database keeps only the tokens' hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

from paydue.services.ids import derived_token


@dataclass(frozen=True, slots=True)
class PublicLinks:
    base_url: str
    secret: bytes

    def primary_pay_token(self, invoice_id: str) -> str:
        return derived_token(self.secret, "paylink", invoice_id)

    def badge_token(self, invoice_id: str) -> str:
        return derived_token(self.secret, "badge", invoice_id)

    def pay_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/p/{token}"

    def badge_url(self, invoice_id: str, ext: str = "svg") -> str:
        return f"{self.base_url.rstrip('/')}/b/{self.badge_token(invoice_id)}.{ext}"

    def invoice_pay_url(self, invoice_id: str) -> str:
        return self.pay_url(self.primary_pay_token(invoice_id))

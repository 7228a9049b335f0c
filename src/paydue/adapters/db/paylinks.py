"""Pay links. Looked up by the hash of their token; limits applied with conditional updates."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paydue.adapters.db.bulk import insert_rows
from paydue.adapters.db.records import Invoice, Issuer, Payer, PayLink, from_row
from paydue.adapters.db.tables import invoices, issuers, pay_links, payers
from paydue.domain.invoices import InvoiceStatus
from paydue.domain.paylinks import MAX_TAN_ATTEMPTS

_LINK_FIELDS = tuple(f.name for f in fields(PayLink))
_INVOICE_FIELDS = (
    "number",
    "payer_id",
    "amount",
    "currency",
    "amount_paid",
    "status",
    "issue_date",
    "due_date",
    "description",
    "reference",
    "created_at",
    "updated_at",
    "cancelled_at",
)
_PAYER_FIELDS = ("ref", "name", "email", "phone", "language", "timezone")
_ISSUER_FIELDS = ("name", "iban", "bic", "country", "timezone", "default_currency", "created_at")
# What the branding document keeps for the page: the logo's bytes are served by their own route,
# so a page view does not carry up to 256 KiB of base64 out of the database.
_BRANDING_WITHOUT_LOGO_DATA = {
    "postgresql": "(issuers.branding #- '{logo,data}')::text",
    "sqlite": "json_remove(issuers.branding, '$.logo.data')",
}
_VIEW_STATEMENTS: dict[str, sa.Select[Any]] = {}

_c = pay_links.c
_now = sa.bindparam("b_now", type_=_c.last_opened_at.type)
# ``domain.paylinks.refusal`` with ``counting_open``, in SQL; built once (the page runs it per
# view).
_COUNT_OPEN_IF_USABLE = (
    sa.update(pay_links)
    .where(
        _c.issuer_id == sa.bindparam("b_issuer_id"),
        _c.id == sa.bindparam("b_link_id"),
        _c.revoked_at.is_(None),
        sa.or_(_c.expires_at.is_(None), _c.expires_at > _now),
        sa.or_(_c.max_opens.is_(None), _c.open_count < _c.max_opens),
        sa.or_(_c.max_failed_attempts.is_(None), _c.failed_attempts < _c.max_failed_attempts),
        sa.or_(_c.tan_hash.is_(None), _c.tan_failures < MAX_TAN_ATTEMPTS),
    )
    .values(open_count=_c.open_count + 1, last_opened_at=_now)
    .returning(_c.open_count)
)


@dataclass(frozen=True, slots=True)
class PageView:
    """A pay link with its invoice, payer and issuer, read in one query for the pay page.

    ``content`` is every stored value the page shows (invoice, payer, issuer, the link's id and
    whether it has a TAN) and none of the link's counters, so equal ``content`` means an equal
    page; the issuer's ``branding`` leaves out the logo's bytes."""

    link: PayLink
    invoice: Invoice
    issuer: Issuer
    content: Hashable


def _view_statement(dialect: str) -> sa.Select[Any]:
    found = _VIEW_STATEMENTS.get(dialect)
    if found is not None:
        return found
    branding = _BRANDING_WITHOUT_LOGO_DATA.get(dialect)
    stmt: sa.Select[Any] = (
        sa.select(
            *(pay_links.c[name].label(f"l_{name}") for name in _LINK_FIELDS),
            *(invoices.c[name].label(f"i_{name}") for name in _INVOICE_FIELDS),
            sa.cast(invoices.c.tags, sa.Text).label("i_tags"),
            *(payers.c[name].label(f"p_{name}") for name in _PAYER_FIELDS),
            sa.cast(payers.c.address, sa.Text).label("p_address"),
            *(issuers.c[name].label(f"s_{name}") for name in _ISSUER_FIELDS),
            (
                sa.literal_column(branding) if branding else sa.cast(issuers.c.branding, sa.Text)
            ).label("s_branding"),
            sa.cast(issuers.c.payment_methods, sa.Text).label("s_payment_methods"),
        )
        .select_from(pay_links)
        .join(
            invoices,
            sa.and_(
                invoices.c.issuer_id == pay_links.c.issuer_id,
                invoices.c.id == pay_links.c.invoice_id,
            ),
        )
        .join(
            payers,
            sa.and_(payers.c.issuer_id == invoices.c.issuer_id, payers.c.id == invoices.c.payer_id),
        )
        .join(issuers, issuers.c.id == pay_links.c.issuer_id)
        .where(pay_links.c.token_hash == sa.bindparam("token_hash"))
    )
    _VIEW_STATEMENTS[dialect] = stmt
    return stmt


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _page_view(row: Any) -> PageView:
    values = tuple(row)
    n_link = len(_LINK_FIELDS)
    link = PayLink(*values[:n_link])
    r = row._mapping
    invoice = Invoice(
        issuer_id=link.issuer_id,
        id=link.invoice_id,
        number=r["i_number"],
        payer=Payer(
            id=r["i_payer_id"],
            ref=r["p_ref"],
            name=r["p_name"],
            email=r["p_email"],
            phone=r["p_phone"],
            language=r["p_language"],
            timezone=r["p_timezone"],
            address=_loads(r["p_address"]),
        ),
        amount=r["i_amount"],
        currency=r["i_currency"],
        amount_paid=r["i_amount_paid"],
        status=InvoiceStatus(r["i_status"]),
        issue_date=r["i_issue_date"],
        due_date=r["i_due_date"],
        description=r["i_description"],
        tags=tuple(_loads(r["i_tags"]) or ()),
        reference=r["i_reference"],
        created_at=r["i_created_at"],
        updated_at=r["i_updated_at"],
        cancelled_at=r["i_cancelled_at"],
    )
    issuer = Issuer(
        id=link.issuer_id,
        name=r["s_name"],
        iban=r["s_iban"],
        bic=r["s_bic"],
        country=r["s_country"],
        timezone=r["s_timezone"],
        default_currency=r["s_default_currency"],
        branding=_loads(r["s_branding"]) or {},
        payment_methods=_loads(r["s_payment_methods"]) or [],
        created_at=r["s_created_at"],
    )
    content = (link.issuer_id, link.id, link.invoice_id, link.tan_hash is not None, values[n_link:])
    return PageView(link, invoice, issuer, content)


class PayLinkRepository:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        insert_rows(self.conn, pay_links, rows)

    def get(self, issuer_id: str, link_id: str) -> PayLink | None:
        row = self.conn.execute(
            sa.select(pay_links).where(
                pay_links.c.issuer_id == issuer_id, pay_links.c.id == link_id
            )
        ).first()
        return from_row(PayLink, row) if row else None

    def by_token_hash(self, token_hash: str) -> PayLink | None:
        row = self.conn.execute(
            sa.select(pay_links).where(pay_links.c.token_hash == token_hash)
        ).first()
        return from_row(PayLink, row) if row else None

    def page_view(self, token_hash: str) -> PageView | None:
        """The link with this token hash, its invoice, payer and issuer: one query."""
        row = self.conn.execute(
            _view_statement(self.conn.dialect.name), {"token_hash": token_hash}
        ).first()
        return _page_view(row) if row is not None else None

    def for_invoice(self, issuer_id: str, invoice_id: str) -> list[PayLink]:
        rows = self.conn.execute(
            sa.select(pay_links)
            .where(pay_links.c.issuer_id == issuer_id, pay_links.c.invoice_id == invoice_id)
            .order_by(pay_links.c.id)
        ).all()
        return [from_row(PayLink, r) for r in rows]

    def revoke(self, issuer_id: str, link_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            sa.update(pay_links)
            .where(
                pay_links.c.issuer_id == issuer_id,
                pay_links.c.id == link_id,
                pay_links.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    def count_open(self, link: PayLink, now: datetime) -> bool:
        """Count one open if the link is still under its limit and not revoked; False when the
        limit was reached (by this request or a concurrent one) or the link was revoked. One
        conditional UPDATE: atomic on both databases."""
        cond = [
            pay_links.c.issuer_id == link.issuer_id,
            pay_links.c.id == link.id,
            pay_links.c.revoked_at.is_(None),
        ]
        if link.max_opens is not None:
            cond.append(pay_links.c.open_count < pay_links.c.max_opens)
        result = self.conn.execute(
            sa.update(pay_links)
            .where(*cond)
            .values(open_count=pay_links.c.open_count + 1, last_opened_at=now)
        )
        return result.rowcount == 1

    def count_open_if_usable(self, link: PayLink, now: datetime) -> bool:
        """Count one open if the link may be opened now: not revoked, not expired, under its
        open limit and its failed-payment limit, not locked by wrong TANs
        (``domain.paylinks.refusal`` with ``counting_open``, in SQL). One conditional
        ``UPDATE … RETURNING``, atomic on both databases: of concurrent opens at the limit,
        only as many as the limit allows succeed. False when the link was refused."""
        counted = self.conn.execute(
            _COUNT_OPEN_IF_USABLE,
            {"b_issuer_id": link.issuer_id, "b_link_id": link.id, "b_now": now},
        ).first()
        return counted is not None

    def take_tan_attempt(self, link: PayLink) -> bool:
        """Count one TAN try if fewer than the maximum were wrong; False when locked."""
        result = self.conn.execute(
            sa.update(pay_links)
            .where(
                pay_links.c.issuer_id == link.issuer_id,
                pay_links.c.id == link.id,
                pay_links.c.tan_failures < MAX_TAN_ATTEMPTS,
            )
            .values(tan_failures=pay_links.c.tan_failures + 1)
        )
        return result.rowcount == 1

    def give_back_tan_attempt(self, link: PayLink) -> None:
        self.conn.execute(
            sa.update(pay_links)
            .where(pay_links.c.issuer_id == link.issuer_id, pay_links.c.id == link.id)
            .values(tan_failures=pay_links.c.tan_failures - 1)
        )

    def record_failed_payment(self, issuer_id: str, link_id: str) -> None:
        """Count a failed payment against a link (none when there is no such link)."""
        self.conn.execute(
            sa.update(pay_links)
            .where(pay_links.c.issuer_id == issuer_id, pay_links.c.id == link_id)
            .values(failed_attempts=pay_links.c.failed_attempts + 1)
        )

"""payments, provider notifications, payment methods, invoice tags

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:59:31.132156
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydue.adapters.db.types
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simulator_charges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("return_url", sa.String(length=2000), nullable=False),
        sa.Column("notify_url", sa.String(length=2000), nullable=False),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulator_charges")),
        sa.UniqueConstraint("reference", name=op.f("uq_simulator_charges_reference")),
    )
    op.create_table(
        "provider_events",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "received_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "processed_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_provider_events_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint(
            "issuer_id", "provider", "event_id", name=op.f("pk_provider_events")
        ),
    )
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_events_issuer_payment", ["issuer_id", "payment_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("pay_link_id", sa.String(length=40), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=100), nullable=True),
        sa.Column("received_amount", sa.BigInteger(), nullable=True),
        sa.Column("received_currency", sa.String(length=3), nullable=True),
        sa.Column("review_reason", sa.String(length=200), nullable=True),
        sa.Column("credit_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id", "invoice_id"],
            ["invoices.issuer_id", "invoices.id"],
            name=op.f("fk_payments_issuer_id_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_payments_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "id", name=op.f("pk_payments")),
        sa.UniqueConstraint("id", name=op.f("uq_payments_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_issuer_invoice", ["issuer_id", "invoice_id"], unique=False
        )

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "tags",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )

    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payment_methods",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.drop_column("payment_methods")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("tags")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_issuer_invoice")

    op.drop_table("payments")
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_events_issuer_payment")

    op.drop_table("provider_events")
    op.drop_table("simulator_charges")

"""disputes and payment plans on an invoice's follow-up

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydue.adapters.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = paydue.adapters.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("invoice_collection") as batch:
        batch.add_column(sa.Column("disputed_at", UTC, nullable=True))
        batch.add_column(sa.Column("dispute_reason", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("payment_plan_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("payment_plan_note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_collection") as batch:
        batch.drop_column("payment_plan_note")
        batch.drop_column("payment_plan_until")
        batch.drop_column("dispute_reason")
        batch.drop_column("disputed_at")

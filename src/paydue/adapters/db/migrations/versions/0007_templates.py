"""templates: issuers' own message templates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 05:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydue.adapters.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_message_templates_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint(
            "issuer_id", "key", "channel", "language", name=op.f("pk_message_templates")
        ),
    )


def downgrade() -> None:
    op.drop_table("message_templates")

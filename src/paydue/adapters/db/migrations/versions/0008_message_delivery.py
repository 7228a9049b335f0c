"""message delivery: the e-mail's HTML part, and messages found by id alone (callbacks)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("html", sa.Text(), nullable=True))
    op.create_index("ix_messages_id", "messages", ["id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_id", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("html")

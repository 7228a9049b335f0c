"""bank statements, their lines, the suspense queue, learned payer IBANs, audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:42:50.644544
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydue.adapters.db.types
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_audit_log_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_issuer_subject", ["issuer_id", "subject_id"], unique=False
        )

    op.create_table(
        "statements",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("bank_statement_id", sa.String(length=140), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("lines_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_matched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_suspense", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_debit", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_duplicate", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_ignored", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "imported_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_statements_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "id", name=op.f("pk_statements")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statements_issuer_file", ["issuer_id", "file_sha256"], unique=False
        )

    op.create_table(
        "payer_ibans",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("iban", sa.String(length=64), nullable=False),
        sa.Column("payer_id", sa.String(length=40), nullable=False),
        sa.Column("learned_from", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id", "payer_id"],
            ["payers.issuer_id", "payers.id"],
            name=op.f("fk_payer_ibans_issuer_id_payer_id_payers"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_payer_ibans_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "iban", "payer_id", name=op.f("pk_payer_ibans")),
    )
    op.create_table(
        "statement_lines",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("statement_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("counterparty_name", sa.Text(), nullable=True),
        sa.Column("counterparty_iban", sa.String(length=64), nullable=True),
        sa.Column("counterparty_bic", sa.String(length=16), nullable=True),
        sa.Column("structured_reference", sa.Text(), nullable=True),
        sa.Column("remittance_text", sa.Text(), nullable=True),
        sa.Column("end_to_end_id", sa.Text(), nullable=True),
        sa.Column("bank_reference", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("credit_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id", "statement_id"],
            ["statements.issuer_id", "statements.id"],
            name=op.f("fk_statement_lines_issuer_id_statement_id_statements"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_statement_lines_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint(
            "issuer_id", "fingerprint", name=op.f("uq_statement_lines_issuer_id_fingerprint")
        ),
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statement_lines_issuer_statement",
            ["issuer_id", "statement_id", "position"],
            unique=False,
        )

    op.create_table(
        "suspense_items",
        sa.Column("issuer_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "suggestions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("credit_id", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "resolved_at", paydue.adapters.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id", "line_id"],
            ["statement_lines.issuer_id", "statement_lines.id"],
            name=op.f("fk_suspense_items_issuer_id_line_id_statement_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_suspense_items_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "id", name=op.f("pk_suspense_items")),
        sa.UniqueConstraint(
            "issuer_id", "line_id", name=op.f("uq_suspense_items_issuer_id_line_id")
        ),
    )
    with op.batch_alter_table("suspense_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suspense_items_issuer_status", ["issuer_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suspense_items", schema=None) as batch_op:
        batch_op.drop_index("ix_suspense_items_issuer_status")

    op.drop_table("suspense_items")
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_statement_lines_issuer_statement")

    op.drop_table("statement_lines")
    op.drop_table("payer_ibans")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index("ix_statements_issuer_file")

    op.drop_table("statements")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_issuer_subject")

    op.drop_table("audit_log")

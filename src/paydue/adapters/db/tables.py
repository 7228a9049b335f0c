"""The schema. Every table carries ``issuer_id`` and has it in its keys, so the data can be
partitioned by issuer (PostgreSQL declarative partitioning or Citus) without a redesign."""

from __future__ import annotations

import sqlalchemy as sa

from paydue.adapters.db.types import JSONTextType, JSONType, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.String(40)


def _issuer_fk(table: str, *cols: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["issuer_id", *cols], [f"{table}.issuer_id", *(f"{table}.id" for _ in cols)]
    )


issuers = sa.Table(
    "issuers",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("iban", sa.String(34)),
    sa.Column("bic", sa.String(11)),
    sa.Column("country", sa.String(2)),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Berlin"),
    sa.Column("default_currency", sa.String(3), nullable=False, server_default="EUR"),
    sa.Column("branding", JSONType, nullable=False, server_default="{}"),
    # The methods the pay page offers, in order, with their eligibility rules (domain.routing).
    sa.Column("payment_methods", JSONType, nullable=False, server_default="[]"),
    # Counters handed out under the issuer row's lock: gap-free, ordered by commit.
    sa.Column("event_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reference_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(12), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

payers = sa.Table(
    "payers",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("ref", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320)),
    sa.Column("phone", sa.String(32)),
    sa.Column("language", sa.String(16)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("address", JSONType),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("issuer_id", "ref"),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("number", sa.String(100), nullable=False),
    sa.Column("payer_id", ID, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_paid", sa.BigInteger, nullable=False, server_default="0"),
    # A projection of the allocations (domain.invoices.derive_status), kept for filtering.
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("tags", JSONType),
    sa.Column("reference", sa.String(25), nullable=False),
    sa.Column("badge_token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("cancelled_at", UTCDateTime),
    _issuer_fk("payers", "payer_id"),
    sa.UniqueConstraint("issuer_id", "number"),
    sa.UniqueConstraint("issuer_id", "reference"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.Index("ix_invoices_issuer_status_due", "issuer_id", "status", "due_date"),
    sa.Index("ix_invoices_issuer_payer", "issuer_id", "payer_id"),
)

pay_links = sa.Table(
    "pay_links",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("channel", sa.String(32)),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("max_opens", sa.Integer),
    sa.Column("open_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_failed_attempts", sa.Integer),
    sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tan_hash", sa.String(64)),
    sa.Column("tan_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_opened_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _issuer_fk("invoices", "invoice_id"),
    sa.Index("ix_pay_links_issuer_invoice", "issuer_id", "invoice_id"),
)

credits = sa.Table(
    "credits",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),  # external, provider, bank
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("credit_id", ID, nullable=False),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _issuer_fk("credits", "credit_id"),
    _issuer_fk("invoices", "invoice_id"),
    sa.Index("ix_allocations_issuer_invoice", "issuer_id", "invoice_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", ID, nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("data", JSONTextType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_types", JSONType, nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The outbox: work that must happen after a commit (deliver a webhook, later: process a
# provider notification, send a message). Written in the same transaction as its cause.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # pending, running, done, dead
    sa.Column("run_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("locked_by", sa.String(64)),
    sa.Column("event_id", ID),
    sa.Column("endpoint_id", ID),
    sa.Column("payload", JSONType),
    sa.Column("last_error", sa.String(1000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Index("ix_jobs_status_run_at", "status", "run_at"),
    sa.Index("ix_jobs_issuer_endpoint", "issuer_id", "endpoint_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("job_id", ID, nullable=False),
    sa.Column("endpoint_id", ID, nullable=False),
    sa.Column("event_id", ID, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(500)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.String(500)),
    sa.Index("ix_webhook_attempts_issuer_endpoint", "issuer_id", "endpoint_id", "attempted_at"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    # Who holds the key now: a request that lost its expired lock to a retry cannot finish.
    sa.Column("claim", sa.String(48), nullable=False),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("response_status", sa.Integer),
    sa.Column("response_body", sa.LargeBinary),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# --- bank statements and the suspense queue ---------------------------------------------------

# One statement of one account as read from an imported file; a file may hold several.
statements = sa.Table(
    "statements",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("format", sa.String(40), nullable=False),
    sa.Column("account", sa.String(64)),
    sa.Column("bank_statement_id", sa.String(140)),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("lines_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_matched", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_suspense", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_debit", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_duplicate", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_ignored", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_returned", sa.Integer, nullable=False, server_default="0"),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Index("ix_statements_issuer_file", "issuer_id", "file_sha256"),
)

# Every booked line imported once: the fingerprint is unique per issuer, so an overlapping or
# repeated file (or two imports at once) never books a line twice.
statement_lines = sa.Table(
    "statement_lines",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("statement_id", ID, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("booking_date", sa.Date, nullable=False),
    sa.Column("value_date", sa.Date),
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed: credits positive
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("counterparty_name", sa.Text),
    sa.Column("counterparty_iban", sa.String(64)),
    sa.Column("counterparty_bic", sa.String(16)),
    sa.Column("structured_reference", sa.Text),
    sa.Column("remittance_text", sa.Text),
    sa.Column("end_to_end_id", sa.Text),
    sa.Column("bank_reference", sa.Text),
    # Why a debit is a return (SEPA reason code such as AC04, else the marker that said so).
    sa.Column("return_reason", sa.String(40)),
    # matched, suspense, debit, ignored, returned
    sa.Column("outcome", sa.String(12), nullable=False),
    sa.Column("rule", sa.String(20)),
    sa.Column("confidence", sa.Float),
    sa.Column("explanation", sa.Text),
    sa.Column("credit_id", ID),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _issuer_fk("statements", "statement_id"),
    sa.UniqueConstraint("issuer_id", "fingerprint"),
    sa.Index("ix_statement_lines_issuer_statement", "issuer_id", "statement_id", "position"),
    sa.Index("ix_statement_lines_issuer_amount", "issuer_id", "amount"),
)

suspense_items = sa.Table(
    "suspense_items",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("line_id", ID, nullable=False),
    # open, assigned, refund_pending, other_income
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("suggestions", JSONType, nullable=False),
    sa.Column("credit_id", ID),  # the credit booked by a manual assignment
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("resolved_by", sa.String(100)),
    sa.Column("note", sa.String(500)),
    _issuer_fk("statement_lines", "line_id"),
    sa.UniqueConstraint("issuer_id", "line_id"),
    sa.Index("ix_suspense_items_issuer_status", "issuer_id", "status", "id"),
)

# Facts learned from confident matches and manual assignments: money from ``iban`` came from
# ``payer_id``. ``learned_from`` is the statement line that taught it (undoing an assignment
# forgets what it taught).
payer_ibans = sa.Table(
    "payer_ibans",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("iban", sa.String(64), primary_key=True),
    sa.Column("payer_id", ID, primary_key=True),
    sa.Column("learned_from", ID, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _issuer_fk("payers", "payer_id"),
)

# Who (an API key id) did what to a suspense item, append-only.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_audit_log_issuer_subject", "issuer_id", "subject_id"),
)

# --- payments through providers ---------------------------------------------------------------

# One attempt to pay an invoice through a provider. Its id is the reference the provider echoes
# in its notifications, so it is unique on its own too.
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True, unique=True),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("pay_link_id", ID),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("failure_reason", sa.String(32)),
    sa.Column("provider_payment_id", sa.String(100)),
    # What the provider said it took, when that differs from what was asked (held for review).
    sa.Column("received_amount", sa.BigInteger),
    sa.Column("received_currency", sa.String(3)),
    sa.Column("review_reason", sa.String(200)),
    sa.Column("credit_id", ID),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    _issuer_fk("invoices", "invoice_id"),
    sa.Index("ix_payments_issuer_invoice", "issuer_id", "invoice_id"),
)

# Every notification a provider sent for an issuer's account, as received (raw bytes), once per
# provider event id. One naming no payment of that issuer is kept as ``ignored`` and changes
# nothing.
provider_events = sa.Table(
    "provider_events",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("payment_id", ID),
    sa.Column("status", sa.String(12), nullable=False),  # received, processed, ignored
    sa.Column("outcome", sa.String(300)),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime),
    sa.Index("ix_provider_events_issuer_payment", "issuer_id", "payment_id"),
)

# The built-in simulator's own books: what a real provider keeps on its side. ``account`` is the
# merchant account, the issuer.
simulator_charges = sa.Table(
    "simulator_charges",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account", ID, nullable=False),
    sa.Column("reference", ID, nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("failure_reason", sa.String(32)),
    sa.Column("return_url", sa.String(2000), nullable=False),
    sa.Column("notify_url", sa.String(2000), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --- reconciliation settings and journal ------------------------------------------------------

# Per-issuer reconciliation settings; a missing row or a null column means the global default.
reconciliation_settings = sa.Table(
    "reconciliation_settings",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("match_threshold", sa.Float),
    # How the issuer's bank writes CSV statements (formats.statements.csv.CsvMapping as JSON).
    sa.Column("csv_mapping", JSONType),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Every reconciliation booking, append-only, for the issuer's ERP: one row per invoice a credit
# was allocated to or taken back from, and one per suspense item opened.
reconciliation_journal = sa.Table(
    "reconciliation_journal",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    # bank_credit, manual_assignment, reversal, return, suspense_opened
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed minor units
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("invoice_id", ID),
    sa.Column("invoice_number", sa.String(100)),
    sa.Column("credit_id", ID),
    sa.Column("line_id", ID),
    sa.Column("suspense_item_id", ID),
    sa.Column("rule", sa.String(40)),
    sa.Column("actor", sa.String(100)),
    sa.Column("detail", sa.String(500)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_reconciliation_journal_issuer_created", "issuer_id", "created_at", "id"),
)

# --- message templates ------------------------------------------------------------------------

# An issuer's own text for a message (key: a policy step's template) on a channel in a language;
# without a row the shipped default is used. Parts a channel does not have are null.
message_templates = sa.Table(
    "message_templates",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("language", sa.String(8), primary_key=True),
    sa.Column("subject", sa.Text),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --- collections: policies, follow-up state, payer channels, messages -------------------------

# A collections policy as the issuer wrote it (domain.dunning.policy_to_data). At most one per
# issuer is the default; the built-in DEFAULT_POLICY applies when none is.
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("document", JSONType, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("issuer_id", "name"),
)

# An issuer's channel costs (channel → minor units per message; absent: the built-in costs) and
# contact rules (domain.contact.ContactRules as JSON; absent: the defaults).
collection_settings = sa.Table(
    "collection_settings",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("channel_costs", JSONType),
    sa.Column("contact_rules", JSONType),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The follow-up of one payer: their policy (a segment of one), a pause, the preferred channel.
payer_collection = sa.Table(
    "payer_collection",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("payer_id", ID, primary_key=True),
    sa.Column("policy_id", ID),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused_until", sa.Date),
    sa.Column("preferred_channel", sa.String(16)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _issuer_fk("payers", "payer_id"),
)

# What is known about reaching a payer on one channel: an address beyond the payer's e-mail,
# phone and postal address (a push subscription, a webhook URL), consent (null: the channel's
# default), opt-out, the last hard bounce and the failed deliveries in a row.
payer_channels = sa.Table(
    "payer_channels",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("payer_id", ID, primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(2000)),
    sa.Column("consent", sa.Boolean),
    sa.Column("opted_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("hard_bounced_on", sa.Date),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _issuer_fk("payers", "payer_id"),
)

# The follow-up of one invoice: the policy steps sent (offsets), when the sweep next looks at it
# (null: not until something changes), why it is held, the issuer's pause and a promise to pay.
invoice_collection = sa.Table(
    "invoice_collection",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("invoice_id", ID, primary_key=True),
    sa.Column("payer_id", ID, nullable=False),
    sa.Column("policy_id", ID),
    sa.Column("sent_offsets", JSONType, nullable=False),
    sa.Column("next_action_at", UTCDateTime),
    sa.Column("hold_reason", sa.String(20)),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused_until", sa.Date),
    sa.Column("promise_to_pay_on", sa.Date),
    # disputed while ``disputed_at`` is set; a payment plan holds reminders through its last day
    sa.Column("disputed_at", UTCDateTime),
    sa.Column("dispute_reason", sa.String(1000)),
    sa.Column("payment_plan_until", sa.Date),
    sa.Column("payment_plan_note", sa.String(500)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _issuer_fk("invoices", "invoice_id"),
    sa.Index("ix_invoice_collection_next_action_at", "next_action_at"),
    sa.Index("ix_invoice_collection_issuer_payer", "issuer_id", "payer_id"),
)

# One outbound contact on one channel. A reminder is keyed by its lead invoice (the bundle's
# oldest), that invoice's step and attempt: the same reminder cannot be written twice.
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(12), nullable=False),  # reminder, link
    sa.Column("payer_id", ID, nullable=False),
    sa.Column("subject_key", ID, nullable=False),
    sa.Column("step_offset", sa.Integer),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("template", sa.String(64)),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("to", sa.String(2000)),
    # queued, sent, delivered, bounced, failed, skipped
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("subject", sa.String(300)),
    sa.Column("body", sa.Text),
    sa.Column("html", sa.Text),  # the e-mail's HTML part
    sa.Column("language", sa.String(16)),
    sa.Column("pay_link_id", ID),
    sa.Column("pay_url", sa.String(300)),
    sa.Column("cost", sa.BigInteger),
    sa.Column("cost_currency", sa.String(3)),
    sa.Column("provider_id", sa.String(200)),
    sa.Column("error", sa.String(1000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("issuer_id", "subject_key", "step_offset", "attempt"),
    sa.Index("ix_messages_issuer_payer_created", "issuer_id", "payer_id", "created_at"),
    sa.Index("ix_messages_id", "id"),  # delivery callbacks name only the message
)

# The invoices a message is about, each with its own step, attempt and pay link: an invoice's
# (step, attempt) goes out once, however the reminders are bundled.
message_invoices = sa.Table(
    "message_invoices",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("message_id", ID, primary_key=True),
    sa.Column("invoice_id", ID, primary_key=True),
    sa.Column("step_offset", sa.Integer),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("pay_link_id", ID),
    _issuer_fk("messages", "message_id"),
    _issuer_fk("invoices", "invoice_id"),
    sa.UniqueConstraint("issuer_id", "invoice_id", "step_offset", "attempt"),
)

# --- provider payouts (clearing) ----------------------------------------------------------------

# A provider's payout: many succeeded payments settled in one bank credit of ``net`` (gross minus
# the provider's fees), identified by the provider's reference. ``open`` until the bank credit
# arrives (``settled``) or a credit with its reference does not fit (``difference``).
payouts = sa.Table(
    "payouts",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("reference", sa.String(140), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("gross", sa.BigInteger, nullable=False),
    sa.Column("fees", sa.BigInteger, nullable=False),
    sa.Column("net", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # open, settled, difference
    sa.Column("line_id", ID),  # the statement line that settled it or did not fit
    sa.Column("received_amount", sa.BigInteger),  # what that line brought
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.UniqueConstraint("issuer_id", "provider", "reference"),
    sa.CheckConstraint("net = gross - fees", name="net_is_gross_minus_fees"),
    sa.Index("ix_payouts_issuer_status", "issuer_id", "status", "id"),
)

# The payments a payout settles; a payment is paid out at most once.
payout_items = sa.Table(
    "payout_items",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("payout_id", ID, primary_key=True),
    sa.Column("payment_id", ID, primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    _issuer_fk("payouts", "payout_id"),
    _issuer_fk("payments", "payment_id"),
    sa.UniqueConstraint("issuer_id", "payment_id"),
)

# --- campaigns --------------------------------------------------------------------------------

# A batch send of pay links on one channel to a list of payers (payer refs from a CSV, or a
# filter on their unpaid invoices), at most ``rate_per_minute`` messages a minute. ``running``
# until every recipient was queued or skipped, then ``done``.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),  # refs, filter
    sa.Column("filter", JSONType),
    sa.Column("rate_per_minute", sa.Integer, nullable=False),
    sa.Column("expires_in_hours", sa.Float),
    sa.Column("status", sa.String(12), nullable=False),  # running, done
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
)

# One payer of a campaign, written once per (campaign, payer ref): a retry never sends twice.
# ``pending`` until ``send_at`` (its place in the rate limit, or the payer's next contact
# window), then ``queued`` with its message (whose status tells the rest), or ``skipped`` with
# the reason (unknown payer, nothing to pay, no address, opted out, weekly cap).
campaign_recipients = sa.Table(
    "campaign_recipients",
    metadata,
    sa.Column("issuer_id", ID, sa.ForeignKey("issuers.id"), primary_key=True),
    sa.Column("campaign_id", ID, primary_key=True),
    sa.Column("payer_ref", sa.String(100), primary_key=True),
    sa.Column("payer_id", ID),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # pending, queued, skipped
    sa.Column("reason", sa.String(500)),
    sa.Column("send_at", UTCDateTime, nullable=False),
    sa.Column("message_id", ID),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _issuer_fk("campaigns", "campaign_id"),
    sa.Index("ix_campaign_recipients_due", "issuer_id", "campaign_id", "status", "send_at"),
)

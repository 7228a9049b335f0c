"""Settings from the environment (prefix ``PAYDUE_``) or a ``.env`` file."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "insecure-development-secret-change-me"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYDUE_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///paydue.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql://… in production",
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="PostgreSQL connections a process keeps open"
    )
    database_max_overflow: int = Field(
        default=20,
        ge=0,
        description="extra PostgreSQL connections a process may open under load; the sum over "
        "all processes must stay below the server's max_connections",
    )
    secret_key: str = DEFAULT_SECRET
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    webhook_allow_private: bool = Field(
        default=False,
        description="allow webhook URLs on loopback/private networks (local development only)",
    )
    webhook_connect_timeout_seconds: float = 5.0
    webhook_timeout_seconds: float = 10.0
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 0.5
    worker_batch_size: int = Field(default=100, ge=1, description="jobs claimed at a time")
    worker_batches_in_flight: int = Field(
        default=2,
        ge=1,
        description="claimed batches a worker runs at once: the next is claimed while one runs",
    )
    worker_concurrency: int = Field(
        default=100, ge=1, description="outbound requests in flight per worker process"
    )
    idempotency_lock_seconds: float = 60.0
    collections_sweep_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how often an idle worker runs the collections sweep; 0: never",
    )
    match_threshold: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description="confidence from which a bank credit is booked without review",
    )
    # outbound channels (adapters/channels): a channel left unconfigured is the outbox in
    # development and absent otherwise
    outbox_dir: str = Field(default="outbox", description="where the development outbox writes")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = 30.0
    email_from: str = "paydue <noreply@localhost>"
    email_reply_to: str | None = None
    email_unsubscribe_url: str | None = Field(
        default=None, description="one-click unsubscribe URL, {id} is the message id"
    )
    email_unsubscribe_mailto: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    twilio_status_callback_url: str | None = Field(
        default=None,
        description="where Twilio posts delivery statuses; default PAYDUE_BASE_URL + "
        "/inbound/channels/twilio/status (signatures are checked against PAYDUE_BASE_URL)",
    )
    twilio_gather_url: str | None = Field(
        default=None,
        description="where a call's 'press 1' answer is posted; default PAYDUE_BASE_URL + "
        "/inbound/channels/twilio/gather",
    )
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    sms_gateway_callback_secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 key of the gateway's delivery callbacks (X-Signature); unset: "
        "the callback endpoint refuses every report",
    )
    email_bounce_token: str | None = Field(
        default=None,
        description="the bearer token a mail relay presents when it posts a bounce (DSN) to "
        "/inbound/channels/email/bounce; unset: the endpoint refuses every bounce",
    )
    sms_gateway_body_template: str = '{"to": "{to}", "text": "{text}", "reference": "{id}"}'
    vapid_private_key: str | None = None
    vapid_subject: str | None = Field(default=None, description="mailto: or https: contact")
    letter_export_dir: str | None = None
    print_api_url: str | None = None
    print_api_token: str | None = None
    channel_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                raise ValueError(
                    "PAYDUE_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
            if self.is_sqlite:
                raise ValueError("production needs PostgreSQL: set PAYDUE_DATABASE_URL")
        return self

    @model_validator(mode="after")
    def _lease_outlives_a_batch(self) -> Settings:
        """A claimed batch must finish before its lease runs out, or another worker would take
        its jobs and send them again while they are still being sent."""
        waves = math.ceil(
            self.worker_batch_size * self.worker_batches_in_flight / self.worker_concurrency
        )
        longest = waves * (self.webhook_connect_timeout_seconds + self.webhook_timeout_seconds)
        if self.worker_lease_seconds <= longest:
            raise ValueError(
                f"PAYDUE_WORKER_LEASE_SECONDS ({self.worker_lease_seconds:g}) must exceed the "
                f"longest a claimed batch can take ({longest:g} s: batch size x batches in flight "
                "/ concurrency, times the connect plus read timeout)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def secret_bytes(self) -> bytes:
        return self.secret_key.encode()

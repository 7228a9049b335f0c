"""Production mode refuses unsafe settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paydue.config import DEFAULT_SECRET, Settings

PG = "postgresql://paydue@db.internal/paydue"
STRONG = "x" * 40


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValidationError, match="PAYDUE_SECRET_KEY"):
        Settings(env="production", database_url=PG, secret_key=DEFAULT_SECRET)


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(env="production", database_url=PG, secret_key="short")


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(env="production", database_url="sqlite:///paydue.db", secret_key=STRONG)


def test_production_accepts_postgresql_and_a_real_secret() -> None:
    settings = Settings(env="production", database_url=PG, secret_key=STRONG)
    assert not settings.is_sqlite


def test_settings_come_from_paydue_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDUE_BASE_URL", "https://pay.example.org")
    monkeypatch.setenv("PAYDUE_WEBHOOK_ALLOW_PRIVATE", "true")
    settings = Settings()
    assert settings.base_url == "https://pay.example.org"
    assert settings.webhook_allow_private is True


def test_a_worker_lease_shorter_than_a_batch_can_take_is_refused() -> None:
    with pytest.raises(ValidationError, match="PAYDUE_WORKER_LEASE_SECONDS"):
        Settings(worker_lease_seconds=10, webhook_timeout_seconds=10)

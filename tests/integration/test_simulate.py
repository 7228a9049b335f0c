"""``paydue simulate``: a small portfolio through the default policy for 90 simulated days, on
the production code path, in seconds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paydue.cli import app

TIMEZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def portfolio(path: Path, count: int = 16) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "number",
                "payer_ref",
                "payer_name",
                "payer_email",
                "payer_phone",
                "payer_timezone",
                "address_line1",
                "postal_code",
                "city",
                "country",
                "amount",
                "currency",
                "issue_date",
                "due_date",
            ]
        )
        for i in range(count):
            due = f"2026-10-{1 + i % 28:02d}"
            w.writerow(
                [
                    f"SIM-{i}",
                    f"P{i % 12}",
                    f"Payer {i % 12}",
                    f"p{i % 12}@example.org",
                    f"+49151000{i:04d}" if i % 2 else "",
                    TIMEZONES[i % 4],
                    "Hauptstr. 1",
                    "10115",
                    "Berlin",
                    "DE",
                    "120.50",
                    "EUR",
                    "2026-09-15",
                    due,
                ]
            )
    return path


def test_ninety_days_of_a_portfolio_in_simulated_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYDUE_DATABASE_URL", raising=False)
    behaviour = tmp_path / "behaviour.json"
    behaviour.write_text(json.dumps({"seed": 7, "never_pay": 0.25, "bounce": {"email": 0.2}}))
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "name": "firm",
                "steps": [
                    {"offset_days": 0, "template": "due_today"},
                    {"offset_days": 7, "template": "overdue_first"},
                    {
                        "offset_days": 21,
                        "template": "overdue_second",
                        "channels": ["sms", "letter"],
                    },
                ],
            }
        )
    )
    args = ["simulate", "--portfolio", str(portfolio(tmp_path / "p.csv"))]
    args += ["--policy", str(policy), "--behaviour", str(behaviour), "--days", "90", "--json"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["days"] == 90
    assert data["invoices"] == 16
    days = data["share_paid_by_day"]
    assert len(days) == 90
    paid = [d["paid"] for d in days]
    assert paid == sorted(paid)  # paid invoices stay paid
    assert paid[-1] == data["paid_before_due"] + data["paid_after_contact"]
    assert 0 < paid[-1] < 16  # some pay, the ones who never pay do not
    assert data["contacts"]["email"] > 0
    assert data["bounced"].get("email", 0) > 0
    # the letters of the last step cost what the built-in costs say
    assert data["cost"]["by_channel"].get("letter", 0) == 95 * data["contacts"].get("letter", 0)
    assert data["cost"]["total"] == sum(data["cost"]["by_channel"].values())

    shown = CliRunner().invoke(app, [*args[:-1], "--days", "10"])
    assert shown.exit_code == 0, shown.output
    assert "Contacts per channel" in shown.output
    assert "share paid by day" in shown.output

"""Which channels the settings give: the outbox in development, the real adapters when set."""

from __future__ import annotations

from pathlib import Path

from py_vapid import Vapid02

from paydue.adapters.channels import CHANNELS, registry
from paydue.adapters.channels.email import SmtpEmail
from paydue.adapters.channels.letter import LetterExport, PrintApiLetters
from paydue.adapters.channels.outbox import Outbox
from paydue.adapters.channels.push import WebPush
from paydue.adapters.channels.sms import GatewaySms, TwilioSms
from paydue.adapters.channels.voice import TwilioVoice
from paydue.adapters.channels.webhook import WebhookChannel
from paydue.config import Settings


def test_development_sends_every_channel_to_the_outbox(tmp_path: Path) -> None:
    channels = registry(Settings(env="development", outbox_dir=str(tmp_path)))
    assert set(channels) == set(CHANNELS)
    assert all(isinstance(c, Outbox) for c in channels.values())


def test_configured_services_are_used_and_the_rest_stay_in_the_outbox(tmp_path: Path) -> None:
    settings = Settings(
        env="development",
        smtp_host="127.0.0.1",
        sms_gateway_url="http://127.0.0.1:9/sms",
        letter_export_dir=str(tmp_path),
    )
    channels = registry(settings)
    assert isinstance(channels["email"], SmtpEmail)
    assert isinstance(channels["sms"], GatewaySms)
    assert isinstance(channels["letter"], LetterExport)
    assert isinstance(channels["voice"], Outbox)
    channels["email"].close()  # type: ignore[attr-defined]


def test_outside_development_only_configured_channels_exist() -> None:
    vapid = Vapid02()
    vapid.generate_keys()
    settings = Settings(
        env="test",
        twilio_account_sid="AC1",
        twilio_auth_token="token",
        twilio_from="+15005550006",
        vapid_private_key=vapid.private_pem().decode(),
        vapid_subject="mailto:ops@paydue.example",
        print_api_url="https://print.example/letters",
    )
    channels = registry(settings)
    assert set(channels) == {"sms", "voice", "push", "letter", "webhook"}
    assert isinstance(channels["sms"], TwilioSms)
    assert isinstance(channels["voice"], TwilioVoice)
    assert isinstance(channels["push"], WebPush)
    assert isinstance(channels["letter"], PrintApiLetters)
    assert isinstance(channels["webhook"], WebhookChannel)
    channels["webhook"].http.close()  # type: ignore[attr-defined]

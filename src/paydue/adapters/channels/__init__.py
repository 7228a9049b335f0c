"""The outbound channels and their registry (see ``base`` for the port).

:func:`registry` builds the configured channels by name from the settings. A channel whose
service is configured is the real adapter; one that is not is the file outbox in development
(so ``paydue demo`` shows every message) and left out otherwise, so nothing is sent where the
operator did not say where to.
"""

from __future__ import annotations

from paydue.adapters.channels.base import Channel
from paydue.adapters.channels.email import EmailBuilder, SmtpEmail
from paydue.adapters.channels.letter import LetterExport, PrintApiLetters
from paydue.adapters.channels.outbox import Outbox
from paydue.adapters.channels.push import WebPush
from paydue.adapters.channels.sms import GatewaySms, TwilioSms
from paydue.adapters.channels.twilio import GATHER_PATH, STATUS_CALLBACK_PATH
from paydue.adapters.channels.voice import TwilioVoice
from paydue.adapters.channels.webhook import WebhookChannel, derived_secret
from paydue.adapters.clock import Clock
from paydue.adapters.http import HttpClient
from paydue.config import Settings

CHANNELS = ("email", "sms", "voice", "push", "letter", "webhook")


def _email_builder(settings: Settings) -> EmailBuilder:
    return EmailBuilder(
        from_address=settings.email_from,
        reply_to=settings.email_reply_to,
        unsubscribe_url=settings.email_unsubscribe_url,
        unsubscribe_mailto=settings.email_unsubscribe_mailto,
    )


def configured(
    settings: Settings, *, http: HttpClient | None = None, clock: Clock | None = None
) -> dict[str, Channel]:
    """The channels whose service the settings configure."""
    s = settings
    timeout = s.channel_timeout_seconds
    found: dict[str, Channel] = {}
    if s.smtp_host:
        found["email"] = SmtpEmail(
            s.smtp_host,
            s.smtp_port,
            _email_builder(s),
            tls=s.smtp_tls,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout=s.smtp_timeout_seconds,
        )
    twilio = s.twilio_account_sid and s.twilio_auth_token
    status_callback = s.twilio_status_callback_url or s.base_url.rstrip("/") + STATUS_CALLBACK_PATH
    if twilio and (s.twilio_from or s.twilio_messaging_service_sid):
        assert s.twilio_account_sid is not None
        assert s.twilio_auth_token is not None
        found["sms"] = TwilioSms(
            s.twilio_account_sid,
            s.twilio_auth_token,
            from_number=s.twilio_from,
            messaging_service_sid=s.twilio_messaging_service_sid,
            status_callback=status_callback,
            base_url=s.twilio_base_url,
            timeout=timeout,
        )
    elif s.sms_gateway_url:
        found["sms"] = GatewaySms(
            s.sms_gateway_url,
            s.sms_gateway_token,
            body_template=s.sms_gateway_body_template,
            timeout=timeout,
        )
    if twilio and s.twilio_from:
        assert s.twilio_account_sid is not None
        assert s.twilio_auth_token is not None
        found["voice"] = TwilioVoice(
            s.twilio_account_sid,
            s.twilio_auth_token,
            from_number=s.twilio_from,
            gather_url=s.twilio_gather_url or s.base_url.rstrip("/") + GATHER_PATH,
            status_callback=status_callback,
            base_url=s.twilio_base_url,
            timeout=timeout,
        )
    if s.vapid_private_key and s.vapid_subject:
        found["push"] = WebPush(
            s.vapid_private_key,
            s.vapid_subject,
            timeout=timeout,
            allow_private=s.webhook_allow_private,
        )
    if s.print_api_url:
        found["letter"] = PrintApiLetters(s.print_api_url, s.print_api_token)
    elif s.letter_export_dir:
        found["letter"] = LetterExport(s.letter_export_dir, clock=clock)
    if s.env != "development":
        client = http or HttpClient(
            connect_timeout=s.webhook_connect_timeout_seconds,
            read_timeout=s.webhook_timeout_seconds,
            allow_private=s.webhook_allow_private,
        )
        found["webhook"] = WebhookChannel(client, derived_secret(s.secret_bytes), clock=clock)
    return found


def registry(
    settings: Settings, *, http: HttpClient | None = None, clock: Clock | None = None
) -> dict[str, Channel]:
    """Every channel paydue can send on, by name: the configured ones, and in development the
    outbox for the rest."""
    channels = configured(settings, http=http, clock=clock)
    if settings.env == "development":
        outbox = Outbox(settings.outbox_dir, email=_email_builder(settings))
        for name in CHANNELS:
            channels.setdefault(name, outbox)
    return channels

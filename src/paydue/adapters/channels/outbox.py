"""The development outbox: every message becomes a file, and a line in the log.

For ``paydue demo`` and local development, where nothing may leave the machine: e-mail is
written as the ``.eml`` the SMTP channel would send (open it in any mail client), push and
webhook messages as ``.json``, everything else (sms, voice, letter) as ``.txt``. It accepts every
message (only a folder that cannot be written refuses, retryable); the provider id is the
file's name.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from paydue.adapters.channels.base import OutboundMessage, SendResult
from paydue.adapters.channels.email import EmailBuilder

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Outbox:
    name = "outbox"

    def __init__(self, folder: Path | str, *, email: EmailBuilder | None = None) -> None:
        self.folder = Path(folder)
        self.email = email or EmailBuilder(from_address="paydue <outbox@localhost>")

    def _content(self, message: OutboundMessage) -> tuple[str, bytes]:
        if message.channel == "email":
            try:
                return "eml", self.email.build(message).as_bytes()
            except (ValueError, TypeError) as exc:
                log.warning("outbox: e-mail %s cannot be built (%s); kept as text", message.id, exc)
        if message.channel in ("push", "webhook"):
            data = {
                "id": message.id,
                "issuer_id": message.issuer_id,
                "channel": message.channel,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                "language": message.language,
                "pay_url": message.pay_url,
                "headers": dict(message.headers),
            }
            return "json", json.dumps(data, ensure_ascii=False, indent=2).encode()
        lines = [
            f"Channel: {message.channel}",
            f"To: {message.to}",
            f"Language: {message.language}",
            f"Pay-URL: {message.pay_url or ''}",
            f"Subject: {message.subject or ''}",
            *(f"Attachment: {a.filename} ({a.media_type})" for a in message.attachments),
            "",
            message.text,
        ]
        return "txt", "\n".join(lines).encode()

    def send(self, message: OutboundMessage) -> SendResult:
        suffix, content = self._content(message)
        name = f"{_UNSAFE.sub('_', message.channel)}-{_UNSAFE.sub('_', message.id)}.{suffix}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(content)
        except OSError as exc:
            return SendResult(accepted=False, error=f"outbox: {exc}"[:500], retryable=True)
        first_line = " ".join(message.to.split())[:60]
        log.info(
            "outbox: %s to %s%s -> %s",
            message.channel,
            first_line,
            f" ({message.pay_url})" if message.pay_url else "",
            self.folder / name,
        )
        return SendResult(accepted=True, provider_id=name)

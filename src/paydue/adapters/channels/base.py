"""The port every outbound channel implements (email, sms, voice, push, letter, webhook, outbox).

A channel adapter only delivers: it takes one rendered ``OutboundMessage`` and hands it to the
channel's service (an SMTP server, an SMS API, a print house…), answering with a ``SendResult``:
accepted (with the service's own id, for delivery callbacks, and the cost when known), or
refused with a reason and whether trying again could help. Choosing the channel, rendering
templates, contact rules, retries and status tracking are the collections services' work.

A new channel is one module here, one line in ``channels.registry``, and passing the contract
tests in ``tests/contract/test_channels.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one payer on one channel, already rendered."""

    id: str
    """paydue's message id: idempotency key towards the service, and the reference its
    delivery callbacks carry."""
    issuer_id: str
    channel: str
    to: str
    """The address on this channel: e-mail address, E.164 number, push subscription JSON,
    postal address block, webhook URL."""
    subject: str | None = None
    text: str = ""
    html: str | None = None
    language: str = "en"
    pay_url: str | None = None
    attachments: Sequence[Attachment] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    accepted: bool
    provider_id: str | None = None
    """The service's id for the message, which its delivery callbacks name."""
    cost_minor: int | None = None
    """What the service charges for it, in minor units of ``cost_currency``, when it says."""
    cost_currency: str | None = None
    error: str | None = None
    retryable: bool = False
    """For a refusal: whether the same message may succeed later (timeout, 5xx, rate limit)."""


class Channel(Protocol):
    name: str
    """email, sms, voice, push, letter, webhook, outbox."""

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; never raises for a refusal by the service (that is a
        ``SendResult`` with ``accepted=False``)."""
        ...

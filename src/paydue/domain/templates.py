"""Message templates: which parts a channel's message has, the variables a template may use, and
the data a reminder is rendered from.

A template is identified by its key (a policy step's ``template``), channel and language. The
rendering itself (Jinja2's sandbox) lives in ``services.templates``; what is here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from paydue.domain.dunning import DEFAULT_POLICY, TEMPLATE_KEY
from paydue.domain.errors import InvalidInput
from paydue.domain.money import Money

Part = Literal["subject", "text", "html"]

LANGUAGES: Final = ("en", "de", "fr", "nl", "it", "ro")
FALLBACK_LANGUAGE: Final = "en"

CHANNEL_PARTS: Final[dict[str, tuple[Part, ...]]] = {
    "email": ("subject", "text", "html"),
    "sms": ("text",),
    "whatsapp": ("text",),
    "voice": ("text",),
    "push": ("subject", "text"),  # title and body
    "letter": ("text",),  # the body block; the letter layout adds address, summary and QR codes
    "webhook": ("subject", "text"),
}
"""The parts a message of each channel has; every part listed is required."""

CHANNELS: Final = tuple(CHANNEL_PARTS)

DEFAULT_KEYS: Final = (*dict.fromkeys(step.template for step in DEFAULT_POLICY.steps), "pay_link")
"""Keys shipped with defaults: the default policy's steps, and ``pay_link`` for a link sent on
its own (campaigns, agent mode)."""

MAX_TEMPLATE_CHARS: Final = 20_000
MAX_SUBJECT_CHARS: Final = 500

VARIABLES: Final[dict[str, str]] = {
    "payer_name": "the payer's name",
    "invoices": "the invoices of the message, oldest due date first: each has number, amount "
    "(the amount due, formatted), due_date (formatted) and pay_link (its own pay link)",
    "invoice_numbers": "the invoice numbers, comma-separated",
    "invoice_count": "how many invoices the message covers",
    "due_date": "the earliest due date among them, formatted",
    "total": "the total due, formatted in the payer's language",
    "currency": "the ISO 4217 code of the total",
    "fee": "the reminder fee of the step, formatted, or empty",
    "pay_link": "the message's own pay link",
    "link_qr_url": "a PNG image of the pay link's QR code",
    "epc_qr_url": "a PNG image of the EPC QR code (SEPA transfer), or empty where there is none",
    "issuer_name": "the issuer's display name",
    "issuer_email": "the issuer's support e-mail address, or empty",
    "issuer_phone": "the issuer's support phone number, or empty",
}
"""The allow-list: a template that names anything else is refused when saved and when rendered."""


class TemplateError(InvalidInput):
    """A template that cannot be saved or rendered; ``details`` names the template, part and
    line. A message whose template fails is not sent."""

    code = "template_error"

    def __init__(
        self, template: str, message: str, *, line: int | None = None, code: str | None = None
    ) -> None:
        where = f"template {template}" + (f", line {line}" if line is not None else "")
        super().__init__(
            f"{where}: {message}",
            code=code,
            details={"template": template, "line": line, "problem": message},
        )
        self.template = template
        self.line = line
        self.problem = message


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A template's parts as written (Jinja2 source); parts a channel does not use are None."""

    subject: str | None
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message ready for its channel: ``subject`` is the e-mail subject, push title or webhook
    subject; ``html`` only for e-mail."""

    subject: str | None
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class MessageInvoice:
    number: str
    amount_due: Money
    due_date: date
    pay_link: str | None = None
    """The invoice's own pay link in a bundle; None: the message's ``pay_link``."""


@dataclass(frozen=True, slots=True)
class MessageData:
    """What a reminder is about, unformatted: the rendering formats amounts and dates in the
    payer's language. ``invoices`` are the bundle's (at least one); ``total`` their sum."""

    payer_name: str
    invoices: tuple[MessageInvoice, ...]
    total: Money
    pay_link: str
    link_qr_url: str
    issuer_name: str
    epc_qr_url: str | None = None
    issuer_email: str | None = None
    issuer_phone: str | None = None
    fee: Money | None = None


def template_name(key: str, channel: str, language: str, part: str | None = None) -> str:
    name = f"{key}/{channel}/{language}"
    return f"{name} ({part})" if part else name


def check_address(key: str, channel: str, language: str) -> None:
    """Refuse a key, channel or language no template can have."""
    if not TEMPLATE_KEY.fullmatch(key):
        raise InvalidInput(
            f"template key {key!r}: lower-case letters, digits, '_', '.' or '-', at most 64",
            code="invalid_template_key",
        )
    if channel not in CHANNEL_PARTS:
        raise InvalidInput(
            f"channel {channel!r} is not one of {', '.join(CHANNELS)}", code="invalid_channel"
        )
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language {language!r} is not one of {', '.join(LANGUAGES)}", code="invalid_language"
        )


def check_parts(name: str, channel: str, source: TemplateSource) -> None:
    """The parts present are exactly those of the channel, each non-empty and not too long."""
    wanted = CHANNEL_PARTS[channel]
    values: dict[str, str | None] = {
        "subject": source.subject,
        "text": source.text,
        "html": source.html,
    }
    for part, value in values.items():
        if part in wanted:
            if value is None or not value.strip():
                raise TemplateError(
                    name, f"a {channel} template needs a {part}", code="missing_part"
                )
            limit = MAX_SUBJECT_CHARS if part == "subject" else MAX_TEMPLATE_CHARS
            if len(value) > limit:
                raise TemplateError(name, f"the {part} is longer than {limit} characters")
        elif value is not None:
            raise TemplateError(
                name,
                f"a {channel} template has no {part} (it has {', '.join(wanted)})",
                code="unexpected_part",
            )


def language_of(tag: str | None) -> str:
    """The template language for a payer's language tag (``de-AT`` → ``de``), English when it
    is none of ours."""
    primary = (tag or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary in LANGUAGES else FALLBACK_LANGUAGE


def describe(source: TemplateSource) -> dict[str, Any]:
    return {"subject": source.subject, "text": source.text, "html": source.html}

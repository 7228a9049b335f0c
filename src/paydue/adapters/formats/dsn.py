"""Delivery status notifications (RFC 3464): which message bounced, how and why.

A DSN is a ``multipart/report; report-type=delivery-status`` message: a human-readable part, a
``message/delivery-status`` part (per-message fields, then one block per recipient with
``Action``, ``Status``, ``Final-Recipient``, ``Diagnostic-Code``) and usually the original
message or its headers (``message/rfc822`` or ``text/rfc822-headers``), whose ``Message-ID``
ties the bounce to the message paydue sent (see ``channels.email.paydue_id``).

:func:`parse_dsn` is pure: bytes in, a :class:`Dsn` out, or :class:`DsnError` naming what is
missing. It reads no network and trusts nothing in the report beyond its structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


class DsnError(ValueError):
    """Not a delivery status notification paydue can read; the message says why."""


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    recipient: str | None
    """The ``Final-Recipient`` address (``rfc822;`` type dropped)."""
    action: str
    """failed, delayed, delivered, relayed or expanded."""
    status: str
    """The enhanced status code, e.g. ``5.1.1``."""
    diagnostic: str | None = None
    """The remote server's answer, e.g. ``smtp; 550 5.1.1 user unknown``."""

    @property
    def permanent(self) -> bool:
        """A hard bounce: the address will not work if tried again."""
        return self.action == "failed" and self.status.startswith("5.")


@dataclass(frozen=True, slots=True)
class Dsn:
    original_message_id: str | None
    """The bounced message's ``Message-ID`` (with its angle brackets), when the report
    returned its headers."""
    envelope_id: str | None
    """``Original-Envelope-Id``: the ``ENVID`` paydue gave at ``MAIL FROM``, if the servers
    support DSN options."""
    reporting_mta: str | None
    recipients: tuple[RecipientStatus, ...]

    @property
    def first(self) -> RecipientStatus:
        """The recipient the report is about: a failed one before a delayed one."""
        for wanted in ("failed", "delayed"):
            for recipient in self.recipients:
                if recipient.action == wanted:
                    return recipient
        return self.recipients[0]

    @property
    def action(self) -> str:
        return self.first.action

    @property
    def status(self) -> str:
        return self.first.status

    @property
    def outcome(self) -> str | None:
        """In paydue's words: ``bounced`` (failed for good), ``failed`` (failed, but the address
        may work), ``delivered``, or None (delayed, relayed, expanded: not final)."""
        first = self.first
        if first.action == "failed":
            return "bounced" if first.permanent else "failed"
        return "delivered" if first.action == "delivered" else None


def _field(block: Message, name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _typed_address(value: str | None) -> str | None:
    """``rfc822; a@b`` → ``a@b``."""
    if value is None:
        return None
    return value.partition(";")[2].strip() or value.strip() or None


def _recipient(block: Message, index: int) -> RecipientStatus:
    where = f"delivery-status recipient block {index}"
    action = (_field(block, "Action") or "").lower().split(" ", 1)[0]
    if action not in ACTIONS:
        raise DsnError(f"{where}: Action {action or '(missing)'!r} is not one of RFC 3464's")
    status_text = _field(block, "Status") or ""
    status = _STATUS.match(status_text)
    if status is None:
        raise DsnError(f"{where}: Status {status_text or '(missing)'!r} is not a status code")
    recipient = _typed_address(_field(block, "Final-Recipient")) or _typed_address(
        _field(block, "Original-Recipient")
    )
    return RecipientStatus(
        recipient=recipient,
        action=action,
        status=".".join(status.groups()),
        diagnostic=_field(block, "Diagnostic-Code"),
    )


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _field(payload[0], "Message-ID")
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = HeaderParser(policy=compat32).parsestr(raw.decode("utf-8", "replace"))
                return _field(headers, "Message-ID")
    return None


def parse_dsn(raw: bytes) -> Dsn:
    """Read a DSN; :class:`DsnError` when ``raw`` is not one."""
    report = message_from_bytes(raw, policy=compat32)
    if report.get_content_type() != "multipart/report":
        raise DsnError(f"not a multipart/report but {report.get_content_type()}")
    report_type = str(report.get_param("report-type") or "").lower()
    if report_type != "delivery-status":
        raise DsnError(f"report-type is {report_type or '(missing)'!r}, not delivery-status")
    status_part = next(
        (p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        raise DsnError("no message/delivery-status part")
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise DsnError("the delivery-status part has no per-recipient block")
    fields = [block for block in blocks if isinstance(block, Message)]
    if len(fields) != len(blocks):
        raise DsnError("the delivery-status part is not made of field blocks")
    per_message = fields[0]
    recipients = tuple(_recipient(block, i) for i, block in enumerate(fields[1:], start=1))
    return Dsn(
        original_message_id=_original_message_id(report),
        envelope_id=_field(per_message, "Original-Envelope-Id"),
        reporting_mta=_typed_address(_field(per_message, "Reporting-MTA")),
        recipients=recipients,
    )

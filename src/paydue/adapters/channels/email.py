"""E-mail over SMTP (aiosmtplib): STARTTLS or implicit TLS, authentication, timeouts.

A message is ``multipart/alternative`` (text, and HTML when given) inside
``multipart/mixed`` when it has attachments (the invoice PDF). Headers:

- ``Message-ID: <{message id}@{domain}>``: a bounce (DSN, see ``formats.dsn``) or a feedback
  report quotes it, and :func:`paydue_id` reads paydue's message id back out of it;
- ``List-Unsubscribe`` with the unsubscribe URL (a template with ``{id}``) and/or mailto
  address, and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when the URL
  is HTTPS;
- ``From`` and ``Reply-To`` as configured; ``message.headers`` are added last (they may
  override ``List-Unsubscribe``).

``send`` is synchronous, as the port is; the SMTP conversation runs on an event loop in a
thread of the adapter's own, over one connection kept open between messages (reconnected
when the server closed it). Refusals are read by their SMTP code: 5xx is permanent, 4xx and
no connection are worth retrying. A refusal caused by paydue's own setup (authentication,
TLS, the sender address) is reported retryable: it says nothing about the payer's address.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from email.encoders import encode_base64
from email.generator import BytesGenerator
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, compat32
from email.utils import formataddr, formatdate, getaddresses, parseaddr
from io import BytesIO
from typing import Any, Literal, TypeVar

import aiosmtplib

from paydue.adapters.channels.base import OutboundMessage, SendResult

TlsMode = Literal["starttls", "tls", "none"]
_T = TypeVar("_T")
_MESSAGE_ID = re.compile(r"<?\s*([^<>@\s]+)@([^<>\s]+?)\s*>?$")
_WIRE = compat32.clone(linesep="\r\n")
"""Flattening policy: the standard library's legacy one, with SMTP's line ends. Headers are
written as given (already encoded here), without the header-object parsing of
``email.policy.SMTP``, which cost most of the time of building a message."""


def message_id_header(message_id: str, domain: str) -> str:
    """The ``Message-ID`` of paydue's message ``message_id``."""
    return f"<{message_id}@{domain}>"


def paydue_id(message_id_header: str | None, domain: str | None = None) -> str | None:
    """paydue's message id from a ``Message-ID`` it wrote (``<id@domain>``); None for one it
    did not write (when ``domain`` is given, the domain must match)."""
    found = _MESSAGE_ID.match((message_id_header or "").strip())
    if found is None:
        return None
    if domain is not None and found.group(2).lower() != domain.lower():
        return None
    return found.group(1)


def _domain_of(address: str) -> str:
    _, email = parseaddr(address)
    return email.rpartition("@")[2] or "localhost"


class EmailBuilder:
    """Turns an ``OutboundMessage`` into a MIME message; shared by the SMTP channel and the
    outbox."""

    def __init__(
        self,
        *,
        from_address: str,
        reply_to: str | None = None,
        unsubscribe_url: str | None = None,
        unsubscribe_mailto: str | None = None,
        message_id_domain: str | None = None,
    ) -> None:
        self.from_address = from_address
        self.reply_to = reply_to
        self.unsubscribe_url = unsubscribe_url
        self.unsubscribe_mailto = unsubscribe_mailto
        self.domain = message_id_domain or _domain_of(from_address)

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.from_address)[1]

    def unsubscribe_headers(self, message: OutboundMessage) -> dict[str, str]:
        targets: list[str] = []
        url = self.unsubscribe_url.replace("{id}", message.id) if self.unsubscribe_url else None
        if url:
            targets.append(f"<{url}>")
        if self.unsubscribe_mailto:
            targets.append(f"<mailto:{self.unsubscribe_mailto}?subject=unsubscribe%20{message.id}>")
        if not targets:
            return {}
        headers = {"List-Unsubscribe": ", ".join(targets)}
        if url and url.startswith("https://"):
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return headers

    def build(self, message: OutboundMessage) -> Message:
        """The MIME message; ValueError for an address or header that cannot be written.

        Built with the legacy (``compat32``) MIME classes and headers encoded here (RFC 2047
        for non-ASCII text, base64 UTF-8 parts), which is several times cheaper than
        ``email.policy.SMTP``'s header objects; addresses that are not plain ASCII take the
        policy path, which knows how to write them."""
        headers = self._headers(message)
        if headers is None:
            return self._build_with_policy(message)
        body: Message = MIMEText(message.text, "plain", "utf-8")
        if message.html is not None:
            body = MIMEMultipart(
                "alternative", _subparts=[body, MIMEText(message.html, "html", "utf-8")]
            )
        if message.attachments:
            mixed = MIMEMultipart("mixed")
            mixed.attach(body)
            for attachment in message.attachments:
                maintype, _, subtype = attachment.media_type.partition("/")
                part = MIMEBase(maintype, subtype or "octet-stream")
                part.set_payload(attachment.content)
                encode_base64(part)
                part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
                mixed.attach(part)
            body = mixed
        for name, header in headers:
            body[name] = header  # type: ignore[assignment]
        # the MIME headers after the message's own, as the policy path writes them
        mime = [(k, v) for k, v in body.items() if k.lower() in _MIME_HEADERS]
        for k in {k for k, _ in mime}:
            del body[k]
        for k, v in mime:
            body[k] = v
        return body

    def wire(self, message: OutboundMessage) -> tuple[bytes, str]:
        """The message as sent (CRLF line ends) and its ``Message-ID``."""
        mail = self.build(message)
        out = BytesIO()
        policy = _WIRE if mail.policy is compat32 else mail.policy.clone(linesep="\r\n")
        BytesGenerator(out, mangle_from_=False, policy=policy).flatten(mail)
        return out.getvalue(), str(mail["Message-ID"])

    def _headers(self, message: OutboundMessage) -> list[tuple[str, str | Header]] | None:
        """The message's headers, encoded; None when an address needs the policy path."""
        sender = _ascii_addresses(self.from_address)
        to = _ascii_addresses(message.to)
        reply_to = _ascii_addresses(self.reply_to) if self.reply_to else None
        if sender is None or to is None or (self.reply_to and reply_to is None):
            return None
        subject = message.subject or ""
        headers: list[tuple[str, str | Header]] = [("From", sender), ("To", to)]
        if reply_to:
            headers.append(("Reply-To", reply_to))
        headers += [
            ("Subject", _text_header(subject, "Subject")),
            ("Date", formatdate(localtime=False, usegmt=True)),
            ("Message-ID", message_id_header(message.id, self.domain)),
            ("Content-Language", _text_header(message.language, "Content-Language")),
        ]
        extra: dict[str, str] = {**self.unsubscribe_headers(message), **message.headers}
        for name, value in extra.items():
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            headers.append((name, _text_header(value, name)))
        for name, _ in headers:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"not a header name: {name!r}")
        return headers

    def _build_with_policy(self, message: OutboundMessage) -> EmailMessage:
        mail = EmailMessage(policy=SMTP)
        mail["From"] = self.from_address
        mail["To"] = message.to
        if self.reply_to:
            mail["Reply-To"] = self.reply_to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id_header(message.id, self.domain)
        mail["Content-Language"] = message.language
        extra: dict[str, str] = {**self.unsubscribe_headers(message), **message.headers}
        for name, value in extra.items():
            del mail[name]
            mail[name] = value
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.media_type.partition("/")
            mail.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return mail


_MIME_HEADERS = frozenset({"content-type", "mime-version", "content-transfer-encoding"})
_HEADER_NAME = re.compile(r"[!-9;-~]+")


def _text_header(value: str, name: str) -> str | Header:
    """A header's text: as is when ASCII, else RFC 2047 encoded (UTF-8)."""
    if "\r" in value or "\n" in value:
        raise ValueError("a header cannot hold a line break")
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name)  # encoded and folded when written


def _ascii_addresses(value: str) -> str | None:
    """An address header with ASCII addresses, display names encoded; None for anything the
    policy path must write (a non-ASCII address, an unparsable list)."""
    if "\r" in value or "\n" in value:
        raise ValueError("an address header cannot hold a line break")
    pairs = getaddresses([value])
    if not pairs or any(not addr or not addr.isascii() or "@" not in addr for _, addr in pairs):
        return None
    return ", ".join(formataddr((name, addr), charset="utf-8") for name, addr in pairs)


def _recipient(to: str) -> str:
    """The one address of ``to`` (``Name <a@b>`` or ``a@b``); ValueError otherwise."""
    found = [addr for _, addr in getaddresses([to]) if addr]
    if len(found) != 1 or "@" not in found[0]:
        raise ValueError(f"not one e-mail address: {to!r}")
    Address(addr_spec=found[0])  # raises for what cannot go into a header
    return found[0]


def _smtp_refusal(code: int, text: str, *, setup: bool = False) -> SendResult:
    reason = f"SMTP {code}: {text}".strip()[:500]
    if setup:
        return SendResult(accepted=False, error=f"paydue's SMTP setup: {reason}", retryable=True)
    return SendResult(accepted=False, error=reason, retryable=not 500 <= code < 600)


@dataclass(slots=True)
class _Connection:
    """One SMTP connection of the adapter, kept open between messages; one message at a time."""

    smtp: aiosmtplib.SMTP | None = None
    lock: asyncio.Lock | None = None


class SmtpEmail:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        builder: EmailBuilder,
        *,
        tls: TlsMode = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        connections: int = 4,
    ) -> None:
        if tls not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP TLS mode must be starttls, tls or none, got {tls!r}")
        self.host = host
        self.port = port
        self.builder = builder
        self.tls: TlsMode = tls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.tls_context = tls_context
        self._connections = [_Connection() for _ in range(max(1, connections))]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp", daemon=True)
        self._thread.start()

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send ``messages`` (a worker's batch) in one hand-over to the SMTP loop, spread over
        up to ``connections`` kept-open connections, each carrying its share one after the
        other; the results in the order of ``messages``."""
        results: list[SendResult | None] = [None] * len(messages)
        ready: list[tuple[int, bytes, str, str]] = []
        for n, message in enumerate(messages):
            try:
                recipient = _recipient(message.to)
                raw, message_id = self.builder.wire(message)
            except (ValueError, TypeError, UnicodeError) as exc:
                results[n] = SendResult(accepted=False, error=f"cannot write this e-mail: {exc}")
                continue
            ready.append((n, raw, recipient, message_id))
        if ready:
            sent = self._run(self._send_all([(raw, to) for _, raw, to, _ in ready]))
            for (n, _, _, message_id), result in zip(ready, sent, strict=True):
                if result.accepted:
                    result = SendResult(accepted=True, provider_id=message_id)
                results[n] = result
        return [r for r in results if r is not None]

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            tls_context=self.tls_context,
        )

    async def _disconnect(self) -> None:
        for conn in self._connections:
            if conn.smtp is not None and conn.smtp.is_connected:
                try:
                    await conn.smtp.quit()
                except aiosmtplib.SMTPException:
                    conn.smtp.close()
            conn.smtp = None

    async def _send_all(self, mails: Sequence[tuple[bytes, str]]) -> list[SendResult]:
        """Each connection takes every k-th message; a single message uses the first one
        (kept open), so a trickle of messages does not open more connections."""
        results: list[SendResult | None] = [None] * len(mails)
        used = self._connections[: max(1, min(len(self._connections), len(mails) // 8))]

        async def share(k: int, conn: _Connection) -> None:
            if conn.lock is None:
                conn.lock = asyncio.Lock()
            async with conn.lock:
                for n in range(k, len(mails), len(used)):
                    results[n] = await self._send(conn, *mails[n])

        await asyncio.gather(*(share(k, conn) for k, conn in enumerate(used)))
        return [r for r in results if r is not None]

    async def _send(self, conn: _Connection, raw: bytes, recipient: str) -> SendResult:
        for attempt in (1, 2):
            reused = conn.smtp is not None and conn.smtp.is_connected
            try:
                if not reused:
                    conn.smtp = self._client()
                    await conn.smtp.connect()
                assert conn.smtp is not None
                await conn.smtp.sendmail(self.builder.envelope_from, [recipient], raw)
                return SendResult(accepted=True)
            except aiosmtplib.SMTPServerDisconnected as exc:
                conn.smtp = None
                if reused and attempt == 1:
                    continue  # the server closed the kept connection: once more, anew
                return _unreachable(exc)
            except aiosmtplib.SMTPException as exc:
                return await self._refused(conn, exc)
            except OSError as exc:
                conn.smtp = None
                return _unreachable(exc)
        raise AssertionError("unreachable")

    async def _refused(self, conn: _Connection, exc: aiosmtplib.SMTPException) -> SendResult:
        """Classify a refusal; the connection is reset for the next message where the server
        may not be in a state to take one."""
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            refused = exc.recipients[0]
            await self._reset(conn)
            return _smtp_refusal(refused.code, refused.message)
        setup_errors = (
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPConnectResponseError,
        )
        if isinstance(exc, setup_errors):
            await self._drop(conn)
            return _smtp_refusal(exc.code, exc.message, setup=True)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            await self._reset(conn)
            return _smtp_refusal(exc.code, exc.message)
        await self._drop(conn)  # connect, TLS, timeout, not supported: no usable connection
        return _unreachable(exc)

    async def _reset(self, conn: _Connection) -> None:
        if conn.smtp is not None and conn.smtp.is_connected:
            try:
                await conn.smtp.rset()
                return
            except (aiosmtplib.SMTPException, OSError):
                pass
        await self._drop(conn)

    async def _drop(self, conn: _Connection) -> None:
        if conn.smtp is not None:
            conn.smtp.close()
        conn.smtp = None


def _unreachable(exc: BaseException) -> SendResult:
    return SendResult(
        accepted=False, error=f"SMTP: {type(exc).__name__}: {exc}"[:500], retryable=True
    )

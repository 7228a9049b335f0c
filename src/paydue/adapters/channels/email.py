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
from collections.abc import Coroutine
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any, Literal, TypeVar

import aiosmtplib

from paydue.adapters.channels.base import OutboundMessage, SendResult

TlsMode = Literal["starttls", "tls", "none"]
_T = TypeVar("_T")
_MESSAGE_ID = re.compile(r"<?\s*([^<>@\s]+)@([^<>\s]+?)\s*>?$")


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

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message; ValueError for an address or header that cannot be written."""
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
        self._smtp: aiosmtplib.SMTP | None = None
        self._loop = asyncio.new_event_loop()
        self._lock = asyncio.Lock()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp", daemon=True)
        self._thread.start()

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            recipient = _recipient(message.to)
            mail = self.builder.build(message)
        except (ValueError, TypeError) as exc:
            return SendResult(accepted=False, error=f"cannot write this e-mail: {exc}")
        result = self._run(self._send(mail, recipient))
        if result.accepted:
            return SendResult(accepted=True, provider_id=str(mail["Message-ID"]))
        return result

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
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except aiosmtplib.SMTPException:
                self._smtp.close()
        self._smtp = None

    async def _send(self, mail: EmailMessage, recipient: str) -> SendResult:
        async with self._lock:
            for attempt in (1, 2):
                reused = self._smtp is not None and self._smtp.is_connected
                try:
                    if not reused:
                        self._smtp = self._client()
                        await self._smtp.connect()
                    assert self._smtp is not None
                    await self._smtp.send_message(
                        mail, sender=self.builder.envelope_from, recipients=[recipient]
                    )
                    return SendResult(accepted=True)
                except aiosmtplib.SMTPServerDisconnected as exc:
                    self._smtp = None
                    if reused and attempt == 1:
                        continue  # the server closed the kept connection: once more, anew
                    return _unreachable(exc)
                except aiosmtplib.SMTPException as exc:
                    return await self._refused(exc)
                except OSError as exc:
                    self._smtp = None
                    return _unreachable(exc)
            raise AssertionError("unreachable")

    async def _refused(self, exc: aiosmtplib.SMTPException) -> SendResult:
        """Classify a refusal; the connection is reset for the next message where the server
        may not be in a state to take one."""
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            refused = exc.recipients[0]
            await self._reset()
            return _smtp_refusal(refused.code, refused.message)
        setup_errors = (
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPConnectResponseError,
        )
        if isinstance(exc, setup_errors):
            await self._drop()
            return _smtp_refusal(exc.code, exc.message, setup=True)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            await self._reset()
            return _smtp_refusal(exc.code, exc.message)
        await self._drop()  # connect, TLS, timeout, not supported: no usable connection
        return _unreachable(exc)

    async def _reset(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.rset()
                return
            except (aiosmtplib.SMTPException, OSError):
                pass
        await self._drop()

    async def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None


def _unreachable(exc: BaseException) -> SendResult:
    return SendResult(
        accepted=False, error=f"SMTP: {type(exc).__name__}: {exc}"[:500], retryable=True
    )

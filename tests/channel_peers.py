"""Real local peers for the channel adapters: an HTTP service and an SMTP server.

:class:`HttpPeer` is a threaded ``http.server`` on 127.0.0.1 that records every request and
answers with what its ``respond`` function says; it stands for Twilio, an SMS gateway, a push
service, a print API or an issuer's webhook endpoint. :class:`SmtpPeer` is an aiosmtpd server
in-process that records every accepted message and refuses recipients by their local part
(``bounce@`` → 550, ``later@`` → 451); with a TLS context it requires STARTTLS and, with
``logins``, authentication.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def free_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class HttpPeer:
    def __init__(self, respond: Callable[[Request], Answer]) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = Request(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with peer._lock:
                    peer.requests.append(request)
                status, headers, answer = peer.respond(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HttpPeer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SmtpHandler:
    messages: list[Envelope] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)
    """The client address each message came from: one address, one connection."""

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local = address.partition("@")[0].lower()
        if local == "bounce":
            return "550 5.1.1 <bounce@example.org>: Recipient address rejected: no such user"
        if local == "later":
            return "451 4.3.0 mailbox temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        self.peers.append(session.peer)
        return "250 2.0.0 queued"


class SmtpPeer:
    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.handler = SmtpHandler()
        self.port = free_port()
        self.logins = logins or {}
        options: dict[str, Any] = {}
        if tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        if logins is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.logins.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Envelope]:
        return self.handler.messages

    def __enter__(self) -> SmtpPeer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


def self_signed(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost."""
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key

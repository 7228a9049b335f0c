"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread of the test.

It records every request and answers with the status (and headers) it is told to; it can hold
the first request open until released, to stand for a receiver that is slow to answer.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    """Connection threads do not hold up shutdown; a client hanging up is no error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Receiver:
    def __init__(
        self,
        status: int = 204,
        *,
        headers: dict[str, str] | None = None,
        hold_first: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.status = status
        self.response_headers = headers or {}
        self.response_body = b""
        self.hold_first = hold_first
        self.release = threading.Event()
        self.seen = threading.Event()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    first = len(receiver.requests) == 1
                receiver.seen.set()
                if first and receiver.hold_first:
                    receiver.release.wait(60)
                self.send_response(receiver.status)
                for name, value in receiver.response_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        """The ``webhook-id`` of every request, in arrival order."""
        return [r.headers["webhook-id"] for r in self.requests]

"""The one outbound HTTP client: timeouts, no redirects, bounded reads, redaction, SSRF guard.

Everything paydue sends to a URL someone else chose (webhook endpoints today) goes through
:class:`HttpClient`. Its guarantees:

- **SSRF guard, checked twice.** :func:`check_url` refuses a URL at registration; at connect
  time the client resolves the host itself, refuses it unless *every* address is public, and
  connects to the address it validated. No second DNS lookup happens between the check and the
  connection, so a DNS rebinding answer cannot slip a private address in. The ``Host`` header,
  TLS SNI and certificate verification stay those of the URL's host name: only *where* the TCP
  connection goes is pinned. Idle connections are kept per origin (scheme, host name, port), so
  they are reused per endpoint (keep-alive) and never across host names.
- **No redirects.** A 3xx answer is a failed attempt ("redirect not followed"); following it
  would let a public URL point the client at a private one.
- **Bounded.** A connect timeout (resolving, connecting, TLS) and a read timeout (from sending
  the request to the end of the answer); at most :data:`EXCERPT_BYTES` of a response body are
  kept and at most :data:`DRAIN_BYTES` read; no proxies from the environment.
- **Redaction.** Logged URLs lose credentials and query strings; secret-bearing headers are
  replaced by ``[redacted]``.

``allow_private`` (``PAYDUE_WEBHOOK_ALLOW_PRIVATE``, local development) turns off the address
check only; the scheme and credential checks always apply.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

import certifi
import httptools

from paydue import __version__

log = logging.getLogger(__name__)

USER_AGENT = f"paydue-webhooks/{__version__}"
DEFAULT_HEADERS = (("user-agent", USER_AGENT), ("accept-encoding", "identity"))
KEEPALIVE_SECONDS = 30.0
EXCERPT_BYTES = 500
DRAIN_BYTES = 64 * 1024
"""A response body longer than this is not read to its end: the connection is closed."""
SCHEMES = frozenset({"http", "https"})
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "webhook-signature",
        "x-api-key",
    }
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Request = tuple[str, bytes, Mapping[str, str]]
"""URL, body and headers of a POST."""

_T = TypeVar("_T")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class UnsafeURL(ValueError):
    """A URL paydue will not send to; the message says why."""


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (None: it is one)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"IPv4-mapped IPv6 address {address} (embeds {address.ipv4_mapped})"
        if address in _IPV4_COMPATIBLE and int(address) > 1:
            return f"IPv4-compatible IPv6 address {address}"
        if any(address in prefix for prefix in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            return f"NAT64 address {address} (embeds {embedded})"
        if address.sixtofour is not None:
            problem = address_problem(address.sixtofour)
            if problem is not None:
                return f"6to4 address {address} embedding {problem}"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address == _METADATA, "cloud metadata address"),
        (address.is_link_local, "link-local address"),
        (address.is_multicast, "multicast address"),
        (
            isinstance(address, ipaddress.IPv4Address) and address in _CGNAT,
            "carrier-grade NAT address",
        ),
        (address.is_reserved, "reserved address"),
        (address.is_private, "private network address"),
        (not address.is_global, "non-public address"),
    )
    for failed, name in checks:
        if failed:
            return f"{name} {address}"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.getaddrinfo``), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host {host!r} does not resolve: {exc}") from exc
    found: list[str] = []
    for *_, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone index
        if ip not in found:
            found.append(ip)
    return found


def public_addresses(
    host: str, port: int, *, allow_private: bool, resolve: Resolver = system_resolver
) -> list[str]:
    """Resolve ``host``; unless ``allow_private``, refuse it if any address is not public."""
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeURL(f"host {host!r} has no address")
    if not allow_private:
        for ip in addresses:
            problem = address_problem(ipaddress.ip_address(ip))
            if problem is not None:
                where = "" if ip == host.strip("[]") else f" ({host} resolves to it)"
                raise UnsafeURL(f"{problem}{where} is not allowed")
    return addresses


def _split(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a URL paydue may call, or UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL(f"scheme {parts.scheme or '(none)'!r} is not allowed; use https (or http)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("credentials in the URL are not allowed; authenticate with the signature")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if not parts.hostname.isascii():
        raise UnsafeURL("write the host name in its ASCII (punycode) form")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def check_url(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> None:
    """Refuse (UnsafeURL, with the reason) a URL paydue must not send to.

    Refused: schemes other than http(s), credentials in the URL, and, unless ``allow_private``,
    hosts with any non-public address (loopback, private, link-local and the metadata address,
    unspecified, multicast, reserved, CGNAT, IPv4-mapped/-compatible and NAT64 IPv6, 6to4
    embedding any of those), whether written as a literal or resolved from a name.
    """
    _, host, port = _split(url)
    if not allow_private:
        public_addresses(host, port, allow_private=False, resolve=resolve)


def redact_url(url: str) -> str:
    """``url`` fit for a log line: no credentials, no query string or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "[unparseable URL]"
    query = "?[redacted]" if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` fit for a log line: secret-bearing values replaced."""
    return {k: "[redacted]" if k.lower() in SENSITIVE_HEADERS else v for k, v in headers.items()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request came to: a status code or an error, always a duration."""

    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class ConnectError(Exception):
    """No connection could be opened to any of the host's (checked) addresses."""


class ConnectTimeout(Exception):
    """Resolving, connecting and the TLS handshake took longer than the connect timeout."""


class ReadTimeout(Exception):
    """The answer did not arrive within the read timeout of sending the request."""


class RemoteProtocolError(Exception):
    """The receiver's answer is not HTTP/1.1, or it hung up in the middle of it."""


Origin = tuple[str, str, int]
"""Scheme, host name and port: what a kept-alive connection can be reused for."""

_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DEFAULT_HEADER_LINES = "".join(f"{name}: {value}\r\n" for name, value in DEFAULT_HEADERS)


@functools.lru_cache(maxsize=4096)
def _request_head(url: str) -> tuple[Origin, str]:
    """The origin of ``url`` and the start of a POST to it (request line, ``Host``, defaults),
    or UnsafeURL. Non-ASCII, space and control characters in the path are percent-encoded."""
    scheme, host, port = _split(url)
    parts = urlsplit(url)
    target = quote(f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}", _PRINTABLE)
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        authority = f"{authority}:{port}"
    head = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n{_DEFAULT_HEADER_LINES}"
    return (scheme, host, port), head


def _encode_request(head: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [head]
    for name, value in headers.items():
        if not (_TOKEN.fullmatch(name) and _FIELD_VALUE.fullmatch(value)):
            raise UnsafeURL(f"header {name!r} is not a valid HTTP header")
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"content-length: {len(body)}\r\n\r\n")
    return "".join(lines).encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, parsed with httptools: one request at a time, reusable after a
    complete answer that allows keep-alive.

    Only the status, the ``Location`` header and the first :data:`EXCERPT_BYTES` of the body
    are kept; a body longer than :data:`DRAIN_BYTES` is not read to its end, the connection is
    closed instead.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._start(None)

    def _start(self, done: asyncio.Future[None] | None) -> None:
        self.done = done
        self.status: int | None = None
        self.location = b""
        self.delimited = False  # by a content-length or chunked encoding, not by the close
        self.excerpt = bytearray()
        self.received = 0
        self.reusable = False

    async def exchange(self, request: bytes, timeout: float) -> None:
        """Send ``request`` and wait for the whole answer (or, for a long body, its start)."""
        self._start(self.loop.create_future())
        assert self.transport is not None
        assert self.done is not None
        self.transport.write(request)
        try:
            async with asyncio.timeout(timeout):
                await self.done
        except TimeoutError:
            raise ReadTimeout from None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _finish(self, error: BaseException | None) -> None:
        if self.done is not None and not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.done is None or self.done.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(RemoteProtocolError(f"invalid HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.status is not None and not self.delimited:
            self._finish(None)  # the body ended with the connection, as HTTP/1.0 allows
        else:
            self._finish(RemoteProtocolError("the receiver closed the connection mid-answer"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"location":
            self.location = value
        elif name in (b"content-length", b"transfer-encoding"):
            self.delimited = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if len(self.excerpt) < EXCERPT_BYTES:
            self.excerpt += body[: EXCERPT_BYTES - len(self.excerpt)]
        self.received += len(body)
        if self.received > DRAIN_BYTES:
            self._finish(None)
            self.close()

    def on_message_complete(self) -> None:
        if self.status is not None and 100 <= self.status < 200:
            self._start(self.done)  # an interim answer (103 Early Hints…); the real one follows
            return
        self.reusable = self.parser.should_keep_alive() and not self.closed
        self._finish(None)


class HttpClient:
    """A thread-safe client for POSTing to third-party URLs; create one per process.

    The requests run on an asyncio event loop in a thread of the client's own (uvloop when
    installed), over HTTP/1.1 connections parsed with httptools: a request costs a fraction of
    the CPU of a thread-per-request client, and a slow receiver holds a coroutine, not a
    thread. Callers on any thread block in :meth:`post` or :meth:`post_many` until their
    outcomes are in.

    ``concurrency`` bounds the requests in flight, and so the connections in use; up to as many
    idle connections are kept alive per origin (scheme, host, port) for
    :data:`KEEPALIVE_SECONDS`. Every new connection goes through the SSRF guard: the host is
    resolved once, every address checked, and the connection opened to a checked address, with
    the URL's host name for ``Host``, TLS SNI and certificate verification.
    """

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        allow_private: bool,
        concurrency: int = 16,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.allow_private = allow_private
        self.concurrency = concurrency
        self.resolve = resolve
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._idle: dict[Origin, list[_Connection]] = {}
        self._loop = _new_event_loop()
        self._slots = asyncio.Semaphore(concurrency)
        self._thread = threading.Thread(target=self._loop.run_forever, name="http", daemon=True)
        self._thread.start()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """POST ``body``; never raises for network or HTTP failures, it reports them."""
        return self._run(self._post(url, body, headers))

    def post_many(self, requests: Sequence[Request]) -> list[Outcome]:
        """:meth:`post` every request, concurrently; the outcomes in the same order."""
        return self._run(self._post_many(requests))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._close_idle())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _post_many(self, requests: Sequence[Request]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._post(*r) for r in requests)))

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        async with self._slots:
            started = time.monotonic()
            status: int | None = None
            excerpt: str | None = None
            error: str | None = None
            try:
                origin, head = _request_head(url)
                conn = await self._send(origin, _encode_request(head, body, headers))
                status = conn.status
                if conn.excerpt:
                    excerpt = conn.excerpt.decode("utf-8", "replace")
                if status is not None and 300 <= status < 400:
                    target = redact_url(conn.location.decode("latin-1"))
                    error = f"redirect not followed ({status} to {target})"
            except UnsafeURL as exc:
                error = f"refused: {exc}"
            except (ConnectTimeout, ReadTimeout) as exc:
                error = f"timeout: {type(exc).__name__}"
            except (OSError, ConnectError, RemoteProtocolError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            duration_ms = int((time.monotonic() - started) * 1000)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "POST %s headers=%s -> %s %s in %d ms",
                redact_url(url),
                redact_headers(headers),
                status,
                error or "",
                duration_ms,
            )
        return Outcome(status, error, duration_ms, excerpt)

    async def _send(self, origin: Origin, request: bytes) -> _Connection:
        """One exchange on a kept-alive connection, or a new one; the connection, answered.

        A kept-alive connection the receiver closed just before the request arrived answers
        nothing; the request is then sent once more on a new connection.
        """
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                await conn.exchange(request, self.read_timeout)
            except BaseException as exc:
                conn.close()
                if not isinstance(exc, RemoteProtocolError) or conn.status is not None:
                    raise
                conn = None
        if conn is None:
            conn = await self._connect(origin)
            try:
                await conn.exchange(request, self.read_timeout)
            except BaseException:
                conn.close()
                raise
        if conn.reusable:
            self._keep(origin, conn)
        else:
            conn.close()
        return conn

    async def _connect(self, origin: Origin) -> _Connection:
        """A new connection to a checked address of the origin's host (the SSRF guard)."""
        scheme, host, port = origin
        tls = self.ssl_context if scheme == "https" else None
        loop = self._loop
        try:
            async with asyncio.timeout(self.connect_timeout):
                addresses = await loop.run_in_executor(
                    None,
                    functools.partial(
                        public_addresses,
                        host,
                        port,
                        allow_private=self.allow_private,
                        resolve=self.resolve,
                    ),
                )
                failure: OSError | None = None
                for ip in addresses:
                    try:
                        _, conn = await loop.create_connection(
                            lambda: _Connection(loop),
                            ip,
                            port,
                            ssl=tls,
                            server_hostname=host if tls else None,
                        )
                        return conn
                    except OSError as exc:
                        failure = exc
        except TimeoutError:
            raise ConnectTimeout from None
        assert failure is not None
        raise ConnectError(str(failure))

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        expired = time.monotonic() - KEEPALIVE_SECONDS
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.idle_since > expired:
                return conn
            conn.close()
        return None

    def _keep(self, origin: Origin, conn: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self.concurrency:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _close_idle(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (it is with ``uvicorn[standard]``), for its
    lower cost per request; the standard one otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()

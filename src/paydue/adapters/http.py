"""The one outbound HTTP client: timeouts, no redirects, bounded reads, redaction, SSRF guard.

Everything paydue sends to a URL someone else chose (webhook endpoints today) goes through
:class:`HttpClient`. Its guarantees:

- **SSRF guard, checked twice.** :func:`check_url` refuses a URL at registration; at connect
  time the client's network backend resolves the host itself, refuses it unless *every* address
  is public, and connects to the address it validated. No second DNS lookup happens between the
  check and the connection, so a DNS rebinding answer cannot slip a private address in. The
  ``Host`` header, TLS SNI and certificate verification stay those of the URL's host name,
  because the backend only replaces *where* the TCP connection goes; the connection pool stays
  keyed by host name, so connections are reused per endpoint (keep-alive).
- **No redirects.** A 3xx answer is a failed attempt ("redirect not followed"); following it
  would let a public URL point the client at a private one.
- **Bounded.** Connect and read timeouts; at most :data:`EXCERPT_BYTES` of a response body are
  kept, read from the stream, never the whole body; no proxies from the environment.
- **Redaction.** Logged URLs lose credentials and query strings; secret-bearing headers are
  replaced by ``[redacted]``.

``allow_private`` (``PAYDUE_WEBHOOK_ALLOW_PRIVATE``, local development) turns off the address
check only; the scheme and credential checks always apply.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore

from paydue import __version__

log = logging.getLogger(__name__)

USER_AGENT = f"paydue-webhooks/{__version__}"
DEFAULT_HEADERS = (("user-agent", USER_AGENT), ("accept-encoding", "identity"))
KEEPALIVE_SECONDS = 30.0
EXCERPT_BYTES = 500
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


class PinningBackend(httpcore.NetworkBackend):
    """Resolves a host once, checks every address, and connects to a checked one.

    Sits under httpcore's connection pool, which still speaks TLS (SNI and certificate
    verification) for the URL's host name on the stream returned here.
    """

    def __init__(self, *, allow_private: bool, resolve: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.resolve = resolve
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = public_addresses(
            host, port, allow_private=self.allow_private, resolve=self.resolve
        )
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for ip in addresses:
            try:
                return self.inner.connect_tcp(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


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


class HttpClient:
    """A thread-safe client for POSTing to third-party URLs; create one per process.

    Built on httpcore, the connection layer of httpx: a connection pool that takes a network
    backend (the pinning one), never follows redirects, and costs half the CPU per request of
    the full httpx client, which matters on the webhook fan-out path.

    ``concurrency`` bounds both the requests :meth:`post_many` has in flight and the open
    connections; idle connections are kept alive per origin (scheme, host, port).
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
        self._senders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="http")
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(cafile=certifi.where()),
            max_connections=concurrency,
            max_keepalive_connections=concurrency,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=PinningBackend(allow_private=allow_private, resolve=resolve),
        )
        self._timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": connect_timeout,
        }

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """POST ``body``; never raises for network or HTTP failures, it reports them."""
        started = time.monotonic()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            _split(url)
            with self._pool.stream(
                "POST",
                url,
                headers=[*DEFAULT_HEADERS, *headers.items()],
                content=body,
                extensions={"timeout": self._timeouts},
            ) as resp:
                status = resp.status
                excerpt = _excerpt(resp)
                if 300 <= status < 400:
                    target = _header(resp, b"location")
                    error = f"redirect not followed ({status} to {redact_url(target)})"
        except UnsafeURL as exc:
            error = f"refused: {exc}"
        except httpcore.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.monotonic() - started) * 1000)
        log.debug(
            "POST %s headers=%s -> %s %s in %d ms",
            redact_url(url),
            redact_headers(headers),
            status,
            error or "",
            duration_ms,
        )
        return Outcome(status, error, duration_ms, excerpt)

    def post_many(self, requests: Sequence[Request]) -> list[Outcome]:
        """:meth:`post` every request, concurrently; the outcomes in the same order."""
        if len(requests) == 1:
            return [self.post(*requests[0])]
        return list(self._senders.map(lambda r: self.post(*r), requests))

    def close(self) -> None:
        self._senders.shutdown()
        self._pool.close()


def _header(resp: httpcore.Response, name: bytes) -> str:
    for key, value in resp.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _excerpt(resp: httpcore.Response) -> str | None:
    """The first :data:`EXCERPT_BYTES` of the body, read from the stream and no further."""
    buf = bytearray()
    for chunk in resp.iter_stream():
        buf += chunk
        if len(buf) >= EXCERPT_BYTES:
            break
    return bytes(buf[:EXCERPT_BYTES]).decode("utf-8", "replace") if buf else None

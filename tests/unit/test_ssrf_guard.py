"""The outbound HTTP client's SSRF guard: at registration (``check_url``) and at connect time
(resolve once, check every address, connect to the checked one)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from paydue.adapters.http import (
    EXCERPT_BYTES,
    HttpClient,
    UnsafeURL,
    check_url,
    redact_headers,
    redact_url,
)
from tests.webhook_receiver import Receiver


class FakeDNS:
    """A resolver with fixed answers per host name; literals resolve to themselves."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            return [host]
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _client(
    dns: FakeDNS, *, allow_private: bool, ssl_context: ssl.SSLContext | None = None
) -> HttpClient:
    return HttpClient(
        connect_timeout=5,
        read_timeout=5,
        allow_private=allow_private,
        resolve=dns,
        ssl_context=ssl_context,
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback address 127.0.0.1"),
        ("http://127.8.9.10:8080/x", "loopback address 127.8.9.10"),
        ("http://[::1]/", "loopback address ::1"),
        ("http://10.1.2.3/", "private network address 10.1.2.3"),
        ("http://172.16.0.1/", "private network address 172.16.0.1"),
        ("http://172.31.255.254/", "private network address"),
        ("http://192.168.1.1/", "private network address"),
        ("http://[fc00::1]/", "private network address fc00::1"),
        ("http://[fd12:3456::1]/", "private network address"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata address 169.254.169.254"),
        ("http://169.254.1.1/", "link-local address 169.254.1.1"),
        ("http://[fe80::1]/", "link-local address fe80::1"),
        ("http://0.0.0.0/", "unspecified address 0.0.0.0"),
        ("http://[::]/", "unspecified address ::"),
        ("http://224.0.0.1/", "multicast address 224.0.0.1"),
        ("http://[ff02::1]/", "multicast address ff02::1"),
        ("http://240.0.0.1/", "reserved address 240.0.0.1"),
        ("http://255.255.255.255/", "255.255.255.255"),
        ("http://100.64.0.1/", "carrier-grade NAT address 100.64.0.1"),
        ("http://100.127.255.254/", "carrier-grade NAT address"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped IPv6 address"),
        ("http://[::ffff:8.8.8.8]/", "IPv4-mapped IPv6 address"),
        ("http://[::127.0.0.1]/", "IPv4-compatible IPv6 address"),
        ("http://[64:ff9b::127.0.0.1]/", "NAT64 address 64:ff9b::7f00:1 (embeds 127.0.0.1)"),
        ("http://[64:ff9b::10.0.0.1]/", "NAT64 address 64:ff9b::a00:1 (embeds 10.0.0.1)"),
        ("http://[64:ff9b::8.8.8.8]/", "NAT64 address"),
        ("http://[64:ff9b:1::a00:1]/", "NAT64 address"),
        ("http://[2002:7f00:1::]/", "6to4 address 2002:7f00:1:: embedding loopback"),
        ("http://[2002:c0a8:101::1]/", "6to4 address 2002:c0a8:101::1 embedding private"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("http://2130706433/", "loopback address 127.0.0.1 (2130706433 resolves to it)"),
        ("http://0x7f.1/", "loopback address 127.0.0.1"),
        ("http://localhost/", "loopback address"),
        ("ftp://files.example.org/", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://1.1.1.1/", "scheme 'gopher' is not allowed"),
        ("//1.1.1.1/", "scheme '(none)' is not allowed"),
        ("http://user:pass@host.example.org/", "credentials in the URL are not allowed"),
        ("https://token@1.1.1.1/", "credentials in the URL are not allowed"),
        ("http:///path-only", "the URL has no host"),
        ("http://1.1.1.1:99999/", "not a valid URL"),
        ("http://name.invalid/", "host 'name.invalid' does not resolve"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, allow_private=False)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://1.1.1.1/hooks",
        "http://8.8.8.8:8080/x?y=1",
        "https://[2606:4700:4700::1111]/hooks",
        "https://[2002:808:808::1]/",  # 6to4 of a public address
    ],
)
def test_public_addresses_pass(url: str) -> None:
    check_url(url, allow_private=False)


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public() -> None:
    dns = FakeDNS({"hooks.example.org": [["93.184.215.14", "10.0.0.5"]]})
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.5 \(hooks\.example\.org resolves to it\)"):
        check_url("https://hooks.example.org/x", allow_private=False, resolve=dns)
    check_url(
        "https://ok.example.org/x",
        allow_private=False,
        resolve=FakeDNS({"ok.example.org": [["93.184.215.14", "2606:4700::1"]]}),
    )


def test_allowing_private_addresses_skips_only_the_address_check() -> None:
    check_url("http://127.0.0.1:8000/hooks", allow_private=True)
    check_url("http://10.1.2.3/", allow_private=True)
    with pytest.raises(UnsafeURL, match="scheme"):
        check_url("ftp://127.0.0.1/", allow_private=True)
    with pytest.raises(UnsafeURL, match="credentials"):
        check_url("http://a:b@127.0.0.1/", allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_dns_rebinding_is_refused_at_connect_time_without_connecting(receiver: Receiver) -> None:
    url = f"http://rebind.example.org:{receiver.port}/hooks"
    dns = FakeDNS({"rebind.example.org": [["93.184.215.14"], ["127.0.0.1"]]})
    check_url(url, allow_private=False, resolve=dns)  # public when registered
    outcome = _client(dns, allow_private=False).post(url, b"{}", {})
    assert not outcome.ok
    assert outcome.status_code is None
    assert outcome.error == (
        "refused: loopback address 127.0.0.1 (rebind.example.org resolves to it) is not allowed"
    )
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address_and_is_kept_alive(receiver: Receiver) -> None:
    dns = FakeDNS({"hooks.example.org": [["127.0.0.1"]]})
    client = _client(dns, allow_private=True)
    url = f"http://hooks.example.org:{receiver.port}/hooks"
    outcomes = [client.post(url, b'{"n": 1}', {"content-type": "application/json"}) for _ in "ab"]
    client.close()
    assert [o.status_code for o in outcomes] == [204, 204]
    assert dns.lookups == ["hooks.example.org"], "one connection, reused"
    assert [r.headers["host"] for r in receiver.requests] == [
        f"hooks.example.org:{receiver.port}"
    ] * 2
    assert receiver.requests[0].headers["user-agent"].startswith("paydue-webhooks/")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``hooks.example.org``."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.example.org",
         "-addext", "subjectAltName=DNS:hooks.example.org"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_names_and_verifies_the_host_on_the_pinned_address(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_side.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    trusting = ssl.create_default_context(cafile=str(cert))
    dns = FakeDNS({"hooks.example.org": [["127.0.0.1"]], "other.example.org": [["127.0.0.1"]]})
    client = _client(dns, allow_private=True, ssl_context=trusting)
    with Receiver(tls=server_side) as receiver:
        good = client.post(f"https://hooks.example.org:{receiver.port}/hooks", b"{}", {})
        wrong = client.post(f"https://other.example.org:{receiver.port}/hooks", b"{}", {})
    client.close()
    assert good.status_code == 204
    assert sni[0] == "hooks.example.org"
    assert wrong.status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in (wrong.error or "")
    assert len(receiver.requests) == 1


def test_only_the_start_of_a_response_body_is_kept() -> None:
    with Receiver(status=200) as receiver:
        receiver.response_body = b"x" * 1_000_000
        outcome = _client(FakeDNS({}), allow_private=True).post(receiver.url, b"{}", {})
    assert outcome.ok
    assert outcome.excerpt == "x" * EXCERPT_BYTES


def test_a_slow_receiver_times_out() -> None:
    with Receiver(hold_first=True) as receiver:
        client = HttpClient(connect_timeout=1, read_timeout=0.2, allow_private=True)
        outcome = client.post(receiver.url, b"{}", {})
        client.close()
    assert outcome.error == "timeout: ReadTimeout"


def test_logged_urls_and_headers_carry_no_secrets() -> None:
    assert (
        redact_url("https://user:pw@hooks.example.org:8443/in/x?token=abc#frag")
        == "https://hooks.example.org:8443/in/x?[redacted]"
    )
    assert redact_url("http://[::1]:8080/") == "http://[::1]:8080/"
    assert redact_headers(
        {"webhook-signature": "v1,abc", "Authorization": "Bearer k", "webhook-id": "evt_1"}
    ) == {"webhook-signature": "[redacted]", "Authorization": "[redacted]", "webhook-id": "evt_1"}

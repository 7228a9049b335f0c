"""The contract every channel adapter passes, each wired to a real local peer.

A case is one adapter with its peer: an SMTP server (aiosmtpd), a local HTTP service posing as
Twilio, an SMS gateway, a push service, a print API or an issuer's endpoint, or a folder. For
every case: a valid message is accepted with a provider id and the peer got exactly that
message (recipient, text, pay link); a refusal by the service is ``accepted=False`` with a
reason and the right ``retryable``, never an exception; an unreachable service is retryable.
"""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from py_vapid import Vapid02
from pypdf import PdfReader

from paydue.adapters.channels.base import Channel, OutboundMessage, SendResult
from paydue.adapters.channels.email import EmailBuilder, SmtpEmail
from paydue.adapters.channels.letter import LetterExport, PrintApiLetters
from paydue.adapters.channels.outbox import Outbox
from paydue.adapters.channels.push import WebPush
from paydue.adapters.channels.sms import GatewaySms, TwilioSms
from paydue.adapters.channels.voice import TwilioVoice
from paydue.adapters.channels.webhook import WebhookChannel, derived_secret
from paydue.adapters.http import HttpClient
from tests.channel_peers import Answer, HttpPeer, Request, SmtpPeer, free_port

PAY_URL = "https://pay.example.org/p/Zk3qW8rT2mN5vB7xC9dF1gH4"
TEXT = 'Rechnung 2026-0042 über 123,45 € ist fällig <am 1.12.> & "bald": ' + PAY_URL
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token"


@dataclass
class Received:
    recipient: str
    content: str
    """Everything the peer got that a payer would read, as text."""


@dataclass
class Case:
    channel: Channel
    valid_to: str
    received: Callable[[], list[Received]]
    refusals: list[tuple[str, bool]] = field(default_factory=list)
    """Recipients the peer refuses, and whether that refusal is retryable."""
    dead: Channel | None = None
    """The same adapter pointed at a service that is not there."""
    channel_name: str = ""
    recipient: str | None = None
    """The recipient as the peer sees it, when that is not ``valid_to`` itself."""

    def message(self, to: str, *, number: int = 1) -> OutboundMessage:
        return OutboundMessage(
            id=f"msg_01JCONTRACT{number:04d}",
            issuer_id="iss_01JCONTRACT",
            channel=self.channel_name or self.channel.name,
            to=to,
            subject="Zahlungserinnerung",
            text=TEXT,
            html=f"<p>{TEXT.replace('&', '&amp;').replace('<', '&lt;')}</p>",
            language="de",
            pay_url=PAY_URL,
        )


# ---- Twilio, the SMS gateway, push, print API, webhook: one HTTP peer each ----------------


def _json(status: int, body: object) -> Answer:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def twilio_answer(request: Request) -> Answer:
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    if form.get("To") == "+15005550001":
        return _json(
            400, {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}
        )
    if form.get("To") == "+15005550009":
        return _json(503, {"code": 20503, "message": "Service unavailable", "status": 503})
    kind = "CA" if request.path.endswith("/Calls.json") else "SM"
    return _json(201, {"sid": f"{kind}{len(form):032d}", "price": None, "status": "queued"})


def _twilio_form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def _said(twiml: str) -> str:
    root = etree.fromstring(twiml.encode())
    return " ".join(say.text or "" for say in root.iter("Say"))


def gateway_answer(request: Request) -> Answer:
    to = json.loads(request.body)["to"]
    if to == "+15005550001":
        return _json(422, {"error": "invalid number"})
    if to == "+15005550009":
        return _json(429, {"error": "slow down"})
    return _json(200, {"id": "gw-" + json.loads(request.body)["reference"]})


def status_by_path(request: Request) -> Answer:
    if request.path.endswith("/gone"):
        return 410, {}, b""
    if request.path.endswith("/refuse"):
        return _json(400, {"error": "refused"})
    if request.path.endswith("/busy"):
        return 503, {}, b""
    return 201, {"location": f"{request.path}/messages/1"}, b""


def print_api_answer(request: Request) -> Answer:
    if b"Refused Street" in request.body:
        return _json(422, {"error": "address not deliverable"})
    if b"Busy Street" in request.body:
        return _json(503, {"error": "printer jam"})
    return _json(202, {"id": "print-1"})


class PushSubscriber:
    """A browser's push subscription: its keys decrypt what the push service received."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = b"0123456789abcdef"

    def subscription(self, endpoint: str) -> str:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
        return json.dumps(
            {"endpoint": endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}
        )

    def decrypt(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def _multipart(request: Request) -> dict[str, bytes]:
    head = f"content-type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = email.message_from_bytes(head + request.body, policy=email.policy.HTTP)
    parts: dict[str, bytes] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = part.get_payload(decode=True)
    return parts


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


CASES = ["email", "twilio_sms", "gateway_sms", "voice", "push", "letter_export",
         "print_api", "webhook", "outbox"]  # fmt: skip


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    yield from BUILDERS[request.param](tmp_path)


def email_case(tmp_path: Path) -> Iterator[Case]:
    builder = EmailBuilder(from_address="Stadtwerke <billing@stadtwerke.example>")
    with SmtpPeer() as peer:
        channel = SmtpEmail("127.0.0.1", peer.port, builder, tls="none", timeout=5)
        dead = SmtpEmail("127.0.0.1", free_port(), builder, tls="none", timeout=5)

        def received() -> list[Received]:
            out = []
            for envelope in peer.messages:
                mail = email.message_from_bytes(envelope.original_content, policy=email.policy.SMTP)
                assert isinstance(mail, EmailMessage)
                body = mail.get_body(("plain",))
                assert body is not None
                out.append(Received(",".join(envelope.rcpt_tos), body.get_content()))
            return out

        yield Case(
            channel,
            "erika@example.org",
            received,
            refusals=[("bounce@example.org", False), ("later@example.org", True)],
            dead=dead,
        )
        channel.close()
        dead.close()


def twilio_sms_case(tmp_path: Path) -> Iterator[Case]:
    with HttpPeer(twilio_answer) as peer:
        make = lambda url: TwilioSms(SID, TOKEN, from_number="+15005550006", base_url=url)  # noqa: E731
        yield Case(
            make(peer.url),
            "+4915123456789",
            lambda: [Received(f["To"], f["Body"]) for f in map(_twilio_form, peer.requests)],
            refusals=[("+15005550001", False), ("+15005550009", True)],
            dead=make(_dead_url()),
        )


def gateway_sms_case(tmp_path: Path) -> Iterator[Case]:
    with HttpPeer(gateway_answer) as peer:
        make = lambda url: GatewaySms(url + "/send", "gw-token")  # noqa: E731
        yield Case(
            make(peer.url),
            "+4915123456789",
            lambda: [
                Received(b["to"], b["text"]) for b in (json.loads(r.body) for r in peer.requests)
            ],
            refusals=[("+15005550001", False), ("+15005550009", True)],
            dead=make(_dead_url()),
        )


def voice_case(tmp_path: Path) -> Iterator[Case]:
    with HttpPeer(twilio_answer) as peer:
        make = lambda url: TwilioVoice(  # noqa: E731
            SID, TOKEN, from_number="+15005550006", base_url=url,
            gather_url="https://paydue.example/inbound/voice/gather",
        )  # fmt: skip
        yield Case(
            make(peer.url),
            "+4915123456789",
            lambda: [
                Received(f["To"], _said(f["Twiml"])) for f in map(_twilio_form, peer.requests)
            ],
            refusals=[("+15005550001", False), ("+15005550009", True)],
            dead=make(_dead_url()),
        )


def push_case(tmp_path: Path) -> Iterator[Case]:
    subscriber = PushSubscriber()
    vapid = Vapid02()
    vapid.generate_keys()
    key = vapid.private_pem().decode()
    with HttpPeer(status_by_path) as peer:
        channel = WebPush(key, "mailto:ops@paydue.example", allow_private=True, timeout=5)

        def received() -> list[Received]:
            out = []
            for request in peer.requests:
                assert request.headers["authorization"].startswith("vapid t=")
                payload = subscriber.decrypt(request.body)
                out.append(Received(request.path, f"{payload['body']} {payload['url']}"))
            return out

        yield Case(
            channel,
            subscriber.subscription(peer.url + "/push/sub1"),
            received,
            refusals=[
                (subscriber.subscription(peer.url + "/push/gone"), False),
                (subscriber.subscription(peer.url + "/push/refuse"), False),
                (subscriber.subscription(peer.url + "/push/busy"), True),
            ],
            dead=WebPush(key, "mailto:ops@paydue.example", allow_private=True, timeout=5),
            recipient="/push/sub1",
        )


ADDRESS = "Erika Mustermann\nHeidestraße 17\n51147 Köln"


def letter_export_case(tmp_path: Path) -> Iterator[Case]:
    channel = LetterExport(tmp_path / "letters")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the export folder should be")

    def received() -> list[Received]:
        """The address from the batch's manifest, the text from the PDF it names."""
        out = []
        for manifest in (tmp_path / "letters").glob("*/manifest.csv"):
            with manifest.open(newline="") as rows:
                for row in csv.DictReader(rows):
                    pdf = (manifest.parent / row["file"]).read_bytes()
                    out.append(Received(row["address"], _pdf_text(pdf)))
        return out

    yield Case(
        channel,
        ADDRESS,
        received,
        refusals=[("Only one line", False)],
        dead=LetterExport(blocked / "letters"),
        recipient=ADDRESS.replace("\n", " / "),
    )


def print_api_case(tmp_path: Path) -> Iterator[Case]:
    with HttpPeer(print_api_answer) as peer:
        make = lambda url: PrintApiLetters(url + "/letters", "print-token")  # noqa: E731

        def received() -> list[Received]:
            out = []
            for request in peer.requests:
                parts = _multipart(request)
                address = parts["address"].decode().replace("\r\n", "\n")
                out.append(Received(address, _pdf_text(parts["file"])))
            return out

        yield Case(
            make(peer.url),
            ADDRESS,
            received,
            refusals=[
                ("Max Refused\nRefused Street 1\n10115 Berlin", False),
                ("Max Busy\nBusy Street 1\n10115 Berlin", True),
                ("Only one line", False),
            ],
            dead=make(_dead_url()),
        )


def webhook_case(tmp_path: Path) -> Iterator[Case]:
    http = HttpClient(connect_timeout=5, read_timeout=5, allow_private=True)
    secrets = derived_secret(b"contract-secret")
    with HttpPeer(status_by_path) as peer:
        yield Case(
            WebhookChannel(http, secrets),
            peer.url + "/hooks/messages",
            lambda: [Received(r.path, json.loads(r.body)["data"]["text"]) for r in peer.requests],
            refusals=[
                (peer.url + "/hooks/refuse", False),
                (peer.url + "/hooks/gone", False),
                (peer.url + "/hooks/busy", True),
            ],
            dead=WebhookChannel(http, secrets),
            channel_name="webhook",
            recipient="/hooks/messages",
        )
    http.close()


def outbox_case(tmp_path: Path) -> Iterator[Case]:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the outbox folder should be")

    def received() -> list[Received]:
        out = []
        for path in sorted((tmp_path / "outbox").iterdir()):
            text = path.read_text()
            to = next(line[4:] for line in text.splitlines() if line.startswith("To: "))
            out.append(Received(to, text))
        return out

    yield Case(
        Outbox(tmp_path / "outbox"),
        "+4915123456789",
        received,
        dead=Outbox(blocked / "outbox"),
        channel_name="sms",
    )


BUILDERS: dict[str, Callable[[Path], Iterator[Case]]] = {
    "email": email_case,
    "twilio_sms": twilio_sms_case,
    "gateway_sms": gateway_sms_case,
    "voice": voice_case,
    "push": push_case,
    "letter_export": letter_export_case,
    "print_api": print_api_case,
    "webhook": webhook_case,
    "outbox": outbox_case,
}


def _unreachable_to(case: Case) -> str:
    """The valid recipient, or for URL-addressed channels the same path on a dead port."""
    if case.channel.name == "push":
        return PushSubscriber().subscription(_dead_url() + "/push/sub1")
    if case.channel.name == "webhook":
        return _dead_url() + "/hooks/messages"
    return case.valid_to


def test_a_valid_message_is_accepted_with_the_services_id(case: Case) -> None:
    result = case.channel.send(case.message(case.valid_to))
    assert result == SendResult(
        accepted=True,
        provider_id=result.provider_id,
        cost_minor=result.cost_minor,
        cost_currency=result.cost_currency,
    )
    assert result.provider_id


def test_the_peer_receives_exactly_the_message_sent(case: Case) -> None:
    case.channel.send(case.message(case.valid_to))
    received = case.received()
    assert len(received) == 1, "one message, delivered once"
    (got,) = received
    assert got.recipient == (case.recipient or case.valid_to)
    assert PAY_URL in got.content
    words = " ".join(got.content.split())
    for fragment in ("Rechnung 2026-0042 über 123,45 €", '<am 1.12.> & "bald"'):
        assert fragment in words


def test_a_refusal_by_the_service_is_reported_not_raised(case: Case) -> None:
    if not case.refusals:
        pytest.skip(f"{case.channel.name} has no service that could refuse")
    for number, (to, retryable) in enumerate(case.refusals, start=1):
        result = case.channel.send(case.message(to, number=number))
        assert result.accepted is False, to
        assert result.error, "a refusal says why"
        assert result.retryable is retryable, (to, result.error)
        assert result.provider_id is None


def test_an_unreachable_service_is_worth_trying_again(case: Case) -> None:
    assert case.dead is not None
    result = case.dead.send(case.message(_unreachable_to(case)))
    assert result.accepted is False
    assert result.retryable is True, result.error
    assert result.error

"""The contract every payment provider in ``adapters.providers.registry`` passes.

Each test runs for every registered provider; what a provider's capabilities say it does not do
(``notifies=False``) is skipped, and a provider that does not notify must refuse every
notification. A notifying provider needs a driver here (``DRIVERS``): how its payer picks an
outcome and how it signs a notification, the "fixtures" a new provider brings along.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from paydue.adapters.clock import SimulatedClock, SystemClock
from paydue.adapters.providers import registry
from paydue.adapters.providers.base import (
    Instructions,
    Notification,
    NotificationError,
    PaymentRequest,
    Provider,
    Redirect,
)
from paydue.adapters.providers.simulator import OUTCOMES, Simulator
from paydue.domain.payments import FailureReason, PaymentStatus
from paydue.domain.routing import METHODS
from paydue.services.ids import new_id

NOW = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
BASE_URL = "http://testserver"
ACCOUNT = "iss_01JCONTRACTACCOUNTAAAAAAAA"
OTHER_ACCOUNT = "iss_01JCONTRACTACCOUNTBBBBBBBB"
SECRET = b"contract-test-secret-key-with-enough-characters"
TOLERANCE = 300
"""Notifications signed further than this from the receiver's clock are refused."""

S, R = PaymentStatus, FailureReason


def _registry(engine: sa.Engine, clock: Any) -> dict[str, Provider]:
    return registry(engine, clock, SECRET, BASE_URL)


NAMES = sorted(_registry(sa.create_engine("sqlite://"), SystemClock()))


class Driver(Protocol):
    """How a test plays the payer and the provider's side of a notifying provider."""

    outcomes: dict[str, tuple[PaymentStatus, FailureReason | None]]
    """Every outcome the payer can pick, and the state and reason paydue must read from it."""

    def pay(self, provider: Any, started: Redirect, outcome: str) -> None:
        """The payer picks ``outcome`` on the provider's checkout."""

    def signed(
        self,
        provider: Any,
        account: str,
        started: Redirect,
        outcome: str,
        *,
        signed_at: int | None = None,
        event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The notification the provider would send for ``outcome``, signed for ``account``."""


SIMULATOR_WORDS = {
    "success": ("succeeded", None),
    "pending_then_success": ("pending", None),
    "cancel": ("canceled", None),
    "decline:card_expired": ("failed", "card_expired"),
    "decline:card_stolen": ("failed", "card_stolen"),
    "decline:card_invalid": ("failed", "card_invalid"),
    "decline:card_not_activated": ("failed", "card_not_activated"),
    "decline:insufficient_funds": ("failed", "insufficient_funds"),
    "decline:do_not_honor": ("failed", "do_not_honor"),
}


class SimulatorDriver:
    outcomes = {
        "success": (S.SUCCEEDED, None),
        "pending_then_success": (S.PENDING, None),
        "cancel": (S.CANCELLED, R.CANCELLED_BY_PAYER),
        "decline:card_expired": (S.FAILED, R.EXPIRED_CARD),
        "decline:card_stolen": (S.FAILED, R.STOLEN_CARD),
        "decline:card_invalid": (S.FAILED, R.INVALID_CARD),
        "decline:card_not_activated": (S.FAILED, R.INACTIVE_CARD),
        "decline:insufficient_funds": (S.FAILED, R.INSUFFICIENT_FUNDS),
        "decline:do_not_honor": (S.FAILED, R.DECLINED),
    }

    def pay(self, provider: Simulator, started: Redirect, outcome: str) -> None:
        provider.complete(started.provider_payment_id, outcome)

    def signed(
        self,
        provider: Simulator,
        account: str,
        started: Redirect,
        outcome: str,
        *,
        signed_at: int | None = None,
        event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        charge = provider.charge(started.provider_payment_id)
        assert charge is not None
        status, code = SIMULATOR_WORDS[outcome]
        return provider.notification(
            {**charge, "account": account}, status, code, signed_at=signed_at, event_id=event_id
        )


DRIVERS: dict[str, Driver] = {"simulator": SimulatorDriver()}


@dataclass
class Harness:
    provider: Provider
    clock: SimulatedClock
    sent: list[tuple[dict[str, Any], str, str | None]]
    """Notifications the provider sent on its own (captured, not posted)."""
    reference: str = ""

    @property
    def driver(self) -> Driver:
        return DRIVERS[self.provider.name]

    def request(self, method: str | None = None, amount: int = 4711) -> PaymentRequest:
        """A request for a new payment (each has its own reference, ``self.reference``)."""
        self.reference = new_id("pay")
        return PaymentRequest(
            account=ACCOUNT,
            reference=self.reference,
            amount=amount,
            currency="EUR",
            method=method or sorted(self.provider.methods)[0],
            description="Stadtwerke Musterstadt INV-1",
            locale="en",
            return_url=f"{BASE_URL}/p/tok/payments/{self.reference}",
            notify_url=f"{BASE_URL}/inbound/{self.provider.name}/{ACCOUNT}",
        )

    def started(self, method: str | None = None, amount: int = 4711) -> Redirect:
        started = self.provider.start(self.request(method, amount))
        assert isinstance(started, Redirect)
        return started


@pytest.fixture(params=NAMES)
def harness(
    request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    from paydue.adapters.db.engine import make_engine

    engine = make_engine(db_url)
    clock = SimulatedClock(NOW)
    provider = _registry(engine, clock)[request.param]
    sent: list[tuple[dict[str, Any], str, str | None]] = []
    if isinstance(provider, Simulator):
        # Capture what the simulator would post in the background instead of posting it.
        monkeypatch.setattr(
            provider,
            "_notify_later",
            lambda charge, status, code, _delay: sent.append((dict(charge), status, code)),
        )
        monkeypatch.setattr(provider, "_settle_later", lambda *_: None)
    yield Harness(provider, clock, sent)
    engine.dispose()


def notifying(h: Harness) -> Harness:
    if not h.provider.notifies:
        pytest.skip(f"{h.provider.name} sends no notifications")
    return h


def test_every_notifying_provider_has_a_driver() -> None:
    providers = _registry(sa.create_engine("sqlite://"), SystemClock())
    assert {n for n, p in providers.items() if p.notifies} == set(DRIVERS)


def test_capabilities_are_well_formed(harness: Harness) -> None:
    p = harness.provider
    assert p.name
    assert p.methods
    assert p.methods <= METHODS
    for origin in p.redirect_origins:
        parts = urlsplit(origin)
        assert parts.scheme == "https"
        assert parts.netloc
        assert parts.path in ("", "/")


def test_start_answers_as_the_capabilities_say_for_every_method(harness: Harness) -> None:
    p = harness.provider
    allowed = {f"{urlsplit(BASE_URL).scheme}://{urlsplit(BASE_URL).netloc}"} | {
        o.rstrip("/") for o in p.redirect_origins
    }
    ids = set()
    for method in sorted(p.methods):
        outcome = p.start(harness.request(method))
        if not p.notifies:
            # Nothing would ever tell paydue how a redirect ended: the payer gets instructions.
            assert isinstance(outcome, Instructions)
        if isinstance(outcome, Redirect):
            parts = urlsplit(outcome.url)
            assert f"{parts.scheme}://{parts.netloc}" in allowed, outcome.url
            assert outcome.provider_payment_id
            ids.add(outcome.provider_payment_id)
        else:
            assert isinstance(outcome, Instructions)
            assert outcome.details
            assert all(
                isinstance(k, str) and isinstance(v, str) for k, v in outcome.details.items()
            )
            assert outcome.details.get("reference") == harness.reference
    if p.notifies:
        assert len(ids) == len(p.methods), "every started payment has its own provider id"


def test_a_provider_without_notifications_refuses_every_notification(harness: Harness) -> None:
    p = harness.provider
    if p.notifies:
        pytest.skip(f"{p.name} sends notifications")
    with pytest.raises(NotificationError) as refused:
        p.verify_notification(ACCOUNT, b"{}", {}, NOW)
    assert 400 <= refused.value.status < 500
    with pytest.raises(NotificationError):
        p.parse_notification(b"{}")
    assert p.fetch_status("anything") is None


def test_a_correctly_signed_notification_is_accepted(harness: Harness) -> None:
    h = notifying(harness)
    started = h.started()
    body, headers = h.driver.signed(h.provider, ACCOUNT, started, "success")
    h.provider.verify_notification(ACCOUNT, body, headers, NOW)
    for edge in (-TOLERANCE, TOLERANCE):
        signed_at = int((NOW + timedelta(seconds=edge)).timestamp())
        body, headers = h.driver.signed(
            h.provider, ACCOUNT, started, "success", signed_at=signed_at
        )
        h.provider.verify_notification(ACCOUNT, body, headers, NOW)


def _refused(h: Harness, account: str, body: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(NotificationError) as refused:
        h.provider.verify_notification(account, body, headers, NOW)
    assert 400 <= refused.value.status < 500
    assert str(refused.value)
    return str(refused.value)


def _tamper(body: bytes) -> list[bytes]:
    doc = orjson.loads(body)
    variants = [body + b" ", body.replace(b"4711", b"4712"), body[:-1]]
    more = dict(doc)
    more["extra"] = 1
    variants.append(orjson.dumps(more))
    return [v for v in variants if v != body]


def test_a_tampered_body_is_refused(harness: Harness) -> None:
    h = notifying(harness)
    body, headers = h.driver.signed(h.provider, ACCOUNT, h.started(), "success")
    for tampered in _tamper(body):
        _refused(h, ACCOUNT, tampered, headers)


def test_a_notification_signed_for_another_account_is_refused(harness: Harness) -> None:
    h = notifying(harness)
    body, headers = h.driver.signed(h.provider, OTHER_ACCOUNT, h.started(), "success")
    h.provider.verify_notification(OTHER_ACCOUNT, body, headers, NOW)
    _refused(h, ACCOUNT, body, headers)


@pytest.mark.parametrize("off", [-TOLERANCE - 1, TOLERANCE + 1, -86400, 86400])
def test_a_stale_or_future_timestamp_is_refused(harness: Harness, off: int) -> None:
    h = notifying(harness)
    signed_at = int((NOW + timedelta(seconds=off)).timestamp())
    body, headers = h.driver.signed(
        h.provider, ACCOUNT, h.started(), "success", signed_at=signed_at
    )
    _refused(h, ACCOUNT, body, headers)


def test_missing_or_garbled_signature_headers_are_refused(harness: Harness) -> None:
    h = notifying(harness)
    body, headers = h.driver.signed(h.provider, ACCOUNT, h.started(), "success")
    _refused(h, ACCOUNT, body, {})
    _refused(h, ACCOUNT, body, {k: v for k, v in headers.items() if k == "content-type"})
    for name in headers:
        if name == "content-type":
            continue
        for garbled in ("", "garbage", "t=,v1=", "t=abc,v1=00", "v1=00", headers[name] + "0"):
            _refused(h, ACCOUNT, body, {**headers, name: garbled})


def test_a_notification_round_trips_for_every_outcome(harness: Harness) -> None:
    h = notifying(harness)
    for outcome, (status, reason) in h.driver.outcomes.items():
        started = h.started(amount=990)
        body, headers = h.driver.signed(h.provider, ACCOUNT, started, outcome, event_id="evt_x1")
        h.provider.verify_notification(ACCOUNT, body, headers, NOW)
        assert h.provider.parse_notification(body) == Notification(
            event_id="evt_x1",
            reference=h.reference,
            status=status,
            amount=990,
            currency="EUR",
            provider_payment_id=started.provider_payment_id,
            failure_reason=reason,
        ), outcome


def test_the_simulator_driver_knows_every_outcome_and_decline_code() -> None:
    assert set(SimulatorDriver.outcomes) == set(OUTCOMES) == set(SIMULATOR_WORDS)


def test_an_unknown_decline_code_reads_as_declined(harness: Harness) -> None:
    h = notifying(harness)
    if not isinstance(h.provider, Simulator):
        pytest.skip("simulator decline codes")
    charge = h.provider.charge(h.started().provider_payment_id)
    assert charge is not None
    body, _ = h.provider.notification(charge, "failed", "brand_new_code")
    parsed = h.provider.parse_notification(body)
    assert (parsed.status, parsed.failure_reason) == (S.FAILED, R.DECLINED)


def test_two_sends_of_one_notification_carry_one_event_id(harness: Harness) -> None:
    h = notifying(harness)
    started = h.started()
    first, _ = h.driver.signed(h.provider, ACCOUNT, started, "success", event_id="evt_same")
    again, _ = h.driver.signed(h.provider, ACCOUNT, started, "success", event_id="evt_same")
    other, _ = h.driver.signed(h.provider, ACCOUNT, started, "success")
    ids = [h.provider.parse_notification(b).event_id for b in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]


def test_fetch_status_agrees_with_the_last_state(harness: Harness) -> None:
    h = notifying(harness)
    assert h.provider.fetch_status("ch_unknown") is None
    for outcome, (status, reason) in h.driver.outcomes.items():
        started = h.started(amount=1234)
        h.driver.pay(h.provider, started, outcome)
        fetched = h.provider.fetch_status(started.provider_payment_id)
        assert fetched is not None, outcome
        assert (fetched.status, fetched.failure_reason) == (status, reason), outcome
        assert (fetched.reference, fetched.amount, fetched.currency) == (
            h.reference,
            1234,
            "EUR",
        )
        assert fetched.provider_payment_id == started.provider_payment_id
        # A second pick (back button, double click) changes nothing.
        h.driver.pay(h.provider, started, "success" if status != S.SUCCEEDED else "cancel")
        again = h.provider.fetch_status(started.provider_payment_id)
        assert again is not None
        assert (again.status, again.failure_reason) == (status, reason), outcome


def test_what_the_simulator_sends_agrees_with_fetch_status(harness: Harness) -> None:
    h = notifying(harness)
    if not isinstance(h.provider, Simulator):
        pytest.skip("the simulator's own notifications")
    for outcome in h.driver.outcomes:
        started = h.started()
        h.driver.pay(h.provider, started, outcome)
        charge, status, code = h.sent[-1]
        body, headers = h.provider.notification(charge, status, code)
        h.provider.verify_notification(ACCOUNT, body, headers, h.clock.now())
        sent = h.provider.parse_notification(body)
        fetched = h.provider.fetch_status(started.provider_payment_id)
        assert fetched is not None
        assert (sent.status, sent.failure_reason, sent.amount) == (
            fetched.status,
            fetched.failure_reason,
            fetched.amount,
        )
    assert len(h.sent) == len(h.driver.outcomes)


# --- parse_notification never fails with anything but NotificationError -----------------------

PARSERS = _registry(sa.create_engine("sqlite://"), SystemClock())

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=120),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
charge_fields = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | st.sampled_from(["succeeded", "failed", "pending", "canceled", "ch_1"])
        for k in ("id", "reference", "amount", "currency", "status", "failure_code")
    },
)
documents = st.fixed_dictionaries(
    {}, optional={"id": json_values, "type": json_values, "charge": charge_fields | json_values}
)


def _parse_or_refuse(name: str, body: bytes) -> None:
    try:
        parsed = PARSERS[name].parse_notification(body)
    except NotificationError as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert 400 <= refused.status < 500
        return
    assert isinstance(parsed, Notification)
    assert isinstance(parsed.status, PaymentStatus)
    assert isinstance(parsed.amount, int)
    assert parsed.amount >= 0


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=600))
def test_parse_notification_on_random_bytes_raises_only_notification_error(
    name: str, body: bytes
) -> None:
    _parse_or_refuse(name, body)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=500, deadline=None)
@given(doc=documents | json_values)
def test_parse_notification_on_odd_json_raises_only_notification_error(name: str, doc: Any) -> None:
    _parse_or_refuse(name, json.dumps(doc).encode())


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=string.printable, max_size=300))
def test_parse_notification_on_random_text_raises_only_notification_error(
    name: str, text: str
) -> None:
    _parse_or_refuse(name, text.encode())

"""Collections policies and settings of an issuer: the policies it wrote (one may be its default),
what a message costs on each channel, its contact rules, and how they combine into the
``Setup`` the sweep and the agent's send-link work with."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paydue.adapters.db.collections import StoredPolicy
from paydue.adapters.db.records import Invoice, Issuer
from paydue.adapters.db.uow import UnitOfWork
from paydue.domain.channels import DELIVERY_TIMEOUT, Channel, ChannelSettings
from paydue.domain.contact import ContactRules, public_holidays
from paydue.domain.dunning import (
    DEFAULT_POLICY,
    Policy,
    next_action_at,
    policy_from_data,
    policy_to_data,
)
from paydue.domain.errors import Conflict, InvalidInput, NotFound
from paydue.services.ids import new_id

DEFAULT_COSTS: Mapping[Channel, int] = {
    Channel.EMAIL: 0,
    Channel.PUSH: 0,
    Channel.WEBHOOK: 0,
    Channel.WHATSAPP: 5,
    Channel.SMS: 8,
    Channel.VOICE: 25,
    Channel.LETTER: 95,
}
"""Minor units per message when the issuer set no costs of its own: what drives
``cheapest_reachable`` out of the box (e-mail and push first, a letter last)."""

MAX_DELIVERY_TIMEOUT_HOURS = 24 * 14


@dataclass(frozen=True, slots=True)
class Setup:
    """What following up an issuer's invoices needs to know about the issuer."""

    issuer: Issuer
    tz: ZoneInfo
    policies: Mapping[str, Policy]
    default_id: str | None
    default: Policy
    channel_settings: ChannelSettings
    rules: ContactRules

    def policy(self, policy_id: str | None) -> tuple[str | None, Policy]:
        """The policy by id, else the issuer's default (a policy deleted meanwhile falls back
        to it too)."""
        if policy_id is not None and policy_id in self.policies:
            return policy_id, self.policies[policy_id]
        return self.default_id, self.default

    @property
    def configured(self) -> frozenset[Channel]:
        return frozenset(self.channel_settings.costs)

    def holidays(self, country: str | None, around: date) -> frozenset[date]:
        """Public holidays of ``country`` (the payer's, else the issuer's) for this and next
        year; none when the country has no calendar."""
        country = country or self.issuer.country
        if not country:
            return frozenset()
        try:
            return public_holidays(country, (around.year, around.year + 1))
        except InvalidInput:
            return frozenset()


def load_setups(
    uow: UnitOfWork, issuer_ids: Collection[str], available: Collection[str]
) -> dict[str, Setup]:
    """The ``Setup`` of each issuer; only channels the deployment can send on (``available``,
    the channel registry's names) count as configured."""
    stored: dict[str, list[StoredPolicy]] = {}
    for p in uow.collections.policies_of(issuer_ids):
        stored.setdefault(p.issuer_id, []).append(p)
    settings = uow.collections.settings_of(issuer_ids)
    setups: dict[str, Setup] = {}
    for issuer_id in issuer_ids:
        issuer = uow.issuers.get(issuer_id)
        if issuer is None:
            continue
        mine = stored.get(issuer_id, [])
        policies = {p.id: policy_from_data(p.document) for p in mine}
        default_id = next((p.id for p in mine if p.is_default), None)
        row = settings.get(issuer_id, {})
        costs = costs_from_data(row.get("channel_costs")) or dict(DEFAULT_COSTS)
        timeout = timedelta(hours=(row.get("contact_rules") or {}).get("delivery_timeout_hours", 0))
        setups[issuer_id] = Setup(
            issuer=issuer,
            tz=ZoneInfo(issuer.timezone),
            policies=policies,
            default_id=default_id,
            default=policies[default_id] if default_id else DEFAULT_POLICY,
            channel_settings=ChannelSettings(
                {c: cost for c, cost in costs.items() if c.value in available},
                delivery_timeout=timeout or DELIVERY_TIMEOUT,
            ),
            rules=rules_from_data(row.get("contact_rules")),
        )
    return setups


def load_setup(uow: UnitOfWork, issuer_id: str, available: Collection[str]) -> Setup:
    return load_setups(uow, [issuer_id], available)[issuer_id]


def enrol_invoices(uow: UnitOfWork, issuer: Issuer, invoices: Sequence[Invoice]) -> None:
    """Give new invoices their follow-up row, due when their policy's first step is (the
    issuer's default policy, or their payer's)."""
    if not invoices:
        return
    now = uow.now()
    setup = load_setup(uow, issuer.id, ())
    keys = sorted({(issuer.id, i.payer.id) for i in invoices})
    payers = uow.collections.payer_follow_ups(keys)
    rows: list[dict[str, Any]] = []
    for invoice in invoices:
        follow = payers.get((issuer.id, invoice.payer.id))
        _, policy = setup.policy(follow.policy_id if follow else None)
        rows.append(
            {
                "issuer_id": issuer.id,
                "invoice_id": invoice.id,
                "payer_id": invoice.payer.id,
                "sent_offsets": [],
                "next_action_at": next_action_at(
                    policy, invoice.due_date, sent=frozenset(), now=now, tz=setup.tz
                ),
                "paused": False,
                "updated_at": now,
            }
        )
    uow.collections.add_states(rows)


# --- policies ---------------------------------------------------------------------------------


def _validated(data: Mapping[str, Any]) -> tuple[Policy, bool]:
    """The policy in a request body and whether it is to be the default."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a policy is an object", details={"where": "body"})
    body = dict(data)
    default = body.pop("default", False)
    if not isinstance(default, bool):
        raise InvalidInput("default: true or false", details={"where": "default"})
    unknown = set(body) - {"name", "bundle", "steps"}
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(sorted(unknown))}", details={"where": "body"}
        )
    return policy_from_data(body), default


def policy_resource(p: StoredPolicy) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "policy",
        **p.document,
        "default": p.is_default,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def builtin_policy_resource() -> dict[str, Any]:
    """The policy that applies when the issuer made none its default."""
    return {"id": None, "object": "policy", **policy_to_data(DEFAULT_POLICY), "default": True}


def get_policy(uow: UnitOfWork, issuer_id: str, policy_id: str) -> StoredPolicy:
    found = uow.collections.get_policy(issuer_id, policy_id)
    if found is None:
        raise NotFound(f"no policy {policy_id!r}", code="policy_not_found")
    return found


def _check_name_free(uow: UnitOfWork, issuer_id: str, name: str, own_id: str | None) -> None:
    other = uow.collections.policy_named(issuer_id, name)
    if other is not None and other.id != own_id:
        raise Conflict(f"a policy named {name!r} exists already", code="duplicate_policy_name")


def create_policy(uow: UnitOfWork, issuer_id: str, data: Mapping[str, Any]) -> StoredPolicy:
    policy, default = _validated(data)
    _check_name_free(uow, issuer_id, policy.name, None)
    now = uow.now()
    if default:
        uow.collections.clear_default(issuer_id, now)
    policy_id = new_id("pol")
    uow.collections.add_policy(
        {
            "issuer_id": issuer_id,
            "id": policy_id,
            "name": policy.name,
            "document": policy_to_data(policy),
            "is_default": default,
            "created_at": now,
            "updated_at": now,
        }
    )
    return get_policy(uow, issuer_id, policy_id)


def replace_policy(
    uow: UnitOfWork, issuer_id: str, policy_id: str, data: Mapping[str, Any]
) -> StoredPolicy:
    """Replace a policy's steps; the steps its invoices were sent are kept (a step is known by
    its offset)."""
    current = get_policy(uow, issuer_id, policy_id)
    policy, default = _validated(data)
    _check_name_free(uow, issuer_id, policy.name, policy_id)
    now = uow.now()
    if default and not current.is_default:
        uow.collections.clear_default(issuer_id, now)
    uow.collections.update_policy(
        issuer_id,
        policy_id,
        {
            "name": policy.name,
            "document": policy_to_data(policy),
            "is_default": default,
            "updated_at": now,
        },
    )
    return get_policy(uow, issuer_id, policy_id)


def delete_policy(uow: UnitOfWork, issuer_id: str, policy_id: str) -> None:
    get_policy(uow, issuer_id, policy_id)
    uses = uow.collections.policy_uses(issuer_id, policy_id)
    if uses:
        raise Conflict(
            f"the policy is assigned to {uses} invoice(s) or payer(s); assign them another first",
            code="policy_in_use",
        )
    uow.collections.delete_policy(issuer_id, policy_id)


# --- settings ---------------------------------------------------------------------------------


def costs_from_data(data: object) -> dict[Channel, int] | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or not data:
        raise InvalidInput(
            "channel_costs: an object of channel → minor units", details={"where": "channel_costs"}
        )
    costs: dict[Channel, int] = {}
    for name, cost in data.items():
        try:
            channel = Channel(name)
        except ValueError:
            raise InvalidInput(
                f"channel_costs: unknown channel {name!r}", details={"where": "channel_costs"}
            ) from None
        costs[channel] = cost
    ChannelSettings(costs)  # checks the amounts
    return costs


def _clock(value: object, where: str) -> time:
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{where}: a time such as 08:00", details={"where": where}) from None
    return parsed


def rules_from_data(data: Mapping[str, Any] | None) -> ContactRules:
    """Contact rules from their JSON shape; absent keys keep the defaults."""
    if not data:
        return ContactRules()
    default = ContactRules()
    caps = data.get("max_per_week_by_channel")
    by_channel = default.max_per_week_by_channel
    if caps is not None:
        if not isinstance(caps, Mapping):
            raise InvalidInput("max_per_week_by_channel: an object of channel → count")
        try:
            by_channel = {Channel(k): v for k, v in caps.items()}
        except ValueError as err:
            raise InvalidInput(f"max_per_week_by_channel: {err}") from None
    rest = data.get("rest_days", sorted(default.rest_days))
    if not isinstance(rest, list) or not all(isinstance(d, int) for d in rest):
        raise InvalidInput("rest_days: a list of weekday numbers (Monday 0 … Sunday 6)")
    holidays = data.get("skip_public_holidays", default.skip_public_holidays)
    if not isinstance(holidays, bool):
        raise InvalidInput("skip_public_holidays: true or false")
    return ContactRules(
        window_start=_clock(data.get("window_start", "08:00"), "window_start"),
        window_end=_clock(data.get("window_end", "21:00"), "window_end"),
        rest_days=frozenset(rest),
        skip_public_holidays=holidays,
        max_per_week=data.get("max_per_week", default.max_per_week),
        max_per_week_by_channel=by_channel,
    )


def rules_to_data(rules: ContactRules, timeout: timedelta) -> dict[str, Any]:
    return {
        "window_start": rules.window_start.strftime("%H:%M"),
        "window_end": rules.window_end.strftime("%H:%M"),
        "rest_days": sorted(rules.rest_days),
        "skip_public_holidays": rules.skip_public_holidays,
        "max_per_week": rules.max_per_week,
        "max_per_week_by_channel": {c.value: n for c, n in rules.max_per_week_by_channel.items()},
        "delivery_timeout_hours": timeout.total_seconds() / 3600,
    }


def put_settings(
    uow: UnitOfWork,
    issuer_id: str,
    *,
    channel_costs: Mapping[str, int] | None,
    contact_rules: Mapping[str, Any] | None,
) -> None:
    """Set the issuer's channel costs and contact rules (None: the defaults); refused whole
    when any part is invalid."""
    costs_from_data(channel_costs)
    rules = dict(contact_rules or {})
    hours = rules.get("delivery_timeout_hours", DELIVERY_TIMEOUT.total_seconds() / 3600)
    if (
        isinstance(hours, bool)
        or not isinstance(hours, int | float)
        or not 0 < hours <= MAX_DELIVERY_TIMEOUT_HOURS
    ):
        raise InvalidInput(
            f"delivery_timeout_hours: more than 0, at most {MAX_DELIVERY_TIMEOUT_HOURS}",
            details={"where": "contact_rules.delivery_timeout_hours"},
        )
    unknown = set(rules) - set(rules_to_data(ContactRules(), DELIVERY_TIMEOUT))
    if unknown:
        raise InvalidInput(f"contact_rules: unknown field(s) {', '.join(sorted(unknown))}")
    rules_from_data(rules)
    uow.collections.put_settings(
        issuer_id,
        {
            "channel_costs": dict(channel_costs) if channel_costs is not None else None,
            "contact_rules": rules or None,
        },
        uow.now(),
    )


def settings_resource(setup: Setup, *, all_costs: Mapping[Channel, int]) -> dict[str, Any]:
    return {
        "object": "collection_settings",
        "channel_costs": {c.value: n for c, n in all_costs.items()},
        "available_channels": sorted(c.value for c in setup.configured),
        "contact_rules": rules_to_data(setup.rules, setup.channel_settings.delivery_timeout),
    }

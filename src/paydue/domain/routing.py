"""Which payment methods a payment is eligible for: routing rules as data, one pure function.

An issuer lists its methods in the order the pay page shows them; each carries optional limits
(amount range, currencies, payer countries, invoice tags). ``eligible`` keeps the methods whose
every stated limit holds, in the issuer's order. Bank transfer needs no rule: it is always
possible when the issuer has an account, and the page shows it apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paydue.domain.errors import InvalidInput

METHODS = frozenset(
    {
        "card",
        "bank_payment",
        "paypal",
        "revolut",
        "payconiq",
        "ideal",
        "bancontact",
        "sepa_direct_debit",
        "apple_pay",
        "google_pay",
        "bank_transfer",
    }
)
MAX_METHODS = 20


@dataclass(frozen=True, slots=True)
class MethodRule:
    """One configured method and the limits under which it is offered (``None``: no limit)."""

    provider: str
    method: str
    min_amount: int | None = None
    max_amount: int | None = None
    currencies: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    """Offered only for invoices carrying at least one of these tags."""

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.method}"


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """What the rules look at."""

    amount: int
    currency: str
    country: str | None
    tags: frozenset[str]


def allows(rule: MethodRule, facts: PaymentFacts) -> bool:
    """Whether every limit of ``rule`` holds for ``facts``. A rule naming countries refuses a
    payer whose country is unknown."""
    return (
        (rule.min_amount is None or facts.amount >= rule.min_amount)
        and (rule.max_amount is None or facts.amount <= rule.max_amount)
        and (rule.currencies is None or facts.currency in rule.currencies)
        and (rule.countries is None or facts.country in rule.countries)
        and (rule.tags is None or bool(rule.tags & facts.tags))
    )


def eligible(rules: Sequence[MethodRule], facts: PaymentFacts) -> list[MethodRule]:
    """The methods this payment may use, in the issuer's order."""
    return [rule for rule in rules if allows(rule, facts)]


def _codes(value: Any, field: str, length: int) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{field} must be a non-empty list or absent")
    for code in value:
        if not (
            isinstance(code, str) and len(code) == length and code.isalpha() and code.isupper()
        ):
            raise InvalidInput(f"{field}: {code!r} is not a {length}-letter upper-case code")
    return frozenset(value)


def parse_rules(
    items: Iterable[Mapping[str, Any]], providers: Mapping[str, frozenset[str]]
) -> list[MethodRule]:
    """Validate stored or submitted method rules. ``providers`` maps each known provider to the
    methods it can take. Raises ``InvalidInput`` naming the entry that is wrong."""
    rules: list[MethodRule] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"methods[{index}]"
        provider, method = str(item.get("provider")), item.get("method")
        if not isinstance(method, str):
            raise InvalidInput(f"{where}.method must be a method name, not {method!r}")
        if provider not in providers:
            raise InvalidInput(
                f"{where}.provider: unknown provider {provider!r}; one of {sorted(providers)}"
            )
        if method not in providers[provider]:
            raise InvalidInput(
                f"{where}.method: provider {provider!r} takes "
                f"{sorted(providers[provider])}, not {method!r}"
            )
        lo, hi = item.get("min_amount"), item.get("max_amount")
        for name, bound in (("min_amount", lo), ("max_amount", hi)):
            if bound is not None and (
                not isinstance(bound, int) or isinstance(bound, bool) or bound < 0
            ):
                raise InvalidInput(
                    f"{where}.{name} must be a whole number of minor units, 0 or more"
                )
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput(f"{where}: min_amount {lo} is above max_amount {hi}")
        tags = item.get("tags")
        if tags is not None and (
            not isinstance(tags, list)
            or not tags
            or not all(isinstance(t, str) and t for t in tags)
        ):
            raise InvalidInput(f"{where}.tags must be a non-empty list of tags or absent")
        rule = MethodRule(
            provider=provider,
            method=str(method),
            min_amount=lo,
            max_amount=hi,
            currencies=_codes(item.get("currencies"), f"{where}.currencies", 3),
            countries=_codes(item.get("countries"), f"{where}.countries", 2),
            tags=frozenset(tags) if tags is not None else None,
        )
        if rule.key in seen:
            raise InvalidInput(f"{where}: {rule.key} is listed twice")
        seen.add(rule.key)
        rules.append(rule)
    if len(rules) > MAX_METHODS:
        raise InvalidInput(f"at most {MAX_METHODS} methods")
    return rules


def rule_document(rule: MethodRule) -> dict[str, Any]:
    """The stored (and API) form of a rule; ``parse_rules`` reads it back."""
    return {
        "provider": rule.provider,
        "method": rule.method,
        "min_amount": rule.min_amount,
        "max_amount": rule.max_amount,
        "currencies": sorted(rule.currencies) if rule.currencies is not None else None,
        "countries": sorted(rule.countries) if rule.countries is not None else None,
        "tags": sorted(rule.tags) if rule.tags is not None else None,
    }

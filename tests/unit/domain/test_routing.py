"""Method routing: which configured methods a payment may use (``eligible``/``allows``), how
stored rules are read and refused (``parse_rules``), and the payment state machine as a table."""

from __future__ import annotations

from typing import Any

import pytest

from paydue.domain.errors import Conflict, InvalidInput
from paydue.domain.payments import PaymentStatus, transition
from paydue.domain.routing import (
    MAX_METHODS,
    MethodRule,
    PaymentFacts,
    allows,
    eligible,
    parse_rules,
    rule_document,
)

PROVIDERS = {
    "simulator": frozenset({"card", "paypal", "ideal", "bancontact"}),
    "bank_transfer": frozenset({"bank_transfer"}),
}


def facts(
    amount: int = 10000,
    currency: str = "EUR",
    country: str | None = "DE",
    tags: frozenset[str] = frozenset(),
) -> PaymentFacts:
    return PaymentFacts(amount=amount, currency=currency, country=country, tags=tags)


PAYPAL_UP_TO_800 = MethodRule(
    "simulator", "paypal", max_amount=80000, currencies=frozenset({"EUR"})
)
CARD_FROM_1 = MethodRule("simulator", "card", min_amount=100)
IDEAL_NL = MethodRule("simulator", "ideal", countries=frozenset({"NL"}))
BANCONTACT_BE_EUR = MethodRule(
    "simulator", "bancontact", currencies=frozenset({"EUR"}), countries=frozenset({"BE"})
)
CARD_FOR_BUSINESS = MethodRule("simulator", "card", tags=frozenset({"business", "vip"}))
NO_LIMITS = MethodRule("simulator", "card")

# (what the case says, rule, facts, allowed)
ALLOWS: list[tuple[str, MethodRule, PaymentFacts, bool]] = [
    ("no limits: anything goes", NO_LIMITS, facts(amount=0, country=None), True),
    ("PayPal only up to EUR 800: EUR 799.99", PAYPAL_UP_TO_800, facts(79999), True),
    ("PayPal only up to EUR 800: exactly EUR 800", PAYPAL_UP_TO_800, facts(80000), True),
    ("PayPal only up to EUR 800: EUR 800.01", PAYPAL_UP_TO_800, facts(80001), False),
    ("PayPal only in EUR: CHF 10", PAYPAL_UP_TO_800, facts(1000, currency="CHF"), False),
    ("minimum: one cent below", CARD_FROM_1, facts(99), False),
    ("minimum: exactly the minimum", CARD_FROM_1, facts(100), True),
    ("minimum: far above, no maximum", CARD_FROM_1, facts(10**12), True),
    ("country listed", IDEAL_NL, facts(country="NL"), True),
    ("country not listed", IDEAL_NL, facts(country="DE"), False),
    ("unknown payer country and a country rule", IDEAL_NL, facts(country=None), False),
    ("unknown payer country and no country rule", PAYPAL_UP_TO_800, facts(country=None), True),
    ("every limit holds", BANCONTACT_BE_EUR, facts(currency="EUR", country="BE"), True),
    ("one of two limits fails", BANCONTACT_BE_EUR, facts(currency="USD", country="BE"), False),
    ("tagged invoice, one tag matches", CARD_FOR_BUSINESS, facts(tags=frozenset({"vip"})), True),
    (
        "tagged invoice, extra tags do not matter",
        CARD_FOR_BUSINESS,
        facts(tags=frozenset({"business", "north"})),
        True,
    ),
    ("tagged invoice, no tag matches", CARD_FOR_BUSINESS, facts(tags=frozenset({"x"})), False),
    ("untagged invoice and a tag rule", CARD_FOR_BUSINESS, facts(tags=frozenset()), False),
    ("untagged rule and a tagged invoice", NO_LIMITS, facts(tags=frozenset({"vip"})), True),
]


@pytest.mark.parametrize(
    ("rule", "payment", "allowed"), [c[1:] for c in ALLOWS], ids=[c[0] for c in ALLOWS]
)
def test_allows(rule: MethodRule, payment: PaymentFacts, allowed: bool) -> None:
    assert allows(rule, payment) is allowed


ISSUER_ORDER = [IDEAL_NL, PAYPAL_UP_TO_800, CARD_FROM_1, BANCONTACT_BE_EUR]

# (what the case says, facts, the keys offered in order)
ELIGIBLE: list[tuple[str, PaymentFacts, list[str]]] = [
    ("German payer, EUR 100", facts(10000), ["simulator:paypal", "simulator:card"]),
    ("German payer, EUR 900: no PayPal", facts(90000), ["simulator:card"]),
    (
        "Dutch payer keeps the issuer's order",
        facts(10000, country="NL"),
        ["simulator:ideal", "simulator:paypal", "simulator:card"],
    ),
    (
        "Belgian payer",
        facts(10000, country="BE"),
        [
            "simulator:paypal",
            "simulator:card",
            "simulator:bancontact",
        ],
    ),
    (
        "unknown country: only rules without countries",
        facts(10000, country=None),
        [
            "simulator:paypal",
            "simulator:card",
        ],
    ),
    ("50 cents in CHF: nothing", facts(50, currency="CHF"), []),
]


@pytest.mark.parametrize(
    ("payment", "offered"), [c[1:] for c in ELIGIBLE], ids=[c[0] for c in ELIGIBLE]
)
def test_eligible_keeps_the_issuers_order(payment: PaymentFacts, offered: list[str]) -> None:
    assert [r.key for r in eligible(ISSUER_ORDER, payment)] == offered


def test_eligible_with_no_rules_offers_nothing() -> None:
    assert eligible([], facts()) == []


def test_parsed_rules_route_like_the_rules_they_describe() -> None:
    rules = parse_rules(
        [
            {"provider": "simulator", "method": "card"},
            {
                "provider": "simulator",
                "method": "paypal",
                "max_amount": 80000,
                "currencies": ["EUR"],
            },
        ],
        PROVIDERS,
    )
    assert [r.key for r in eligible(rules, facts(80000))] == ["simulator:card", "simulator:paypal"]
    assert [r.key for r in eligible(rules, facts(80001))] == ["simulator:card"]


def test_a_rule_document_reads_back_to_the_same_rule() -> None:
    rules = [PAYPAL_UP_TO_800, CARD_FROM_1, IDEAL_NL, BANCONTACT_BE_EUR]
    assert parse_rules([rule_document(r) for r in rules], PROVIDERS) == rules
    tagged = MethodRule("simulator", "card", tags=frozenset({"vip", "business"}))
    assert parse_rules([rule_document(tagged)], PROVIDERS) == [tagged]


def card(**fields: Any) -> dict[str, Any]:
    return {"provider": "simulator", "method": "card", **fields}


# (what the case says, entries, a fragment the message must contain)
REFUSED: list[tuple[str, list[dict[str, Any]], str]] = [
    ("unknown provider", [{"provider": "stripe", "method": "card"}], "methods[0].provider"),
    ("provider missing", [{"method": "card"}], "methods[0].provider"),
    ("method the provider does not take", [card(), card(method="payconiq")], "methods[1].method"),
    ("method missing", [{"provider": "simulator"}], "methods[0].method"),
    ("negative minimum", [card(min_amount=-1)], "methods[0].min_amount"),
    ("negative maximum", [card(max_amount=-5)], "methods[0].max_amount"),
    ("decimal amount", [card(max_amount=800.0)], "methods[0].max_amount"),
    ("amount as text", [card(min_amount="100")], "methods[0].min_amount"),
    ("amount as a boolean", [card(min_amount=True)], "methods[0].min_amount"),
    ("minimum above maximum", [card(min_amount=500, max_amount=100)], "methods[0]: min_amount"),
    ("lower-case currency", [card(currencies=["eur"])], "methods[0].currencies"),
    ("four-letter currency", [card(currencies=["EURO"])], "methods[0].currencies"),
    ("currency with a digit", [card(currencies=["EU1"])], "methods[0].currencies"),
    ("currency not a text", [card(currencies=[978])], "methods[0].currencies"),
    ("empty currency list", [card(currencies=[])], "methods[0].currencies"),
    ("currencies not a list", [card(currencies="EUR")], "methods[0].currencies"),
    ("three-letter country", [card(countries=["DEU"])], "methods[0].countries"),
    ("lower-case country", [card(countries=["de"])], "methods[0].countries"),
    ("empty tag list", [card(tags=[])], "methods[0].tags"),
    ("empty tag", [card(tags=["vip", ""])], "methods[0].tags"),
    ("tags not a list", [card(tags="vip")], "methods[0].tags"),
    ("the same method twice", [card(), card(min_amount=1)], "methods[1]: simulator:card"),
]


@pytest.mark.parametrize(
    ("entries", "where"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_parse_rules_refuses_naming_the_entry(entries: list[dict[str, Any]], where: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rules(entries, PROVIDERS)
    assert where in refused.value.message


def test_parse_rules_refuses_too_many_methods() -> None:
    many = {"simulator": frozenset(f"m{i}" for i in range(MAX_METHODS + 1))}
    entries = [{"provider": "simulator", "method": f"m{i}"} for i in range(MAX_METHODS + 1)]
    with pytest.raises(InvalidInput, match=f"at most {MAX_METHODS}"):
        parse_rules(entries, many)
    assert len(parse_rules(entries[:MAX_METHODS], many)) == MAX_METHODS


def test_parse_rules_accepts_zero_and_equal_bounds() -> None:
    [rule] = parse_rules([card(min_amount=0, max_amount=0)], PROVIDERS)
    assert (rule.min_amount, rule.max_amount) == (0, 0)
    assert allows(rule, facts(0))
    assert not allows(rule, facts(1))


def test_the_same_method_of_two_providers_is_not_a_duplicate() -> None:
    providers = {**PROVIDERS, "other": frozenset({"card"})}
    rules = parse_rules([card(), {"provider": "other", "method": "card"}], providers)
    assert [r.key for r in rules] == ["simulator:card", "other:card"]


P = PaymentStatus
CHANGES, NO_OP, REFUSED_MOVE = "changes", "no-op", "refused"

# Every pair, written out: (from, to, what happens).
TRANSITIONS: list[tuple[PaymentStatus, PaymentStatus, str]] = [
    (P.CREATED, P.CREATED, NO_OP),
    (P.CREATED, P.PENDING, CHANGES),
    (P.CREATED, P.SUCCEEDED, CHANGES),
    (P.CREATED, P.FAILED, CHANGES),
    (P.CREATED, P.CANCELLED, CHANGES),
    (P.CREATED, P.EXPIRED, CHANGES),
    (P.CREATED, P.REFUNDED, REFUSED_MOVE),
    (P.PENDING, P.CREATED, REFUSED_MOVE),
    (P.PENDING, P.PENDING, NO_OP),
    (P.PENDING, P.SUCCEEDED, CHANGES),
    (P.PENDING, P.FAILED, CHANGES),
    (P.PENDING, P.CANCELLED, CHANGES),
    (P.PENDING, P.EXPIRED, CHANGES),
    (P.PENDING, P.REFUNDED, REFUSED_MOVE),
    (P.SUCCEEDED, P.CREATED, REFUSED_MOVE),
    (P.SUCCEEDED, P.PENDING, REFUSED_MOVE),
    (P.SUCCEEDED, P.SUCCEEDED, NO_OP),
    (P.SUCCEEDED, P.FAILED, REFUSED_MOVE),
    (P.SUCCEEDED, P.CANCELLED, REFUSED_MOVE),
    (P.SUCCEEDED, P.EXPIRED, REFUSED_MOVE),
    (P.SUCCEEDED, P.REFUNDED, CHANGES),
    *[(P.FAILED, t, NO_OP if t == P.FAILED else REFUSED_MOVE) for t in P],
    *[(P.CANCELLED, t, NO_OP if t == P.CANCELLED else REFUSED_MOVE) for t in P],
    *[(P.EXPIRED, t, NO_OP if t == P.EXPIRED else REFUSED_MOVE) for t in P],
    *[(P.REFUNDED, t, NO_OP if t == P.REFUNDED else REFUSED_MOVE) for t in P],
]


def test_the_transition_table_covers_every_pair() -> None:
    assert {(a, b) for a, b, _ in TRANSITIONS} == {(a, b) for a in P for b in P}
    assert len(TRANSITIONS) == len(P) ** 2


@pytest.mark.parametrize(
    ("current", "target", "outcome"),
    TRANSITIONS,
    ids=[f"{a.value}->{b.value}" for a, b, _ in TRANSITIONS],
)
def test_transition(current: PaymentStatus, target: PaymentStatus, outcome: str) -> None:
    if outcome == REFUSED_MOVE:
        with pytest.raises(Conflict) as refused:
            transition(current, target)
        assert refused.value.code == "illegal_payment_transition"
        assert f"from {current.value} to {target.value}" in refused.value.message
    else:
        assert transition(current, target) is (outcome == CHANGES)

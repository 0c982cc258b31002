"""Operators one by one, and the All/Any laws as properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.config.models import UserSpec
from reconciler.config.policy import ConditionGroup
from reconciler.rules import RuleContext, compile_filter, evaluate, trace, values_of

ALICE = UserSpec.validate(
    {
        "externalId": "00u1",
        "userName": "Alice@Example.com",
        "displayName": "Alice Liddell",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [
            {"value": "alice@example.com", "primary": True},
            {"value": "a.liddell@wonder.land", "type": "home"},
        ],
        "attributes": {
            "countryCode": "US",
            "level": 7,
            "startDate": "2021-03-04",
            "contractor": False,
            "tags": ["vpn", "oncall"],
        },
    }
)
CTX = RuleContext(
    group_ids={"grp-eng": "grp-eng", "engineering": "grp-eng", "grp-ops": "grp-ops", "ops": "grp-ops"},
    user_groups={"00u1": frozenset({"grp-eng"})},
    group_names={"grp-eng": "Engineering", "grp-ops": "Ops"},
)


def cond(attribute: str | None, operator: str, value: Any = None, **kw: Any) -> ConditionGroup:
    c = {"attribute": attribute, "operator": operator, "value": value, **kw}
    return ConditionGroup.model_validate({"match": "all", "conditions": [c]})


CASES = [
    ("userName", "equals", "alice@example.com", True),
    ("userName", "equals", "alice@example.com", False, {"case_sensitive": True}),
    ("userName", "equals", "Alice@Example.com", True, {"case_sensitive": True}),
    ("attributes.countryCode", "equals", "us", True),
    ("attributes.level", "equals", 7, True),
    ("attributes.level", "equals", "7", True),
    ("attributes.contractor", "equals", False, True),
    ("attributes.countryCode", "not_equals", "US", False),
    ("attributes.countryCode", "not_equals", "GB", True),
    ("attributes.missing", "not_equals", "GB", True),
    ("displayName", "contains", "LIDDELL", True),
    ("displayName", "contains", "LIDDELL", False, {"case_sensitive": True}),
    ("displayName", "not_contains", "bob", True),
    ("emails.value", "not_contains", "wonder", False),
    ("name.givenName", "starts_with", "al", True),
    ("name.familyName", "starts_with", "dell", False),
    ("emails.value", "ends_with", "@wonder.land", True),
    ("emails.value", "ends_with", "@bob.org", False),
    ("userName", "regex", r"^alice@", True),
    ("userName", "regex", r"^alice@", False, {"case_sensitive": True}),
    ("userName", "not_regex", r"^bob", True),
    ("attributes.countryCode", "in", ["GB", "us"], True),
    ("attributes.countryCode", "in", ["GB", "CA"], False),
    ("attributes.countryCode", "not_in", ["GB", "CA"], True),
    ("attributes.tags", "in", ["oncall"], True),
    ("displayName", "present", None, True),
    ("attributes.missing", "present", None, False),
    ("attributes.missing", "absent", None, True),
    ("displayName", "absent", None, False),
    ("active", "is_true", None, True),
    ("attributes.contractor", "is_false", None, True),
    ("attributes.contractor", "is_true", None, False),
    ("attributes.level", "gt", 6, True),
    ("attributes.level", "gt", 7, False),
    ("attributes.level", "ge", 7, True),
    ("attributes.level", "lt", 10, True),
    ("attributes.level", "le", 6, False),
    ("attributes.startDate", "gt", "2020-12-31", True),
    ("attributes.startDate", "lt", "2021-03-04", False),
    ("attributes.startDate", "le", "2021-03-04T00:00:00", True),
    ("attributes.countryCode", "gt", 3, False),
    (None, "member_of", "grp-eng", True),
    (None, "member_of", "Engineering", True),
    (None, "member_of", "grp-ops", False),
    ("groups", "equals", "engineering", True),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{i}" for i, c in enumerate(CASES)]
)
def test_operator(case: tuple[Any, ...]) -> None:
    attribute, operator, value, expected, *extra = case
    assert evaluate(cond(attribute, operator, value, **(extra[0] if extra else {})), ALICE, CTX) is expected


def test_multivalued_matches_any_value() -> None:
    assert values_of(ALICE, "emails.value") == ["alice@example.com", "a.liddell@wonder.land"]


def test_default_email_is_the_username() -> None:
    bob = UserSpec.validate({"externalId": "b", "userName": "bob@example.com"})
    assert values_of(bob, "emails.value") == ["bob@example.com"]
    assert values_of(bob, "emails.type") == ["work"]


def test_no_filter_means_everyone() -> None:
    assert evaluate(None, ALICE, CTX) is True


# --- All/Any laws ---------------------------------------------------------------------------

ATOMS = [
    {"attribute": "attributes.countryCode", "operator": "equals", "value": "US"},
    {"attribute": "attributes.countryCode", "operator": "equals", "value": "GB"},
    {"attribute": "emails.value", "operator": "ends_with", "value": "@example.com"},
    {"attribute": "attributes.level", "operator": "gt", "value": 5},
    {"attribute": "displayName", "operator": "absent"},
    {"attribute": "attributes.tags", "operator": "in", "value": ["vpn"]},
]
users = st.builds(
    lambda cc, lvl, mail, dn, tags: UserSpec.validate(
        {
            "externalId": "x",
            "userName": mail,
            "displayName": dn,
            "attributes": {"countryCode": cc, "level": lvl, "tags": tags},
        }
    ),
    st.sampled_from(["US", "GB", "us", "DE"]),
    st.integers(0, 10),
    st.sampled_from(["a@example.com", "b@other.org", "C@EXAMPLE.COM"]),
    st.one_of(st.none(), st.just("Someone")),
    st.lists(st.sampled_from(["vpn", "oncall"]), max_size=2),
)
atoms = st.lists(st.sampled_from(ATOMS), max_size=4)


def group(match: str, conditions: list[Any]) -> ConditionGroup:
    return ConditionGroup.model_validate({"match": match, "conditions": conditions})


@given(users, atoms)
def test_all_is_conjunction_and_any_is_disjunction(user: UserSpec, conds: list[Any]) -> None:
    singles = [evaluate(group("all", [c]), user) for c in conds]
    assert evaluate(group("all", conds), user) == all(singles)
    assert evaluate(group("any", conds), user) == any(singles)


@given(users, atoms)
def test_order_does_not_matter(user: UserSpec, conds: list[Any]) -> None:
    for match in ("all", "any"):
        assert evaluate(group(match, conds), user) == evaluate(group(match, conds[::-1]), user)


@given(users, st.sampled_from(ATOMS))
def test_single_condition_groups_are_the_condition(user: UserSpec, c: Any) -> None:
    assert evaluate(group("all", [c]), user) == evaluate(group("any", [c]), user)


@given(users, atoms, atoms)
def test_nesting_associates(user: UserSpec, a: list[Any], b: list[Any]) -> None:
    for match in ("all", "any"):
        flat = evaluate(group(match, a + b), user)
        nested = evaluate(group(match, [{"match": match, "conditions": a}, {"match": match, "conditions": b}]), user)
        assert flat == nested


def test_empty_groups() -> None:
    assert evaluate(group("all", []), ALICE) is True
    assert evaluate(group("any", []), ALICE) is False


@given(users, st.sampled_from(ATOMS))
def test_negated_operators_are_exact_negations(user: UserSpec, c: Any) -> None:
    negation = {"equals": "not_equals", "in": "not_in", "present": "absent"}.get(c["operator"])
    if negation is None:
        return
    neg = dict(c, operator=negation)
    assert evaluate(group("all", [c]), user) != evaluate(group("all", [neg]), user)


EVERY_KIND = ATOMS + [
    {"attribute": "attributes.countryCode", "operator": "not_equals", "value": "us"},
    {"attribute": "attributes.countryCode", "operator": "equals", "value": "us", "case_sensitive": True},
    {"attribute": "emails.value", "operator": "not_contains", "value": "other"},
    {"attribute": "attributes.tags", "operator": "not_in", "value": ["oncall"]},
    {"attribute": "userName", "operator": "regex", "value": "^[ab]@"},
    {"attribute": "displayName", "operator": "present"},
    {"attribute": "attributes.level", "operator": "le", "value": "3"},
    {"attribute": "groups", "operator": "contains", "value": "eng"},
    {"attribute": "emails.type", "operator": "equals", "value": "work"},
    {"attribute": "active", "operator": "is_true"},
    {"operator": "member_of", "value": "engineering"},
]
every_kind = st.lists(st.sampled_from(EVERY_KIND), max_size=4)


@given(users, every_kind, every_kind, st.sampled_from(["all", "any"]))
def test_the_compiled_decision_is_the_traced_one(user: UserSpec, a: list[Any], b: list[Any], match: str) -> None:
    # `evaluate` (plan) and `trace` (explain) are two code paths: they must never disagree.
    nested = group(match, a + [{"match": "any" if match == "all" else "all", "conditions": b}])
    for g in (group(match, a), nested):
        assert evaluate(g, user, CTX) is trace(g, user, CTX).result
        assert compile_filter(g)(user, CTX) is trace(g, user, CTX).result

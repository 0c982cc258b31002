"""The user filter: conditions, All/Any groups, and the trace that `explain` prints. Pure.

Semantics (documented in the README):
- A multi-valued attribute (emails.value) matches a positive operator if ANY value matches.
- Negative operators (not_equals, not_contains, not_regex, not_in) are the exact negation of
  their positive twin: `not_contains x` is true when NO value contains x (and when absent).
- Strings compare ignoring case unless `case_sensitive: true`.
- gt/ge/lt/le compare numbers, or ISO 8601 dates; anything else never matches.
- `match: all` of nothing is true, `match: any` of nothing is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from reconciler.config.models import UserSpec, attribute_value_to_list
from reconciler.config.policy import Condition, ConditionGroup

SCALAR_PATHS = {
    "userName": lambda u: [u.user_name],
    "externalId": lambda u: [u.external_id],
    "displayName": lambda u: [u.display_name] if u.display_name is not None else [],
    "name.givenName": lambda u: _name_part(u, "given_name"),
    "name.familyName": lambda u: _name_part(u, "family_name"),
    "name.middleName": lambda u: _name_part(u, "middle_name"),
    "name.formatted": lambda u: _name_part(u, "formatted"),
    "emails.value": lambda u: u.email_values(),
    "emails.type": lambda u: [e.type for e in u.effective_emails() if e.type],
    "active": lambda u: [True if u.active is None else u.active],
}
KNOWN_PATHS: tuple[str, ...] = tuple(SCALAR_PATHS) + ("attributes.<name>", "groups")


def _name_part(user: UserSpec, part: str) -> list[Any]:
    if user.name is None:
        return []
    value = getattr(user.name, part)
    return [value] if value is not None else []


def uses_groups(group: ConditionGroup | None) -> bool:
    """Whether a filter needs the users' group memberships (member_of, or the groups attribute)."""
    if group is None:
        return False
    for c in group.conditions:
        if isinstance(c, ConditionGroup):
            if uses_groups(c):
                return True
        elif c.operator == "member_of" or c.attribute == "groups":
            return True
    return False


def is_known_path(path: str) -> bool:
    return path in SCALAR_PATHS or path == "groups" or (
        path.startswith("attributes.") and len(path) > len("attributes.")
    )


@dataclass(frozen=True)
class RuleContext:
    """What a condition may need beyond the user: the desired groups, flattened."""

    group_ids: Mapping[str, str]
    """Group externalId, and displayName folded to lower case -> group externalId."""
    user_groups: Mapping[str, frozenset[str]]
    """User externalId -> externalIds of every desired group it is in (nested counted)."""
    group_names: Mapping[str, str]
    """Group externalId -> displayName (for the `groups` attribute and explanations)."""

    def groups_of(self, user: UserSpec) -> frozenset[str]:
        return self.user_groups.get(user.external_id, frozenset())


EMPTY_CONTEXT = RuleContext({}, {}, {})


@dataclass(frozen=True)
class ConditionTrace:
    condition: Condition
    actual: tuple[Any, ...]
    result: bool


@dataclass(frozen=True)
class GroupTrace:
    match: str
    children: tuple[ConditionTrace | GroupTrace, ...]
    result: bool


Values = Callable[[UserSpec, RuleContext], list[Any]]
Predicate = Callable[[UserSpec, RuleContext], bool]


def values_of(user: UserSpec, path: str, ctx: RuleContext = EMPTY_CONTEXT) -> list[Any]:
    return _values(path)(user, ctx)


def _values(path: str) -> Values:
    """The reader of an attribute path, chosen once per condition rather than once per user."""
    getter = SCALAR_PATHS.get(path)
    if getter is not None:
        return lambda user, ctx: getter(user)
    if path == "groups":
        return lambda user, ctx: sorted(ctx.group_names.get(g, g) for g in ctx.groups_of(user))
    if path.startswith("attributes."):
        name = path[len("attributes.") :]
        return lambda user, ctx: attribute_value_to_list(user.attributes.get(name))
    return lambda user, ctx: []


def evaluate(group: ConditionGroup | None, user: UserSpec, ctx: RuleContext = EMPTY_CONTEXT) -> bool:
    """The decision alone, short-circuiting (the same result as `trace(...).result`)."""
    return compile_filter(group)(user, ctx)


def compile_filter(group: ConditionGroup | None) -> Predicate:
    """The filter as one function, to decide for many users: each condition's attribute reader
    and operator are chosen once, not for every user (no trace objects on this path)."""
    if group is None:
        return lambda user, ctx: True
    parts = tuple(_compile(c) for c in group.conditions)
    if len(parts) == 1:
        return parts[0]  # all or any of one condition is that condition
    if group.match == "all":
        return lambda user, ctx: all(p(user, ctx) for p in parts)
    return lambda user, ctx: any(p(user, ctx) for p in parts)


def _compile(c: Condition | ConditionGroup) -> Predicate:
    if isinstance(c, ConditionGroup):
        return compile_filter(c)
    op = c.operator
    if op == "member_of":
        return lambda user, ctx: _condition(c, user, ctx).result
    values = _values(c.attribute or "")
    if op == "present":
        return lambda user, ctx: any(_present(v) for v in values(user, ctx))
    if op == "absent":
        return lambda user, ctx: not any(_present(v) for v in values(user, ctx))
    if op in _NEGATIONS:
        base = _NEGATIONS[op]
        return lambda user, ctx: not _positive(base, values(user, ctx), c)
    if op == "equals":  # the most common condition, without the operator dispatch
        want, case_sensitive = c.value, c.case_sensitive

        def equals(user: UserSpec, ctx: RuleContext) -> bool:
            for v in values(user, ctx):
                if _equals(v, want, case_sensitive):
                    return True
            return False

        return equals
    return lambda user, ctx: _positive(op, values(user, ctx), c)


def trace(group: ConditionGroup | None, user: UserSpec, ctx: RuleContext = EMPTY_CONTEXT) -> GroupTrace:
    if group is None:
        return GroupTrace("all", (), True)
    children: list[ConditionTrace | GroupTrace] = []
    for c in group.conditions:
        if isinstance(c, ConditionGroup):
            children.append(trace(c, user, ctx))
        else:
            children.append(_condition(c, user, ctx))
    results = [c.result for c in children]
    ok = all(results) if group.match == "all" else any(results)
    return GroupTrace(group.match, tuple(children), ok)


_NEGATIONS = {"not_equals": "equals", "not_contains": "contains", "not_regex": "regex", "not_in": "in"}


def _condition(c: Condition, user: UserSpec, ctx: RuleContext) -> ConditionTrace:
    if c.operator == "member_of":
        target = ctx.group_ids.get(str(c.value)) or ctx.group_ids.get(str(c.value).lower())
        groups = ctx.groups_of(user)
        actual = tuple(sorted(ctx.group_names.get(g, g) for g in groups))
        return ConditionTrace(c, actual, target is not None and target in groups)
    actual = tuple(values_of(user, c.attribute or "", ctx))
    op = c.operator
    if op in _NEGATIONS:
        return ConditionTrace(c, actual, not _positive(_NEGATIONS[op], actual, c))
    if op == "present":
        return ConditionTrace(c, actual, any(_present(v) for v in actual))
    if op == "absent":
        return ConditionTrace(c, actual, not any(_present(v) for v in actual))
    return ConditionTrace(c, actual, _positive(op, actual, c))


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and v.strip() == "")


def _positive(op: str, actual: tuple[Any, ...] | list[Any], c: Condition) -> bool:
    if op == "is_true":
        return any(_as_bool(v) is True for v in actual)
    if op == "is_false":
        return any(_as_bool(v) is False for v in actual)
    if op in ("gt", "ge", "lt", "le"):
        return any(_ordered(op, v, c.value) for v in actual)
    if op == "in":
        return any(_equals(v, w, c.case_sensitive) for v in actual for w in c.value)
    if op == "equals":
        return any(_equals(v, c.value, c.case_sensitive) for v in actual)
    if op == "regex":
        rx = _regex(str(c.value), c.case_sensitive)
        return any(rx.search(_text(v)) is not None for v in actual)
    needle = _fold(_text(c.value), c.case_sensitive)
    hay = [_fold(_text(v), c.case_sensitive) for v in actual]
    if op == "contains":
        return any(needle in h for h in hay)
    if op == "starts_with":
        return any(h.startswith(needle) for h in hay)
    if op == "ends_with":
        return any(h.endswith(needle) for h in hay)
    raise ValueError(f"unknown operator {op}")  # pragma: no cover - the model forbids it


@lru_cache(maxsize=512)
def _regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _fold(s: str, case_sensitive: bool) -> str:
    return s if case_sensitive else s.casefold()


def _as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equals(a: Any, b: Any, case_sensitive: bool) -> bool:
    if type(a) is str and type(b) is str:  # the common case, decided without number parsing
        if a == b:
            return True
        if _number(a) is None or _number(b) is None:
            return not case_sensitive and a.casefold() == b.casefold()
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    na, nb = _number(a), _number(b)
    if (_is_number(a) or _is_number(b)) and na is not None and nb is not None:
        return na == nb
    return _fold(_text(a), case_sensitive) == _fold(_text(b), case_sensitive)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if _is_number(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def as_date(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=None)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if not isinstance(v, str):
        return None
    text = v.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed
    except ValueError:
        return None


def comparable(value: Any) -> bool:
    """Whether a condition value can be used with gt/ge/lt/le."""
    return _number(value) is not None or as_date(value) is not None


def _ordered(op: str, left: Any, right: Any) -> bool:
    a: Any
    b: Any
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a, b = as_date(left), as_date(right)
        if a is None or b is None:
            return False
        if (a.tzinfo is None) != (b.tzinfo is None):
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    if op == "gt":
        return bool(a > b)
    if op == "ge":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)

"""Frozen pydantic models of a policy file (`policies/<target>.yaml`): one SCIM target each."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

Operator = Literal[
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with",
    "regex", "not_regex", "in", "not_in", "present", "absent", "is_true", "is_false",
    "gt", "ge", "lt", "le", "member_of",
]  # fmt: skip
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
NO_VALUE_OPERATORS = frozenset({"present", "absent", "is_true", "is_false"})
LIST_OPERATORS = frozenset({"in", "not_in"})
ORDER_OPERATORS = frozenset({"gt", "ge", "lt", "le"})

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, e.g. 30d, 12h, 2w")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


class Limit(_Model):
    """A removal limit: an absolute count or a percentage of the managed population."""

    count: int | None = None
    percent: float | None = None

    def allowed(self, population: int) -> int:
        if self.count is not None:
            return self.count
        assert self.percent is not None
        # A percentage never rounds down to zero: one removal is always allowed.
        return max(1, -(-int(self.percent * population) // 100))

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


def _parse_limit(value: Any) -> Any:
    if isinstance(value, Limit) or value is None:
        return value
    if isinstance(value, bool):
        raise ValueError("expected a count (e.g. 10) or a percentage string (e.g. \"5%\")")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a limit cannot be negative")
        return Limit(count=value)
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if m:
            pct = float(m.group(1))
            if pct > 100:
                raise ValueError("a percentage limit cannot exceed 100%")
            return Limit(percent=pct)
        if value.strip().isdigit():
            return Limit(count=int(value))
    raise ValueError(f"invalid limit {value!r}: use a count (10) or a percentage (\"5%\")")


LimitField = Annotated[
    Limit | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*\\d+(\\.\\d+)?\\s*%?\\s*$"},
                {"type": "null"},
            ]
        }
    ),
]


class Condition(_Model):
    attribute: str | None = Field(None, description="userName, externalId, displayName, name.givenName, "
                           "name.familyName, emails.value, emails.type, active, attributes.<name>")
    operator: Operator
    value: Any = Field(None, validate_default=True)
    case_sensitive: StrictBool = False

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("operator")
        if op is None:
            return value  # the operator itself is invalid and reported on its own
        if op in NO_VALUE_OPERATORS:
            if value is not None:
                raise ValueError(f"operator '{op}' takes no value; remove 'value'")
        elif value is None:
            raise ValueError(f"operator '{op}' needs a 'value'")
        elif op in LIST_OPERATORS and not isinstance(value, list):
            raise ValueError(f"operator '{op}' needs a list value, e.g. [US, CA]")
        elif op not in LIST_OPERATORS and isinstance(value, list | dict):
            raise ValueError(f"operator '{op}' needs a single value, not a list")
        if op in ("regex", "not_regex"):
            try:
                re.compile(str(value))
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check_attribute(self) -> Condition:
        if self.attribute is None and self.operator != "member_of":
            raise ValueError(f"operator '{self.operator}' needs an 'attribute'")
        return self


def _condition_tag(value: Any) -> str:
    if isinstance(value, dict) and ("conditions" in value or "match" in value):
        return "group"
    return "condition"


class ConditionGroup(_Model):
    match: Literal["any", "all"] = "all"
    conditions: tuple[
        Annotated[
            Annotated[Condition, Tag("condition")] | Annotated[ConditionGroup, Tag("group")],
            Discriminator(_condition_tag),
        ],
        ...,
    ] = ()


class Rule(_Model):
    user_filter: ConditionGroup | None = Field(
        None, description="Which declared users this target gets; absent = all users."
    )
    groups: Literal["all"] | tuple[str, ...] = Field(
        "all", description="'all', or a list of group displayNames or externalIds (Selected)."
    )


class Removal(_Model):
    action: Literal["disable", "delete"] = "disable"
    delete_after: str | None = Field(
        None, description="Two-phase removal: disable now, delete once this long has passed (30d)."
    )

    @field_validator("delete_after")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    def delete_after_delta(self) -> timedelta | None:
        return parse_duration(self.delete_after) if self.delete_after else None


class Operations(_Model):
    create: StrictBool = True
    update: StrictBool = True
    disable: StrictBool = True
    delete: StrictBool = True
    restore: StrictBool = True


class Safety(_Model):
    max_user_removals: LimitField = Field(
        default_factory=lambda: Limit(percent=10),
        description="Disables + deletes allowed in one plan: a count or \"N%\" of managed users.",
    )
    max_membership_removals: LimitField = Field(
        default_factory=lambda: Limit(percent=10),
        description="Membership removals allowed in one plan: a count or \"N%\" of managed memberships.",
    )
    protected: tuple[str, ...] = Field(
        (), description="userNames or externalIds never disabled, deleted or removed from groups."
    )

    @field_validator("max_user_removals", "max_membership_removals", mode="before")
    @classmethod
    def _limit(cls, v: Any) -> Any:
        return _parse_limit(v)


class Connection(_Model):
    url: str = Field(description="SCIM base URL; ${VAR} expands from the environment.")
    token_env: str = Field(description="Name of the environment variable holding the bearer token.")
    profile: Literal["generic", "bitwarden"] = "generic"
    users_path: str = "/Users"
    groups_path: str = "/Groups"
    timeout: float = Field(30.0, gt=0, description="Seconds per request.")
    verify_tls: StrictBool = True
    capabilities: dict[str, Any] = Field(
        default_factory=dict, description="Override detected capabilities (etag, member_remove, concurrency...)."
    )

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(
                "token_env must be the NAME of an environment variable (e.g. BITWARDEN_SCIM_TOKEN), "
                "never the token itself"
            )
        return v

    @field_validator("users_path", "groups_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("a path must start with '/', e.g. /Users")
        return v


class StateSettings(_Model):
    backend: Literal["local", "git"] = "local"
    path: str = ".reconcile/state"
    branch: str = "reconcile-state"
    remote: str = "origin"


class Policy(_Model):
    """One target: connection, rule, removal policy, safety rails and state backend."""

    target: str | None = Field(None, description="Target name; default: the file name without extension.")
    description: str | None = None
    connection: Connection
    rule: Rule = Field(default_factory=lambda: Rule())
    removal: Removal = Field(default_factory=lambda: Removal())
    operations: Operations = Field(default_factory=Operations)
    adopt: StrictBool = Field(
        True, description="Match existing accounts by e-mail/userName and take them over (AdoptUser)."
    )
    unmanaged: Literal["ignore", "disable", "delete"] = "ignore"
    safety: Safety = Field(default_factory=lambda: Safety())
    state: StateSettings = Field(default_factory=StateSettings)

    @field_validator("target")
    @classmethod
    def _target_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError("a target name may hold letters, digits, '.', '_' and '-' only")
        return v

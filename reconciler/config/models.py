"""Frozen pydantic values of the desired-state files (`desired-state/*.yaml`).

One value per declared user and group: slotted pydantic dataclasses, validated and frozen like
the models, without a BaseModel's per-instance dict and fields-set (see `_Item`); the file root
is a model. The YAML keys are the contract (camelCase as in SCIM); Python attributes are
snake_case aliases.
Cross-file rules (uniqueness, references, cycles) live in `reconciler.config.checks`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, TypeAdapter, field_validator
from pydantic.dataclasses import dataclass

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
AttributeValue = str | int | float | bool | None | list[str | int | float | bool]


_CONFIG = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, **_CONFIG)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def adapter_for(kind: Any) -> TypeAdapter[Any]:
    """The (cached) validator of a model, a pydantic dataclass or a type such as list[UserSpec]."""
    found = _ADAPTERS.get(kind)
    if found is None:
        found = _ADAPTERS[kind] = TypeAdapter(kind)
    return found


class _Item:
    """The declared users and groups (and their parts) are pydantic dataclasses: validated and
    frozen as the models are, but slotted — a BaseModel instance also carries a dict and a set of
    the fields given, ~0.5 KB per user, 50 MB for 100,000 users (docs/benchmarks.md)."""

    __slots__ = ()

    @classmethod
    def validate(cls, data: Any) -> Self:
        """Validate a mapping (YAML keys, camelCase) into a value; raises ValidationError."""
        result: Self = adapter_for(cls).validate_python(data)
        return result


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Email(_Item):
    value: NonEmpty
    primary: StrictBool = False
    type: str | None = "work"


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Name(_Item):
    given_name: str | None = Field(None, alias="givenName")
    family_name: str | None = Field(None, alias="familyName")
    middle_name: str | None = Field(None, alias="middleName")
    formatted: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class UserSpec(_Item):
    """One declared user. `externalId` is the stable identity; `userName` is unique ignoring case."""

    external_id: NonEmpty = Field(alias="externalId", description="Stable identity (case-sensitive).")
    user_name: NonEmpty = Field(alias="userName", description="Unique, case-insensitive; usually the e-mail.")
    display_name: str | None = Field(None, alias="displayName")
    name: Name | None = None
    emails: tuple[Email, ...] | None = Field(
        None, description="Default: the userName as the primary work e-mail."
    )
    active: StrictBool | None = Field(
        None,
        description="true: enforced enabled; false: enforced disabled (kept in scope); "
        "absent: enabled on create, but an account disabled by someone else is left alone.",
    )
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Free attributes for rules: attributes.<name>."
    )
    previously: tuple[NonEmpty, ...] = Field(
        (), description="Earlier externalIds or userNames of this user (a rename, not delete+create)."
    )

    @field_validator("emails")
    @classmethod
    def _emails_not_empty(cls, v: tuple[Email, ...] | None) -> tuple[Email, ...] | None:
        if v is not None and len(v) == 0:
            raise ValueError("emails must not be empty; omit the key to use the userName")
        return v

    def effective_emails(self) -> tuple[Email, ...]:
        """Emails with exactly one primary, primary first; the userName when none are given.
        Built on each call: only rules on `emails.type` need it."""
        if not self.emails:
            return (Email(value=self.user_name, primary=True, type="work"),)
        primary = next((e for e in self.emails if e.primary), self.emails[0])
        rest = tuple(e for e in self.emails if e is not primary)
        return (dataclasses.replace(primary, primary=True),) + tuple(
            dataclasses.replace(e, primary=False) for e in rest
        )

    def primary_email(self) -> str:
        return self.email_values()[0]

    def email_values(self) -> list[str]:
        """E-mail values, primary first (the userName when none are given). Cheap: no models."""
        if not self.emails:
            return [self.user_name]
        primary = next((e for e in self.emails if e.primary), self.emails[0])
        return [primary.value] + [e.value for e in self.emails if e is not primary]


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class GroupSpec(_Item):
    external_id: NonEmpty = Field(alias="externalId")
    display_name: NonEmpty = Field(alias="displayName")
    members: tuple[NonEmpty, ...] = Field(
        (),
        description="userName, externalId, or 'group:<externalId or displayName>' for a nested group.",
    )
    previously: tuple[NonEmpty, ...] = Field(
        (), description="Earlier displayNames or externalIds of this group."
    )
    membership: Literal["authoritative", "additive"] = Field(
        "authoritative",
        description="authoritative: the group holds exactly its declared members in scope (others are "
        "removed); additive: declared members are added and members added outside reconcile stay.",
    )
    description: str | None = None


class DesiredFile(_Model):
    """The root of one desired-state file; files are merged."""

    users: tuple[UserSpec, ...] = ()
    groups: tuple[GroupSpec, ...] = ()


def attribute_value_to_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v is not None]
    return [value]

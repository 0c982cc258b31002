"""Frozen pydantic models of the desired-state files (`desired-state/*.yaml`).

The YAML keys are the contract (camelCase as in SCIM); Python attributes are snake_case aliases.
Cross-file rules (uniqueness, references, cycles) live in `reconciler.config.checks`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
AttributeValue = str | int | float | bool | None | list[str | int | float | bool]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=False
    )


class Email(_Model):
    value: NonEmpty
    primary: StrictBool = False
    type: str | None = "work"


class Name(_Model):
    given_name: str | None = Field(None, alias="givenName")
    family_name: str | None = Field(None, alias="familyName")
    middle_name: str | None = Field(None, alias="middleName")
    formatted: str | None = None


class UserSpec(_Model):
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

    @cached_property
    def _effective_emails(self) -> tuple[Email, ...]:
        return self._compute_effective_emails()

    def effective_emails(self) -> tuple[Email, ...]:
        """Emails with exactly one primary, primary first; the userName when none are given."""
        return self._effective_emails

    def _compute_effective_emails(self) -> tuple[Email, ...]:
        # model_construct: the values are already validated; this runs once per user.
        if not self.emails:
            return (Email.model_construct(value=self.user_name, primary=True, type="work"),)
        primary = next((e for e in self.emails if e.primary), self.emails[0])
        rest = tuple(e for e in self.emails if e is not primary)
        return (Email.model_construct(value=primary.value, primary=True, type=primary.type),) + tuple(
            Email.model_construct(value=e.value, primary=False, type=e.type) for e in rest
        )

    def primary_email(self) -> str:
        return self.email_values()[0]

    def email_values(self) -> list[str]:
        """E-mail values, primary first (the userName when none are given). Cheap: no models."""
        if not self.emails:
            return [self.user_name]
        primary = next((e for e in self.emails if e.primary), self.emails[0])
        return [primary.value] + [e.value for e in self.emails if e is not primary]


class GroupSpec(_Model):
    external_id: NonEmpty = Field(alias="externalId")
    display_name: NonEmpty = Field(alias="displayName")
    members: tuple[NonEmpty, ...] = Field(
        (),
        description="userName, externalId, or 'group:<externalId or displayName>' for a nested group.",
    )
    previously: tuple[NonEmpty, ...] = Field(
        (), description="Earlier displayNames or externalIds of this group."
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

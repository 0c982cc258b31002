"""Thin pydantic models of the SCIM 2.0 wire format (RFC 7643 resources, RFC 7644 messages).

Place in the pipeline: the bottom of the network end. `client.py` parses every response body with
these models and `fetch_live` turns them into the frozen `LiveUser`/`LiveGroup` values the pure
middle works on (`to_live_user`, `to_live_group`). Payloads the profiles build are plain dicts
that these models can validate.

Deliberately thin and lenient: `extra="allow"` keeps attributes we do not model (extensions,
provider-specific fields such as Bitwarden's `primaryEmail`), so nothing is lost on a round-trip,
and every field is optional because providers omit what RFC 7643 calls required. Parsing a page
goes through `model_validate_json` on the whole ListResponse, which keeps 10,000 users at roughly
0.1-0.2 s (scim-servers.md measured scim2-models at ~2.3 s for the same page).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from reconciler.live import LiveGroup, LiveUser

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class WireModel(BaseModel):
    """Base: camelCase on the wire, snake_case in Python, unknown attributes kept."""

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready payload: wire names, unset/None attributes left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Meta(WireModel):
    resource_type: str | None = None
    created: str | None = None
    last_modified: str | None = None
    location: str | None = None
    version: str | None = None


class Email(WireModel):
    value: str | None = None
    primary: bool | None = None
    type: str | None = None
    display: str | None = None


class Name(WireModel):
    formatted: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    middle_name: str | None = None


class Member(WireModel):
    value: str | None = None
    display: str | None = None
    type: str | None = None
    ref: str | None = Field(None, alias="$ref")


class User(WireModel):
    schemas: list[str] = Field(default_factory=list)
    id: str | None = None
    external_id: str | None = None
    user_name: str | None = None
    name: Name | None = None
    display_name: str | None = None
    emails: list[Email] | None = None
    active: bool | None = None
    meta: Meta | None = None


class Group(WireModel):
    schemas: list[str] = Field(default_factory=list)
    id: str | None = None
    external_id: str | None = None
    display_name: str | None = None
    members: list[Member] | None = None
    """None when the server left the attribute out (absent = no members, or not readable)."""
    meta: Meta | None = None


R = TypeVar("R", bound=WireModel)


class ListResponse(WireModel, Generic[R]):
    """RFC 7644 §3.4.2. Bitwarden spells `Resources` as `resources` (bitwarden-scim.md §11)."""

    schemas: list[str] = Field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    """Untrustworthy: Bitwarden echoes the requested count. Use len(resources)."""
    resources: list[R] = Field(
        default_factory=list,
        validation_alias=AliasChoices("Resources", "resources"),
        serialization_alias="Resources",
    )


class PatchOperation(WireModel):
    op: str
    path: str | None = None
    value: Any = None


class PatchOp(WireModel):
    schemas: list[str] = Field(default_factory=lambda: [PATCH_OP_SCHEMA])
    operations: list[PatchOperation] = Field(default_factory=list, alias="Operations")

    def to_wire(self) -> dict[str, Any]:
        # exclude_none would drop an explicit `"value": null` (Bitwarden: null clears externalId),
        # so build the operations by hand: `value` is left out only for ops that carry none.
        ops: list[dict[str, Any]] = []
        for o in self.operations:
            d: dict[str, Any] = {"op": o.op}
            if o.path is not None:
                d["path"] = o.path
            if o.value is not None or (o.op.lower() != "remove" and o.path is not None):
                d["value"] = o.value
            ops.append(d)
        return {"schemas": list(self.schemas), "Operations": ops}


class Error(WireModel):
    """RFC 7644 §3.12. `status` is a string on scim2-server ("409") and a number on Bitwarden."""

    schemas: list[str] = Field(default_factory=list)
    status: int | str | None = None
    scim_type: str | None = None
    detail: str | None = None


class Supported(WireModel):
    supported: bool = False


class FilterConfig(Supported):
    max_results: int | None = None


class BulkConfig(Supported):
    max_operations: int | None = None
    max_payload_size: int | None = None


class ServiceProviderConfig(WireModel):
    schemas: list[str] = Field(default_factory=list)
    patch: Supported | None = None
    bulk: BulkConfig | None = None
    filter: FilterConfig | None = None
    change_password: Supported | None = None
    sort: Supported | None = None
    etag: Supported | None = None
    authentication_schemes: list[dict[str, Any]] | None = None


UserList = ListResponse[User]
GroupList = ListResponse[Group]


def primary_first(emails: list[Email] | None) -> tuple[str, ...]:
    """E-mail values with the primary one(s) first; otherwise the server's order (stable)."""
    if not emails:
        return ()
    values = [(not bool(e.primary), i, e.value) for i, e in enumerate(emails) if e.value]
    return tuple(v for _, _, v in sorted(values))


def to_live_user(user: User, *, etag: str | None = None) -> LiveUser:
    """A wire User as the frozen LiveUser. `etag` (response header) is used when meta has none."""
    if not user.id:
        raise ValueError("a SCIM User without an id")
    name = user.name
    return LiveUser(
        id=user.id,
        external_id=user.external_id,
        # RFC 7643 §4.1.1 makes userName required; an empty string keeps a broken record visible.
        user_name=user.user_name or "",
        emails=primary_first(user.emails),
        display_name=user.display_name,
        given_name=name.given_name if name else None,
        family_name=name.family_name if name else None,
        # An absent `active` is read as active: RFC 7643 gives it no default, and every provider we
        # know of omits it only for accounts it never disabled.
        active=True if user.active is None else user.active,
        version=(user.meta.version if user.meta and user.meta.version else None) or etag,
    )


def to_live_group(group: Group, *, members_readable: bool = True, etag: str | None = None) -> LiveGroup:
    """A wire Group as the frozen LiveGroup: member ids sorted and distinct.

    With `members_readable=False` (Bitwarden never returns members) the members are None,
    meaning "unknown", never "empty".
    """
    if not group.id:
        raise ValueError("a SCIM Group without an id")
    members: tuple[str, ...] | None
    if members_readable:
        members = tuple(sorted({m.value for m in group.members or () if m.value}))
    else:
        members = None
    return LiveGroup(
        id=group.id,
        external_id=group.external_id,
        display_name=group.display_name or "",
        members=members,
        version=(group.meta.version if group.meta and group.meta.version else None) or etag,
    )

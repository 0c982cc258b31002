"""Provider profiles: what a SCIM service provider can do, as data, plus the payload builders.

Place in the pipeline: consulted by `client.py` (paging, concurrency, ETags, discovery), by
`fetch_live` (are members readable?) and by apply (which payload to send for an action). A profile
is a frozen value, never a fork of the client: `generic` is RFC 7644 as scim2-server implements it;
`bitwarden` encodes docs/bitwarden-scim.md. Capabilities discovered from /ServiceProviderConfig
(`with_discovery`) and overrides from a policy file (`with_overrides`) give new profiles; a key set
by an override is never changed by discovery.

Payload builders return plain JSON-ready dicts (the only `dict[str, Any]` allowed across module
boundaries: SCIM payloads). Member and value lists are de-duplicated and sorted, so the same
inputs always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconciler.errors import ConfigError, Diagnostic
from reconciler.scim.wire import GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA, ServiceProviderConfig

MemberRemoveStyle = Literal["auto", "path_filter", "value_list"]
"""How members are removed in a PATCH.

path_filter: `{"op":"remove","path":"members[value eq \\"id\\"]"}` (RFC 7644 §3.5.2.2), one op per id.
value_list:  `{"op":"remove","path":"members","value":[{"value":id},…]}` (Entra style; django-scim2
             answers 501 to the filter form, scim2-server answers 400 to this one).
auto:        path_filter, and the client falls back to value_list once when the server answers
             400/501 to a remove-by-path (and remembers it for the rest of the run).
"""

_USER_FIELDS = frozenset(
    {"userName", "externalId", "displayName", "name.givenName", "name.familyName", "emails", "active"}
)

# Override keys accepted in a policy file's `connection.capabilities`, and the field each sets.
_OVERRIDE_FIELDS: dict[str, str] = {
    "etag": "supports_etag",
    "member_remove": "member_remove",
    "concurrency": "concurrency",
    "page_size": "page_size",
    "members_readable": "members_readable",
    "patch": "supports_patch",
    "discovery": "discovery",
    "user_writable": "user_writable_fields",
}
ALLOWED_OVERRIDES: tuple[str, ...] = tuple(sorted(_OVERRIDE_FIELDS))


class Profile(BaseModel):
    """Capabilities and quirks of one kind of SCIM service provider."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    concurrency: int = Field(4, ge=1, le=32)
    """Requests in flight at once. 1 = strictly serial (a lock in the client)."""
    page_size: int = Field(1000, ge=1, le=10_000)
    """`count` asked for when listing; servers may return fewer (scim2-server caps at 1000)."""
    members_readable: bool = True
    """Group members come back in GET /Groups. False on Bitwarden: members live in our state."""
    user_writable_fields: frozenset[str] = _USER_FIELDS
    """User attributes a PATCH can change (SCIM paths)."""
    member_remove: MemberRemoveStyle = "auto"
    supports_etag: bool = False
    supports_patch: bool = True
    discovery: bool = True
    """GET /ServiceProviderConfig exists (Bitwarden: 404, no discovery endpoints at all)."""
    lookup_user_name_requires_email: bool = False
    """A `userName eq` filter only matches e-mail addresses (Bitwarden lowercases and compares
    the e-mail; a value without '@' always gives an empty list)."""
    post_requires_active_true: bool = False
    """POST /Users must carry active:true; a user desired disabled is created, then disabled."""
    create_needs_email: bool = False
    """POST /Users needs a primary work e-mail, and stores nothing but that e-mail, externalId
    and active (Bitwarden invites the address; names come from the invitee's own account)."""
    clear_with_null: bool = False
    """Clear an attribute with `replace` + JSON null instead of `remove` (Bitwarden handles only
    `replace` on users, bitwarden-scim.md §4, §11)."""
    max_concurrency: int = Field(32, ge=1, le=32)
    """The most `concurrency` may be set to (Bitwarden: 1, its duplicate check is not atomic)."""
    auth_names_url: bool = False
    """A 401 may also mean a wrong id in the URL (Bitwarden: one key per organization id)."""
    overridden: frozenset[str] = frozenset()
    """Override keys set from a policy file; discovery never changes them."""

    @model_validator(mode="after")
    def _bounded(self) -> Profile:
        if self.concurrency > self.max_concurrency:
            raise ValueError(f"concurrency {self.concurrency} exceeds {self.max_concurrency} for {self.name}")
        return self

    # -- derived profiles ---------------------------------------------------------------------

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        """A profile with a policy file's capability overrides applied.

        Raises ConfigError naming the allowed keys for an unknown key or a bad value.
        """
        if not overrides:
            return self
        problems: list[Diagnostic] = []
        updates: dict[str, Any] = {}
        allowed = ", ".join(ALLOWED_OVERRIDES)
        for key in sorted(overrides):
            if key not in _OVERRIDE_FIELDS:
                problems.append(
                    Diagnostic(
                        f"unknown capability override {key!r} for the {self.name} profile",
                        hint=f"allowed keys: {allowed}",
                    )
                )
                continue
            value = overrides[key]
            if key == "user_writable":
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    problems.append(Diagnostic("capability override 'user_writable' must be a list of SCIM paths",
                                               hint="e.g. [userName, externalId, active, emails]"))
                    continue
                unknown = sorted(set(value) - _USER_FIELDS)
                if unknown:
                    problems.append(Diagnostic(
                        f"capability override 'user_writable': unknown path(s) {', '.join(unknown)}",
                        hint="paths: " + ", ".join(sorted(_USER_FIELDS))))
                    continue
                value = frozenset(value)
            updates[_OVERRIDE_FIELDS[key]] = value
        wanted = updates.get("concurrency", 1)
        if isinstance(wanted, int) and wanted > self.max_concurrency:
            # bitwarden-scim.md §3: the e-mail/externalId duplicate check is not atomic, so
            # concurrent POSTs can create duplicate members. Refuse rather than trust the policy.
            problems.append(
                Diagnostic(
                    f"capability override 'concurrency' must be at most {self.max_concurrency} "
                    f"for the {self.name} profile",
                    hint="this provider's duplicate checks are not atomic: requests are sent one at a time",
                )
            )
        if not problems:
            data = self.model_dump()
            data.update(updates)
            data["overridden"] = self.overridden | {k for k in overrides}
            try:
                return Profile.model_validate(_strict_types(data))
            except ValidationError as exc:
                by_field = {v: k for k, v in _OVERRIDE_FIELDS.items()}
                for err in exc.errors():
                    field = str(err["loc"][0]) if err["loc"] else "?"
                    problems.append(
                        Diagnostic(
                            f"capability override {by_field.get(field, field)!r}: {err['msg']}",
                            hint=f"allowed keys: {allowed}",
                        )
                    )
        raise ConfigError(problems)

    def with_discovery(self, spc: ServiceProviderConfig) -> Profile:
        """A profile adjusted to what /ServiceProviderConfig announces (RFC 7643 §5).

        Only narrows what the profile assumes, and leaves overridden keys alone.
        """
        if not self.discovery:
            return self
        data = self.model_dump()
        if spc.etag is not None and "etag" not in self.overridden:
            data["supports_etag"] = spc.etag.supported
        if spc.patch is not None and "patch" not in self.overridden:
            data["supports_patch"] = spc.patch.supported
        if (
            spc.filter is not None
            and spc.filter.max_results
            and spc.filter.max_results > 0
            and "page_size" not in self.overridden
        ):
            # filter.maxResults is the most a server returns per response: asking for more only
            # gets capped (scim2-server) or refused with tooMany (RFC 7644 §3.4.2.4).
            data["page_size"] = min(self.page_size, spc.filter.max_results)
        return Profile.model_validate(data)

    def capabilities(self) -> dict[str, Any]:
        """The effective capabilities under their override names (for reports and plans)."""
        return {key: getattr(self, field) for key, field in sorted(_OVERRIDE_FIELDS.items())}

    # -- payloads: users ----------------------------------------------------------------------

    def user_create_body(
        self,
        *,
        user_name: str,
        external_id: str | None,
        emails: Iterable[str] = (),
        display_name: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        active: bool = True,
    ) -> dict[str, Any]:
        """The POST /Users body. `emails`: values, primary first."""
        values = _distinct(emails)
        if self.create_needs_email:
            if not values and "@" in user_name:
                values = [user_name]
            if not values:
                raise ValueError(
                    f"{self.name} invites an e-mail address: user {user_name!r} has none "
                    "(give it an e-mail, or a userName that is one)"
                )
            # bitwarden-scim.md §3: the invite goes to the first primary e-mail; active must be
            # true (a missing or false `active` is a 400); displayName and name are ignored.
            body: dict[str, Any] = {
                "schemas": [USER_SCHEMA],
                "externalId": external_id,
                "userName": user_name,
                "emails": [{"value": values[0], "primary": True, "type": "work"}],
                "active": True,
            }
            if external_id is None:
                del body["externalId"]
            return body
        body = {"schemas": [USER_SCHEMA], "userName": user_name}
        if external_id is not None:
            body["externalId"] = external_id
        name = {k: v for k, v in (("givenName", given_name), ("familyName", family_name)) if v}
        if name:
            body["name"] = name
        if display_name:
            body["displayName"] = display_name
        if values:
            body["emails"] = _email_objects(values)
        body["active"] = True if self.post_requires_active_true else bool(active)
        return body

    def user_update_ops(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """One PatchOp replacing each changed attribute; a None value clears it.

        `changes` maps a SCIM path (userName, externalId, displayName, name.givenName,
        name.familyName, emails, active) to its new value; `emails` is a list of values, primary
        first (or of e-mail objects). Raises ValueError for a field the provider cannot write.
        """
        bad = sorted(set(changes) - self.user_writable_fields)
        if bad:
            raise ValueError(
                f"the {self.name} profile cannot change {', '.join(bad)} through SCIM; "
                f"writable: {', '.join(sorted(self.user_writable_fields))}"
            )
        ops: list[dict[str, Any]] = []
        for path in sorted(changes):
            value = changes[path]
            if path == "active":
                ops.extend(self.set_active_ops(bool(value))["Operations"])
                continue
            if path == "emails" and value:
                value = (
                    _email_objects(list(value))
                    if all(isinstance(v, str) for v in value)
                    else [dict(v) for v in value]
                )
            if value is None or value == []:
                if self.clear_with_null:
                    # Bitwarden only handles `replace`; a JSON null clears externalId (§11).
                    ops.append({"op": "replace", "path": path, "value": None})
                else:
                    ops.append({"op": "remove", "path": path})
            else:
                ops.append({"op": "replace", "path": path, "value": value})
        return _patch(ops)

    def set_active_ops(self, active: bool) -> dict[str, Any]:
        """Disable or restore. A JSON boolean always: Bitwarden revokes on anything but "true"
        (bitwarden-scim.md §11), and a PUT without `active` would revoke too."""
        return _patch([{"op": "replace", "path": "active", "value": bool(active)}])

    # -- payloads: groups ---------------------------------------------------------------------

    def group_create_body(
        self, *, display_name: str, external_id: str | None, members: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The POST /Groups body. Members are distinct and sorted (Bitwarden: a duplicate id in
        one body is a primary-key violation, §11). Some servers drop create-time members
        (django-scim2): apply must read the group back."""
        body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name}
        if external_id is not None:
            body["externalId"] = external_id
        ids = sorted(_distinct(members))
        if ids:
            body["members"] = [{"value": i} for i in ids]
        return body

    def group_member_ops(
        self,
        adds: Iterable[str] = (),
        removes: Iterable[str] = (),
        *,
        style: MemberRemoveStyle | None = None,
    ) -> dict[str, Any] | None:
        """ONE PatchOp for all of a group's membership changes, or None when there are none.

        Removes come first, then a single `add` with every new id. `style` overrides the
        profile's member_remove (the client passes value_list after a fallback).
        """
        add_ids = sorted(_distinct(adds))
        remove_ids = sorted(_distinct(removes))
        both = set(add_ids) & set(remove_ids)
        if both:
            raise ValueError(f"member ids both added and removed: {', '.join(sorted(both))}")
        chosen = style or self.member_remove
        ops: list[dict[str, Any]] = []
        if remove_ids:
            if chosen == "value_list":
                ops.append(
                    {"op": "remove", "path": "members", "value": [{"value": i} for i in remove_ids]}
                )
            else:
                ops.extend(
                    {"op": "remove", "path": f"members[value eq {quote(i)}]"} for i in remove_ids
                )
        if add_ids:
            ops.append({"op": "add", "path": "members", "value": [{"value": i} for i in add_ids]})
        return _patch(ops) if ops else None

    def group_rename_ops(
        self, *, display_name: str | None = None, external_id: str | None = None
    ) -> dict[str, Any]:
        """Rename a group by its stable id, and/or change its externalId, with `replace` + path
        (the form both RFC 7644 and Bitwarden's PatchGroupCommand handle; a path-less value object
        with both keys would apply only displayName on Bitwarden, §6)."""
        ops: list[dict[str, Any]] = []
        if display_name is not None:
            ops.append({"op": "replace", "path": "displayName", "value": display_name})
        if external_id is not None:
            ops.append({"op": "replace", "path": "externalId", "value": external_id})
        if not ops:
            raise ValueError("group_rename_ops needs a display_name or an external_id")
        return _patch(ops)

    def group_replace_body(
        self, *, display_name: str, external_id: str | None, members: Iterable[str] | None
    ) -> dict[str, Any]:
        """The PUT /Groups/{id} body (full replace). `members=None` leaves them out: on Bitwarden
        that keeps the membership, `[]` would remove everyone (§6)."""
        body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name}
        if external_id is not None:
            body["externalId"] = external_id
        if members is not None:
            body["members"] = [{"value": i} for i in sorted(_distinct(members))]
        return body


GENERIC = Profile(name="generic", concurrency=4, supports_etag=True)

BITWARDEN = Profile(
    name="bitwarden",
    concurrency=1,
    page_size=1000,
    members_readable=False,
    user_writable_fields=frozenset({"active", "externalId"}),
    # One op with every id: the filter form is silently ignored unless it is exactly
    # `members[value eq "<GUID>"]` (bitwarden-scim.md §6), and the list form is one request's work.
    member_remove="value_list",
    supports_etag=False,
    discovery=False,
    lookup_user_name_requires_email=True,
    post_requires_active_true=True,
    create_needs_email=True,
    clear_with_null=True,
    max_concurrency=1,
    auth_names_url=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (GENERIC, BITWARDEN)}


def get_profile(name: str, overrides: Mapping[str, Any] | None = None) -> Profile:
    """The named profile with a policy file's capability overrides applied."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ConfigError(
            [Diagnostic(f"unknown SCIM profile {name!r}", hint=f"use one of: {', '.join(sorted(PROFILES))}")]
        ) from None
    return profile.with_overrides(overrides or {})


def quote(value: str) -> str:
    """A SCIM filter string literal: JSON string rules (RFC 7644 §3.4.2.2 refers to RFC 7159),
    so backslash and double quote are escaped, and control characters too."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def eq_filter(attribute: str, value: str) -> str:
    """`attribute eq "value"` with single spaces: Bitwarden matches the exact prefix (§2)."""
    return f"{attribute} eq {quote(value)}"


def _patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": ops}


def _distinct(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.setdefault(v, None)
    return list(seen)


def _email_objects(values: list[str]) -> list[dict[str, Any]]:
    return [
        {"value": v, "type": "work", "primary": True} if i == 0 else {"value": v, "type": "work"}
        for i, v in enumerate(_distinct(values))
    ]


def _strict_types(data: dict[str, Any]) -> dict[str, Any]:
    """Refuse the YAML-ish coercions pydantic's lax mode would accept ("yes" for a bool, 2.0 for
    an int) in overrides: a policy value must have the right type, not a guessed one."""
    for field in ("supports_etag", "members_readable", "supports_patch", "discovery"):
        if not isinstance(data.get(field), bool):
            data[field] = {"not a boolean": data.get(field)}
    for field in ("concurrency", "page_size"):
        v = data.get(field)
        if isinstance(v, bool) or not isinstance(v, int):
            data[field] = {"not an integer": v}
    return data

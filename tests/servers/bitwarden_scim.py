"""The SCIM app of the Bitwarden stand-in: controllers, list queries, request models, resources.

Mirrors ``bitwarden_license/src/Scim`` at the spec's commit: ``UsersController``/``GroupsController``,
``PostUserCommand``, ``PatchUserCommand``, ``GetUsersListQuery``, ``PostGroupCommand``,
``PutGroupCommand``, ``PatchGroupCommand``, ``GetGroupsListQuery``. Each function takes the org
(``bitwarden_model.Org``, which plays Bitwarden core) and the raw request, and either returns an
:class:`ActionResult` or raises a ``bitwarden_dotnet`` exception, which the HTTP layer turns into
the exception filter's error body. The order of checks follows the C# code, because it decides
which error wins (a PUT to an unknown id with a broken body is a 404, not a 500).

Python standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tests.servers.bitwarden_dotnet import (
    BadRequestException,
    ConflictException,
    DotNetException,
    NotFoundException,
    bind,
    culture_sort_key,
    element_to_string,
    enumerate_array,
    equals_ordinal_ignore_case,
    format_datetime,
    get_boolean,
    get_string,
    int32,
    is_null_or_whitespace,
    lower_invariant,
    parse_guid,
    parse_int32,
    random_string,
    require,
    try_get_guid,
    try_get_property,
    utc_now,
)
from tests.servers.bitwarden_model import INVITED, MUST_HAVE_OWNER, OWNER, REVOKED, STAGED, Group, Member, Org

USER_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:Error"

# ---- request models (C# classes bound by System.Text.Json; see bitwarden_dotnet.bind) --------

_SCHEMAS = ("list", "string")
_NAME = ("object", {"Formatted": "string", "GivenName": "string", "MiddleName": "string", "FamilyName": "string"})
USER_REQUEST: Final = {
    "Schemas": _SCHEMAS,
    "UserName": "string",
    "Name": _NAME,
    "Emails": ("list", ("object", {"Primary": "bool", "Value": "string", "Type": "string"})),
    "DisplayName": "string",
    "Active": "bool",
    "Groups": ("list", "string"),  # List<string>: SCIM's [{"value": ...}] fails the whole bind
    "ExternalId": "string",
}
GROUP_REQUEST: Final = {
    "Schemas": _SCHEMAS,
    "DisplayName": "string",
    "ExternalId": "string",
    "Members": ("list", ("object", {"Value": "string", "Display": "string"})),
}
PATCH_REQUEST: Final = {
    "Schemas": _SCHEMAS,
    "Operations": ("list", ("object", {"Op": "string", "Path": "string", "Value": "element"})),
}


@dataclass
class ActionResult:
    """What a controller action returns itself (not via the exception filter).

    These go through ``[Produces("application/scim+json")]``; errors raised as exceptions go
    through the exception filter and are content-negotiated instead (usually application/json)."""

    status: int
    body: dict[str, Any] | None = None
    location: str | None = None


# ---- resources -------------------------------------------------------------------------------


def error_body(status: int, detail: str | None) -> dict[str, Any]:
    """``ScimErrorResponseModel``: numeric status, no scimType."""
    return {"detail": detail, "status": status, "schemas": [ERROR_SCHEMA]}


def user_resource(member: Member) -> dict[str, Any]:
    """``ScimUserResponseModel``; properties in System.Text.Json order (derived class first)."""
    email, name = member.details_email, member.details_name
    usable = None if is_null_or_whitespace(email) else email
    return {
        "id": member.id,
        "meta": {"resourceType": "User", "created": None, "lastModified": None},
        "userName": email,
        "name": {"formatted": name, "givenName": None, "middleName": None, "familyName": None},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "primaryEmail": usable,
        "workEmail": usable,
        "displayName": name,
        "active": member.status != REVOKED,
        "groups": [],
        "externalId": member.external_id,
        "schemas": [USER_SCHEMA],
    }


def group_resource(group: Group, *, created_utc: bool = False, revised_utc: bool = False) -> dict[str, Any]:
    """``ScimGroupResponseModel``: never any members. Dates read back from the database carry no
    ``Z``; values just set in memory by POST/PUT do (DateTimeKind.Utc) - inferred."""
    return {
        "id": group.id,
        "meta": {
            "resourceType": "Group",
            "created": format_datetime(group.created, utc_kind=created_utc),
            "lastModified": format_datetime(group.revised, utc_kind=revised_utc),
        },
        "displayName": group.name,
        "externalId": group.external_id,
        "schemas": [GROUP_SCHEMA],
    }


def list_response(resources: list[dict[str, Any]], total: int, start_index: int, items: int) -> dict[str, Any]:
    """``ScimListResponseModel``: camelCase, so the list is under ``resources`` (lower case)."""
    return {
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items,
        "resources": resources,
        "schemas": [LIST_SCHEMA],
    }


# ---- list queries ----------------------------------------------------------------------------

Query = Mapping[str, Sequence[str]]


def _query(query: Query, name: str) -> str | None:
    """First value of a query parameter, its name matched case-insensitively (MVC binding)."""
    for key, values in query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def _paging(org: Org, query: Query, feature: str) -> tuple[int | None, int | None, bool]:
    """(count, startIndex, unfiltered listing allowed) as this server version binds them."""
    count, start_index = parse_int32(_query(query, "count")), parse_int32(_query(query, "startIndex"))
    if org.settings.supports(feature):  # Get*QueryParamModel: defaults 50 and 1, [Range] not enforced
        return (50 if count is None else count), (1 if start_index is None else start_index), True
    return count, start_index, count is not None and start_index is not None  # older int? parameters


def _page(items: list[Any], count: int | None, start_index: int | None) -> list[Any]:
    """``.Skip(startIndex - 1).Take(count)`` with LINQ's tolerance for odd values."""
    skip = max(0, int32((1 if start_index is None else start_index) - 1))
    take = len(items) if count is None else count
    return items[skip : skip + take] if take > 0 else []


def _listing(found: list[dict[str, Any]], total: int, count: int | None, start_index: int | None) -> ActionResult:
    items = len(found) if count is None else count
    return ActionResult(200, list_response(found, total, 1 if start_index is None else start_index, items))


def list_users(org: Org, query: Query) -> ActionResult:
    """``GetUsersListQuery``: filters ``userName eq`` (an e-mail, lowercased) and ``externalId eq``
    (case-sensitive), at most one result; otherwise OrderBy(Email), paged, everyone counted."""
    filter_text = _query(query, "filter")
    count, start_index, paged = _paging(org, query, "list_paging_defaults_users")
    members = list(org.members.values())
    email_filter = external_id_filter = None
    if filter_text is not None and not is_null_or_whitespace(filter_text):
        lowered = lower_invariant(filter_text)
        if lowered.startswith("username eq "):
            username = lowered[12:].strip('"')
            email_filter = username if "@" in username else None
        elif lowered.startswith("externalid eq "):
            external_id_filter = filter_text[14:].strip('"')
    if not is_null_or_whitespace(email_filter):
        match = next((m for m in members if lower_invariant(require(m.details_email)) == email_filter), None)
        found = [match] if match else []
        total = len(found)
    elif not is_null_or_whitespace(external_id_filter):
        match = next((m for m in members if m.external_id == external_id_filter), None)
        found = [match] if match else []
        total = len(found)
    elif is_null_or_whitespace(filter_text) and paged:
        found = _page(sorted(members, key=lambda m: culture_sort_key(m.details_email)), count, start_index)
        total = len(members)
    else:
        found, total = [], 0
    return _listing([user_resource(m) for m in found], total, count, start_index)


def list_groups(org: Org, query: Query) -> ActionResult:
    """``GetGroupsListQuery``: ``displayName eq`` and ``externalId eq``, both case-sensitive
    (prefix too), first match only; otherwise OrderBy(Name), paged."""
    filter_text = _query(query, "filter")
    count, start_index, paged = _paging(org, query, "list_paging_defaults_groups")
    groups = list(org.groups.values())
    name_filter = external_id_filter = None
    if filter_text is not None and not is_null_or_whitespace(filter_text):
        if filter_text.startswith("displayName eq "):
            name_filter = filter_text[15:].strip('"')
        elif filter_text.startswith("externalId eq "):
            external_id_filter = filter_text[14:].strip('"')
    if not is_null_or_whitespace(name_filter):
        match = next((g for g in groups if g.name == name_filter), None)
        found = [match] if match else []
        total = len(found)
    elif not is_null_or_whitespace(external_id_filter):
        match = next((g for g in groups if g.external_id == external_id_filter), None)
        found = [match] if match else []
        total = len(found)
    elif is_null_or_whitespace(filter_text) and paged:
        found = _page(sorted(groups, key=lambda g: culture_sort_key(g.name)), count, start_index)
        total = len(groups)
    else:
        found, total = [], 0
    return _listing([group_resource(g) for g in found], total, count, start_index)


# ---- users -----------------------------------------------------------------------------------


def _member_or_404(org: Org, id_text: str) -> Member:
    member = org.find_member(id_text)
    if member is None:
        raise NotFoundException("User not found.")
    return member


def _group_or_404(org: Org, id_text: str) -> Group:
    group = org.find_group(id_text)
    if group is None:
        raise NotFoundException("Group not found.")
    return group


def get_user(org: Org, id_text: str) -> ActionResult:
    return ActionResult(200, user_resource(_member_or_404(org, id_text)))


def _first_email(emails: list[Any] | None, predicate: Callable[[dict[str, Any]], bool]) -> str | None:
    """``Emails?.FirstOrDefault(predicate)?.Value`` (a null entry before the match is an NRE)."""
    for entry in emails or ():
        if predicate(require(entry)):
            return entry["Value"]  # type: ignore[no-any-return]
    return None


def _email_for_invite(model: dict[str, Any] | None, provider: str) -> str | None:
    """``EmailForInvite``: primary non-blank; else userName for AzureAd; else the first "work"
    entry (case-sensitive type), then the first non-blank entry; lowercased."""
    model = require(model)
    emails = model["Emails"]
    primary = _first_email(emails, lambda e: bool(e["Primary"]) and not is_null_or_whitespace(e["Value"]))
    if primary is not None and not is_null_or_whitespace(primary):
        return lower_invariant(primary)
    if provider == "AzureAd":
        return None if model["UserName"] is None else lower_invariant(model["UserName"])
    email = _first_email(emails, lambda e: e["Type"] == "work" and not is_null_or_whitespace(e["Value"]))
    if is_null_or_whitespace(email):
        email = _first_email(emails, lambda e: not is_null_or_whitespace(e["Value"]))
    return None if email is None else lower_invariant(email)


def _external_id_for_invite(model: dict[str, Any] | None) -> str:
    """``ExternalIdForInvite``: externalId, else userName, else 15 random characters."""
    model = require(model)
    for candidate in (model["ExternalId"], model["UserName"]):
        if candidate is not None and not is_null_or_whitespace(candidate):
            return str(candidate)
    return random_string(15)


def _email_taken(org: Org, email: str) -> bool:
    return any(m.details_email is not None and lower_invariant(m.details_email) == email for m in org.members.values())


def is_valid_email(email: str) -> bool:
    """Approximates Bitwarden's ``IsValidEmail`` (MimeKit round trip and ``^[\\x00-\\x7F]+@.+\\.\\p{L}+$``)."""
    local, _, domain = email.rpartition("@")
    if not local or not domain or not local.isascii() or any(c.isspace() or c in '()<>[]:;@\\,"' for c in local):
        return False
    if any(c.isspace() or c in '()<>[]:;@\\,"' for c in domain) or "." not in domain:
        return False
    tld = domain.rsplit(".", 1)[1]
    return bool(tld) and all(c.isalpha() for c in tld) and ".." not in local and not local.startswith(".")


def post_user(org: Org, body: Any, provider: str) -> ActionResult:
    """``PostUserCommand``: staged (flags), fail-fast (flag pm-16811) or legacy invite."""
    model = bind(body, USER_REQUEST)
    s = org.settings
    if not s.invite_users_after_provisioning and s.staged_status_flag and s.supports("staged_status"):
        member = _stage_user(org, model, provider)
    elif s.invite_fail_fast:
        member = _invite_user_fail_fast(org, model, provider)
    else:
        member = _invite_user(org, model, provider)
    return ActionResult(201, user_resource(member), location=f"/v2/{org.id}/users/{member.id}")


def _invite_user(org: Org, model: dict[str, Any] | None, provider: str) -> Member:
    """Legacy path + ``OrganizationService.InviteUsersAsync``: exact externalId match, seats,
    and an org must have a confirmed owner (or provider) to invite anyone."""
    email = _email_for_invite(model, provider)
    external_id = _external_id_for_invite(model)
    if email is None or is_null_or_whitespace(email) or not require(model)["Active"]:
        raise BadRequestException()
    if _email_taken(org, email) or any(m.external_id == external_id for m in org.members.values()):
        raise ConflictException()
    seats_to_add = org.seats_to_add(1)
    if seats_to_add > 0:
        org.check_can_scale(seats_to_add, "Cannot autoscale on self-hosted instance.")
    if not org.has_confirmed_owners_except([]):
        raise BadRequestException(MUST_HAVE_OWNER)
    member = org.insert_member(email, external_id, INVITED, invitation=True)
    org.auto_add_seats(seats_to_add)
    return member


def _invite_user_fail_fast(org: Org, model: dict[str, Any] | None, provider: str) -> Member:
    """``InviteScimOrganizationUserAsync_vNext``: e-mail validated; 409 "User already exists." on
    a case-insensitive e-mail *or* externalId match; no confirmed-owner check."""
    email = _email_for_invite(model, provider)
    if email is None or is_null_or_whitespace(email) or not require(model)["Active"]:
        raise BadRequestException()
    external_id = _external_id_for_invite(model)
    if not is_valid_email(email):
        raise BadRequestException(f"{email} The email address is not valid.")
    if any(
        equals_ordinal_ignore_case(email, m.details_email) or equals_ordinal_ignore_case(external_id, m.external_id)
        for m in org.members.values()
    ):
        raise ConflictException("User already exists.")
    seats_to_add = org.seats_to_add(1)
    if seats_to_add > 0:
        org.check_can_scale(seats_to_add, "Cannot auto scale self-host.")
    member = org.insert_member(email, external_id, INVITED, invitation=True)
    org.auto_add_seats(seats_to_add)
    return member


def _stage_user(org: Org, model: dict[str, Any] | None, provider: str) -> Member:
    """``StageScimOrganizationUserAsync``: status Staged, no e-mail sent, no seat used."""
    email = _email_for_invite(model, provider)
    external_id = _external_id_for_invite(model)
    if email is None or is_null_or_whitespace(email) or not require(model)["Active"]:
        raise BadRequestException()
    if _email_taken(org, email) or any(m.external_id == external_id for m in org.members.values()):
        raise ConflictException()
    return org.insert_member(email, external_id, STAGED, invitation=False)


def put_user(org: Org, id_text: str, body: Any) -> ActionResult:
    """``UsersController.Put``: only ``active`` counts (absent = false = revoke). Its 404 and the
    v2 revoke refusal are action results, so they are application/scim+json."""
    member = org.find_member(id_text)
    if member is None:
        return ActionResult(404, error_body(404, "User not found."))
    model = require(bind(body, USER_REQUEST))
    if model["Active"] and member.status == REVOKED:
        org.restore(member)
    elif not model["Active"] and member.status != REVOKED:
        if not org.settings.supports("put_revoke_v2"):
            org.revoke_v1(member)
        elif member.type == OWNER and not org.has_confirmed_owners_except([member.id]):
            return ActionResult(400, error_body(400, f"{MUST_HAVE_OWNER} for user {member.id}"))
        else:
            org.revoke(member)
    return ActionResult(200, user_resource(member))


def _set_active(org: Org, member: Member, active: bool) -> None:
    """``PatchUserCommand.HandleActiveOperationAsync`` (revoke v1, restore v1; else nothing)."""
    if active and member.status == REVOKED:
        org.restore(member)
    elif not active and member.status != REVOKED:
        org.revoke_v1(member)


def patch_user(org: Org, id_text: str, body: Any) -> ActionResult:
    """``PatchUserCommand``: only ``replace``; path ``active`` (``value.ToString()`` compared to
    "true"), path ``externalId`` (>= 2026.3.0), or no path with ``{"active"}``/``{"externalId"}``."""
    member = _member_or_404(org, id_text)
    model = require(bind(body, PATCH_REQUEST))
    external_ids = org.settings.supports("user_patch_external_id")
    for operation in require(model["Operations"]):
        operation = require(operation)
        if operation["Op"] is None or lower_invariant(operation["Op"]) != "replace":
            continue  # add/remove on users: logged and ignored
        path, value = operation["Path"], operation["Value"]
        lowered = None if path is None else lower_invariant(path)
        if lowered == "active":
            _set_active(org, member, lower_invariant(element_to_string(value)) == "true")
        elif lowered == "externalid" and external_ids:
            org.set_member_external_id(member, get_string(value))
        elif is_null_or_whitespace(path):
            found, active = try_get_property(value, "active")
            if found:
                _set_active(org, member, get_boolean(active))
            if external_ids:
                found, external_id = try_get_property(value, "externalId")
                if found:
                    org.set_member_external_id(member, get_string(external_id))
    return ActionResult(204)


def delete_user(org: Org, id_text: str) -> ActionResult:
    org.remove_member(_member_or_404(org, id_text))
    return ActionResult(204)


# ---- groups ----------------------------------------------------------------------------------


def get_group(org: Org, id_text: str) -> ActionResult:
    return ActionResult(200, group_resource(_group_or_404(org, id_text)))


def _members_from_body(org: Org, model: dict[str, Any], provider: str) -> list[str] | None:
    """Member ids of a POST/PUT body: non-GUIDs dropped, repeats kept; None = leave as is."""
    if not org.settings.supports("group_members_any_provider") and provider != "Okta":
        return None
    if model["Members"] is None:
        return None
    ids = (parse_guid(require(item)["Value"]) for item in model["Members"])
    return [i for i in ids if i is not None]


def post_group(org: Org, body: Any, provider: str) -> ActionResult:
    """``PostGroupCommand``: displayName required, exact externalId 409, members applied after
    creation (so a failing member write leaves the group created)."""
    model = require(bind(body, GROUP_REQUEST))
    if is_null_or_whitespace(model["DisplayName"]):
        raise BadRequestException()
    external_id = model["ExternalId"]
    if not is_null_or_whitespace(external_id) and any(g.external_id == external_id for g in org.groups.values()):
        raise ConflictException()
    if external_id is None or is_null_or_whitespace(external_id):
        external_id = random_string(15)
    group = org.create_group(model["DisplayName"], external_id)
    ids = _members_from_body(org, model, provider)
    if ids:
        org.update_group_users(group, ids, group.revised)
    body_out = group_resource(group, created_utc=True, revised_utc=True)
    return ActionResult(201, body_out, location=f"/v2/{org.id}/groups/{group.id}")


def put_group(org: Org, id_text: str, body: Any, provider: str) -> ActionResult:
    """``PutGroupCommand``: always renames (null -> 500), ignores externalId, replaces members
    when the list is present."""
    group = _group_or_404(org, id_text)
    model = require(bind(body, GROUP_REQUEST))
    org.rename_group(group, model["DisplayName"])
    ids = _members_from_body(org, model, provider)
    if ids is not None:
        org.update_group_users(group, ids, group.revised)
    return ActionResult(200, group_resource(group, revised_utc=True))


def patch_group(org: Org, id_text: str, body: Any) -> ActionResult:
    group = _group_or_404(org, id_text)
    model = require(bind(body, PATCH_REQUEST))
    for operation in require(model["Operations"]):
        _patch_group_operation(org, group, require(operation))
    return ActionResult(204)


def _patch_group_operation(org: Org, group: Group, operation: Mapping[str, Any]) -> None:
    """One operation through ``PatchGroupCommand.HandleOperationAsync``'s switch: the first
    matching case wins, anything unmatched is logged and ignored (still 204)."""
    op = None if operation["Op"] is None else lower_invariant(operation["Op"])
    path, value = operation["Path"], operation["Value"]
    lowered = None if path is None else lower_invariant(path)
    external_ids = org.settings.supports("group_patch_external_id")
    no_path = is_null_or_whitespace(path)
    if op == "replace":
        if lowered == "members":
            org.update_group_users(group, _operation_value_ids(value), utc_now())
        elif lowered == "displayname":
            org.rename_group(group, get_string(value))
        elif lowered == "externalid" and external_ids:
            org.set_group_external_id(group, get_string(value))
        elif no_path and try_get_property(value, "displayName")[0]:
            org.rename_group(group, get_string(value["displayName"]))
        elif no_path and external_ids and try_get_property(value, "externalId")[0]:
            org.set_group_external_id(group, get_string(value["externalId"]))
    elif op == "add":
        single = _operation_path_id(path)
        if single is not None:
            org.add_group_users(group, [single])
        elif lowered == "members":
            org.add_group_users(group, _operation_value_ids(value))
        elif lowered == "externalid" and external_ids:
            org.set_group_external_id(group, get_string(value))
        elif no_path and external_ids and try_get_property(value, "externalId")[0]:
            org.set_group_external_id(group, get_string(value["externalId"]))
    elif op == "remove":
        single = _operation_path_id(path)
        if single is not None:
            org.remove_group_user(group, single)
        elif lowered == "members":
            removed = set(_operation_value_ids(value))
            org.update_group_users(group, [m for m in group.members if m not in removed], utc_now())


def _operation_value_ids(value: Any) -> list[str]:
    """``GetOperationValueIds``: the D-format GUIDs of ``[{"value": ...}]``, as a set (ordered)."""
    ids: list[str] = []
    for item in enumerate_array(value):
        found, member_value = try_get_property(item, "value")
        if found:
            guid = try_get_guid(member_value)
            if guid is not None and guid not in ids:
                ids.append(guid)
    return ids


def _operation_path_id(path: str | None) -> str | None:
    """``members[value eq "<id>"]`` read as ``Guid.TryParse(path.Substring(18).Replace("\\"]", ""))``."""
    if path is None or is_null_or_whitespace(path) or not lower_invariant(path).startswith("members[value eq "):
        return None
    if len(path) < 18:  # "members[value eq " is 17 characters: Substring(18) throws
        raise DotNetException("startIndex cannot be larger than length of string. (Parameter 'startIndex')")
    return parse_guid(path[18:].replace('"]', ""))


def delete_group(org: Org, id_text: str) -> ActionResult:
    org.delete_group(_group_or_404(org, id_text))
    return ActionResult(204)


# ---- routing table used by the HTTP layer ------------------------------------------------------

Handler = Callable[[Org, str | None, Query, Any, str], ActionResult]

ROUTES: Final[Mapping[tuple[str, str, bool], Handler]] = {
    ("users", "GET", False): lambda org, _id, query, _body, _provider: list_users(org, query),
    ("users", "POST", False): lambda org, _id, _query, body, provider: post_user(org, body, provider),
    ("users", "GET", True): lambda org, id_, _query, _body, _provider: get_user(org, str(id_)),
    ("users", "PUT", True): lambda org, id_, _query, body, _provider: put_user(org, str(id_), body),
    ("users", "PATCH", True): lambda org, id_, _query, body, _provider: patch_user(org, str(id_), body),
    ("users", "DELETE", True): lambda org, id_, _query, _body, _provider: delete_user(org, str(id_)),
    ("groups", "GET", False): lambda org, _id, query, _body, _provider: list_groups(org, query),
    ("groups", "POST", False): lambda org, _id, _query, body, provider: post_group(org, body, provider),
    ("groups", "GET", True): lambda org, id_, _query, _body, _provider: get_group(org, str(id_)),
    ("groups", "PUT", True): lambda org, id_, _query, body, provider: put_group(org, str(id_), body, provider),
    ("groups", "PATCH", True): lambda org, id_, _query, body, _provider: patch_group(org, str(id_), body),
    ("groups", "DELETE", True): lambda org, id_, _query, _body, _provider: delete_group(org, str(id_)),
}
"""(collection, method, has id) -> action. Methods not listed for a route answer 405."""

"""Tests of the Bitwarden SCIM stand-in, over real HTTP. Each names the spec section it checks
(``shared/docs/bitwarden-scim.md (beside the repository)``); "source" marks a rule read from the server code at the
spec's commit rather than stated in the spec."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.bitwarden import BitwardenOrg

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
BAD_REQUEST_DEFAULT = "Exception of type 'Bit.Core.Exceptions.BadRequestException' was thrown."
MUST_HAVE_OWNER = "Organization must have at least one confirmed owner."
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- helpers ----------------------------------------------------------------------------------


def user_body(email: str, external_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "emails": [{"value": email, "primary": True, "type": "work"}],
        "active": True,
    }
    if external_id is not None:
        body["externalId"] = external_id
    body.update(extra)
    return body


def create_user(client: httpx.Client, email: str, external_id: str | None = None, **extra: Any) -> str:
    response = client.post("/Users", json=user_body(email, external_id, **extra))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create_group(
    client: httpx.Client, name: str, external_id: str | None = None, members: list[str] | None = None
) -> str:
    body: dict[str, Any] = {"displayName": name}
    if external_id is not None:
        body["externalId"] = external_id
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    response = client.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def patch(client: httpx.Client, resource: str, *operations: dict[str, Any]) -> httpx.Response:
    return client.patch(resource, json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def status_of(org: BitwardenOrg, member_id: str) -> str:
    return str(org.member(member_id)["status"])


def list_users(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/Users", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def lone_owner(org: BitwardenOrg) -> str:
    """An org whose only confirmed owner is one seeded member (no provider user)."""
    org.set(provider_owner=False)
    return str(org.seed_member("owner@corp.example", type="Owner", status="Confirmed", name="Olive Owner")["id"])


# ---- §0 base URL, authentication, content types -------------------------------------------------


def test_s0_auth_accepts_bearer_prefix_and_raw_key(bitwarden_server: BitwardenOrg) -> None:
    """§0 Auth: the literal "Bearer " prefix is stripped; the raw key alone is accepted too."""
    url = bitwarden_server.base_url + "/Users"
    for value in (f"Bearer {bitwarden_server.token}", bitwarden_server.token):
        assert httpx.get(url, headers={"Authorization": value}).status_code == 200


def test_s0_auth_failures_are_401_with_empty_body(
    bitwarden_server: BitwardenOrg, bitwarden_server_session: Any
) -> None:
    """§0 Auth: wrong key, case-sensitive prefix, missing/duplicate header, unknown or non-GUID
    org, another org's key, disabled SCIM -> 401 with an empty body."""
    token = bitwarden_server.token
    other = bitwarden_server_session.create_org()
    try:
        attempts: list[tuple[str, list[tuple[str, str]]]] = [
            (bitwarden_server.base_url, [("Authorization", "Bearer wrong")]),
            (bitwarden_server.base_url, [("Authorization", f"bearer {token}")]),
            (bitwarden_server.base_url, [("Authorization", f"Bearer  {token}")]),
            (bitwarden_server.base_url, []),
            (bitwarden_server.base_url, [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]),
            (
                f"{bitwarden_server.server.root_url}/v2/6f9619ff-8b86-d011-b42d-00c04fc964ff",
                [("Authorization", f"Bearer {token}")],
            ),
            (f"{bitwarden_server.server.root_url}/v2/not-a-guid", [("Authorization", f"Bearer {token}")]),
            (other.base_url, [("Authorization", f"Bearer {token}")]),
        ]
        for base, headers in attempts:
            response = httpx.get(base + "/Users", headers=headers)
            assert (response.status_code, response.content) == (401, b""), (base, headers)
        bitwarden_server.set(scim_enabled=False)
        assert httpx.get(bitwarden_server.base_url + "/Users", headers=bitwarden_server.headers).status_code == 401
    finally:
        bitwarden_server_session.delete_org(other.org_id)


def test_s0_routes_ignore_case_and_org_id_format(bitwarden_server: BitwardenOrg) -> None:
    """§0 Routes: path segments are case-insensitive; the org GUID parses in any .NET format."""
    root, org_id = bitwarden_server.server.root_url, bitwarden_server.org_id
    for path in (
        f"/v2/{org_id}/users",
        f"/V2/{org_id}/USERS/",
        f"/v2/{org_id.upper()}/Groups",
        f"/v2/{org_id.replace('-', '')}/groups",
    ):
        assert httpx.get(root + path, headers=bitwarden_server.headers).status_code == 200, path


def test_s0_no_discovery_endpoints(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§0: no /ServiceProviderConfig, /Schemas, /ResourceTypes, /Bulk or /Me; unknown paths 404,
    wrong methods on known routes 405."""
    for path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Bulk", "/Me", "/Users/x/y"):
        response = bitwarden_client.get(path)
        assert (response.status_code, response.content) == (404, b""), path
    assert bitwarden_client.delete("/Users").status_code == 405
    assert bitwarden_client.post("/Groups/" + "0" * 32, json={}).status_code == 405


def test_s0_error_body_and_content_types(bitwarden_client: httpx.Client) -> None:
    """§0 + §11: errors are {"detail","status":<int>,"schemas"} without scimType, as
    application/json (negotiated from Accept); normal responses are application/scim+json."""
    response = bitwarden_client.get("/Users/8b0f4d1e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": "User not found.", "status": 404, "schemas": [ERROR_SCHEMA]}
    negotiated = bitwarden_client.get("/Groups/nope", headers={"Accept": "application/scim+json"})
    assert negotiated.headers["content-type"] == "application/scim+json; charset=utf-8"
    assert negotiated.json()["detail"] == "Group not found."
    listing = bitwarden_client.get("/Users")
    assert listing.headers["content-type"] == "application/scim+json; charset=utf-8"


def test_s0_malformed_or_empty_json_body_is_500(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§0: a malformed or empty body binds as null -> NullReferenceException -> 500, not 400."""
    for content in (b"{", b"", b"[]", b"null"):
        response = bitwarden_client.post("/Users", content=content)
        assert response.status_code == 500, content
        assert response.json()["detail"] == "Object reference not set to an instance of an object."
    assert bitwarden_server.members() == []


def test_s0_request_media_types(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§0: bodies must be application/scim+json or application/json (MVC also reads text/json);
    anything else, or no Content-Type, is a 415 with no body."""
    body = b'{"emails":[{"value":"a@corp.example","primary":true}],"active":true}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
        response = bitwarden_client.post("/Users", content=body, headers=headers)
        assert (response.status_code, response.content) == (415, b""), content_type
    assert (
        bitwarden_client.post("/Users", content=body, headers={"Content-Type": "application/json"}).status_code == 201
    )
    assert bitwarden_server.member_by_email("a@corp.example") is not None


def test_s0_json_output_nulls_and_escaping(bitwarden_client: httpx.Client) -> None:
    """§0: System.Text.Json output: compact camelCase, nulls written, and the default encoder
    escapes "+" and non-ASCII as \\uXXXX (parse, never compare bytes)."""
    response = bitwarden_client.post("/Users", json=user_body("Zoë+tag@Corp.example", "ext-zoë"))
    assert '"displayName":null' in response.text
    assert "\\u002B" in response.text and "\\u00EB" in response.text
    assert response.json()["userName"] == "zoë+tag@corp.example"


# ---- §1 endpoint table --------------------------------------------------------------------------


def test_s1_status_codes_and_location(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§1: POST 201 + relative Location (no /scim prefix), PUT 200, PATCH/DELETE 204 without body."""
    response = bitwarden_client.post("/Users", json=user_body("loc@corp.example", "loc"))
    user_id = response.json()["id"]
    assert response.headers["location"] == f"/v2/{bitwarden_server.org_id}/users/{user_id}"
    group = bitwarden_client.post("/Groups", json={"displayName": "Loc", "externalId": "g-loc"})
    assert group.headers["location"] == f"/v2/{bitwarden_server.org_id}/groups/{group.json()['id']}"
    assert bitwarden_client.put(f"/Users/{user_id}", json={"active": True}).status_code == 200
    patched = patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": True})
    assert (patched.status_code, patched.content, patched.headers.get("content-type")) == (204, b"", None)
    assert bitwarden_client.delete(f"/Users/{user_id}").status_code == 204


# ---- §2 shapes and list queries -----------------------------------------------------------------


def test_s2_user_resource_shape(bitwarden_client: httpx.Client) -> None:
    """§2 User resource: id = membership id, userName = e-mail, displayName null while Invited,
    groups always [], meta dates null, plus primaryEmail/workEmail."""
    response = bitwarden_client.post("/Users", json=user_body("Ann@Corp.example", "ann", displayName="Ann A"))
    body = response.json()
    assert body == {
        "id": body["id"],
        "meta": {"resourceType": "User", "created": None, "lastModified": None},
        "userName": "ann@corp.example",
        "name": {"formatted": None, "givenName": None, "middleName": None, "familyName": None},
        "emails": [{"primary": True, "value": "ann@corp.example", "type": "work"}],
        "primaryEmail": "ann@corp.example",
        "workEmail": "ann@corp.example",
        "displayName": None,
        "active": True,
        "groups": [],
        "externalId": "ann",
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    }
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body["id"])


def test_s2_accepted_user_shows_the_account_email_and_name(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§2/§7: after acceptance the account's own e-mail and name are what SCIM returns."""
    user_id = create_user(bitwarden_client, "bob@corp.example", "bob")
    bitwarden_server.accept(user_id, email="Bobby@Home.example", name="Bobby B")
    body = bitwarden_client.get(f"/Users/{user_id}").json()
    assert (body["userName"], body["displayName"], body["name"]["formatted"]) == (
        "Bobby@Home.example",
        "Bobby B",
        "Bobby B",
    )
    assert body["emails"] == [{"primary": True, "value": "Bobby@Home.example", "type": "work"}]
    assert list_users(bitwarden_client, filter='userName eq "bobby@home.example"')["totalResults"] == 1
    assert list_users(bitwarden_client, filter='userName eq "bob@corp.example"')["totalResults"] == 0
    assert status_of(bitwarden_server, user_id) == "Accepted"


def test_s2_groups_never_return_members(bitwarden_client: httpx.Client) -> None:
    """§2 Group resource: no members from POST, GET, list or PUT."""
    user_id = create_user(bitwarden_client, "m@corp.example", "m")
    created = bitwarden_client.post(
        "/Groups", json={"displayName": "G", "externalId": "g", "members": [{"value": user_id}]}
    )
    group_id = created.json()["id"]
    bodies = [
        created.json(),
        bitwarden_client.get(f"/Groups/{group_id}").json(),
        bitwarden_client.get("/Groups").json()["resources"][0],
        bitwarden_client.put(f"/Groups/{group_id}", json={"displayName": "G"}).json(),
    ]
    for body in bodies:
        assert set(body) == {"id", "meta", "displayName", "externalId", "schemas"}
        assert body["meta"]["resourceType"] == "Group"


def test_s2_list_response_is_lowercase_resources_echoing_paging(bitwarden_client: httpx.Client) -> None:
    """§2 + §11: "resources" in lower case; itemsPerPage echoes count, startIndex echoes the
    request, totalResults counts everyone; defaults count 50 / startIndex 1; no [Range] check."""
    create_user(bitwarden_client, "solo@corp.example", "solo")
    body = list_users(bitwarden_client, startIndex=1, count=7)
    assert set(body) == {"totalResults", "startIndex", "itemsPerPage", "resources", "schemas"}
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"], len(body["resources"])) == (1, 1, 7, 1)
    defaults = list_users(bitwarden_client)
    assert (defaults["startIndex"], defaults["itemsPerPage"], len(defaults["resources"])) == (1, 50, 1)
    beyond = list_users(bitwarden_client, startIndex=5, count=0)
    assert (beyond["startIndex"], beyond["itemsPerPage"], beyond["resources"], beyond["totalResults"]) == (5, 0, [], 1)
    assert list_users(bitwarden_client, count="abc")["itemsPerPage"] == 50


def test_s2_users_ordered_by_email_and_paged(bitwarden_client: httpx.Client) -> None:
    """§2: unfiltered lists are OrderBy(Email) then Skip(startIndex-1).Take(count)."""
    emails = ["dave@corp.example", "amy@corp.example", "eve@corp.example", "carl@corp.example", "bea@corp.example"]
    for email in emails:
        create_user(bitwarden_client, email, email.split("@")[0])
    seen: list[str] = []
    start = 1
    while True:
        page = list_users(bitwarden_client, startIndex=start, count=2)
        assert page["totalResults"] == 5
        if not page["resources"]:
            break
        seen += [r["userName"] for r in page["resources"]]
        start += len(page["resources"])
    assert seen == sorted(emails)


def test_s2_user_filters(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§2 filters: userName eq (needs "@", value lowercased), externalId eq (case-sensitive);
    anything else is 200 with 0 results; at most 1 result and pagination ignored."""
    create_user(bitwarden_client, "fran@corp.example", "Ext-Fran")
    create_user(bitwarden_client, "gus@corp.example", "ext-gus")

    def found(filter_text: str, **paging: Any) -> list[str]:
        return [r["userName"] for r in list_users(bitwarden_client, filter=filter_text, **paging)["resources"]]

    assert found('userName eq "FRAN@corp.example"') == ["fran@corp.example"]
    assert found('USERNAME EQ "fran@corp.example"', startIndex=9, count=0) == ["fran@corp.example"]
    assert found('userName eq "fran"') == []
    assert found('externalId eq "Ext-Fran"') == ["fran@corp.example"]
    assert found('externalId eq "ext-fran"') == []
    for unsupported in (
        'userName  eq "fran@corp.example"',
        'id eq "x"',
        'emails[value eq "fran@corp.example"]',
        'userName eq "fran@corp.example" or userName eq "gus@corp.example"',
        'userName co "fran"',
    ):
        body = list_users(bitwarden_client, filter=unsupported)
        assert (body["totalResults"], body["resources"]) == (0, []), unsupported


def test_s2_group_filters(bitwarden_client: httpx.Client) -> None:
    """§2 GET /Groups: displayName eq is case-sensitive (prefix and value) and returns the first of
    duplicate names; externalId eq is exact; groups are ordered by name."""
    first = create_group(bitwarden_client, "Team", "t1")
    create_group(bitwarden_client, "Team", "t2")
    create_group(bitwarden_client, "Alpha", "a1")

    def found(filter_text: str) -> list[str]:
        return [g["id"] for g in bitwarden_client.get("/Groups", params={"filter": filter_text}).json()["resources"]]

    assert found('displayName eq "Team"') == [first]
    assert found('displayName eq "team"') == []
    assert found('displayname eq "Team"') == []
    assert found('externalId eq "t1"') == [first]
    assert found('externalId eq "T1"') == []
    names = [
        g["displayName"]
        for g in bitwarden_client.get("/Groups", params={"startIndex": 1, "count": 10}).json()["resources"]
    ]
    assert names == ["Alpha", "Team", "Team"]


def test_s2_list_contains_every_member(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§2: the list holds Owners, Admins, manual invites (externalId null), Revoked and Staged
    members; active = status != Revoked."""
    bitwarden_server.seed_member("owner@corp.example", type="Owner", name="O")
    bitwarden_server.seed_member("manual@corp.example", status="Invited")
    bitwarden_server.seed_member("gone@corp.example", status="Revoked", prior_status="Confirmed")
    bitwarden_server.seed_member("staged@corp.example", status="Staged")
    by_email = {r["userName"]: r for r in list_users(bitwarden_client, startIndex=1, count=100)["resources"]}
    assert set(by_email) == {"owner@corp.example", "manual@corp.example", "gone@corp.example", "staged@corp.example"}
    assert {e: r["active"] for e, r in by_email.items()} == {
        "owner@corp.example": True,
        "manual@corp.example": True,
        "gone@corp.example": False,
        "staged@corp.example": True,
    }
    assert by_email["manual@corp.example"]["externalId"] is None
    assert by_email["owner@corp.example"]["displayName"] == "O"


def test_s8_old_versions_need_start_index_and_count(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§2/§8: before v2024.10.1 (users) and v2025.12.1 (groups) an unfiltered list without both
    startIndex and count returned nothing."""
    create_user(bitwarden_client, "old@corp.example", "old")
    create_group(bitwarden_client, "Old", "old")
    bitwarden_server.set(version="2025.6.0")
    assert bitwarden_client.get("/Users").json()["totalResults"] == 1
    groups = bitwarden_client.get("/Groups").json()
    assert (groups["totalResults"], groups["resources"], groups["itemsPerPage"]) == (0, [], 0)
    assert len(bitwarden_client.get("/Groups", params={"startIndex": 1, "count": 5}).json()["resources"]) == 1
    bitwarden_server.set(version="2024.9.0")
    assert bitwarden_client.get("/Users").json()["resources"] == []


# ---- §3 POST /Users -----------------------------------------------------------------------------


def test_s3_post_requires_active_true(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3: active is a bool defaulting to false: omitted or false -> 400 (no usable message)."""
    body = user_body("x@corp.example", "x")
    del body["active"]
    for candidate in (body, {**body, "active": False}):
        response = bitwarden_client.post("/Users", json=candidate)
        assert response.status_code == 400
        assert response.json()["detail"] == BAD_REQUEST_DEFAULT
    assert bitwarden_server.members() == []


def test_s3_email_selection_order(bitwarden_client: httpx.Client) -> None:
    """§3 EmailForInvite: primary non-blank, else first type "work", else first non-blank;
    userName only for AzureAd (Adscimversion header); lowercased."""
    cases = [
        ([{"value": "Work@c.example", "type": "work"}, {"value": "Prim@c.example", "primary": True}], "prim@c.example"),
        (
            [
                {"value": " ", "primary": True},
                {"value": "home@c.example", "type": "home"},
                {"value": "w2@c.example", "type": "work"},
            ],
            "w2@c.example",
        ),
        ([{"value": "", "type": "work"}, {"value": "any@c.example", "type": "other"}], "any@c.example"),
        ([{"value": "case@c.example", "type": "Work"}, {"value": "x@c.example", "type": "other"}], "case@c.example"),
    ]
    for index, (emails, expected) in enumerate(cases):
        response = bitwarden_client.post("/Users", json={"emails": emails, "active": True, "externalId": f"e{index}"})
        assert response.json()["userName"] == expected, emails
    alone = bitwarden_client.post("/Users", json={"userName": "only@c.example", "active": True})
    assert alone.status_code == 400
    azure = bitwarden_client.post(
        "/Users", json={"userName": "Entra@C.example", "active": True}, headers={"Adscimversion": "2.0"}
    )
    assert (azure.status_code, azure.json()["userName"]) == (201, "entra@c.example")


def test_s3_external_id_defaults(bitwarden_client: httpx.Client) -> None:
    """§3 ExternalIdForInvite: externalId, else userName (as sent), else 15 random characters."""
    from_username = bitwarden_client.post("/Users", json=user_body("u1@c.example", userName="U1@C.example"))
    assert from_username.json()["externalId"] == "U1@C.example"
    generated = bitwarden_client.post("/Users", json=user_body("u2@c.example", externalId="  "))
    assert re.fullmatch(r"[A-Za-z0-9]{15}", generated.json()["externalId"])


def test_s3_ignores_display_name_and_roles(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3: displayName, name, groups and roles are ignored; the member is Type User, Invited,
    and an invitation is sent."""
    body = user_body(
        "ivy@c.example",
        "ivy",
        displayName="Ivy",
        name={"formatted": "Ivy I"},
        groups=["Admins"],
        roles=[{"value": "owner"}],
    )
    created = bitwarden_client.post("/Users", json=body).json()
    assert (created["displayName"], created["name"]["formatted"], created["groups"]) == (None, None, [])
    member = bitwarden_server.member(created["id"])
    assert (member["type"], member["status"], member["groups"]) == ("User", "Invited", [])
    assert bitwarden_server.counters["invitations_sent"] == 1


def test_s3_groups_as_scim_objects_fail_binding(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3 + §0 (source: BaseScimUserModel.Groups is List<string>): SCIM-style group objects, a
    string "primary" or a null "active" fail the whole bind -> 500."""
    for extra in ({"groups": [{"value": "g"}]}, {"active": None}, {"name": "Ivy"}):
        assert bitwarden_client.post("/Users", json=user_body("bind@c.example", "bind", **extra)).status_code == 500
    bad_primary = {"emails": [{"value": "bind@c.example", "primary": "true"}], "active": True}
    assert bitwarden_client.post("/Users", json=bad_primary).status_code == 500
    assert bitwarden_server.members() == []


def test_s3_duplicates_conflict_including_revoked(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§3: same e-mail (case-insensitive) or same externalId -> 409 "Conflict.", revoked members
    included; the legacy path compares externalId exactly."""
    user_id = create_user(bitwarden_client, "dup@c.example", "dup-1")
    patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})
    for body in (user_body("DUP@c.example", "dup-2"), user_body("other@c.example", "dup-1")):
        response = bitwarden_client.post("/Users", json=body)
        assert (response.status_code, response.json()["detail"]) == (409, "Conflict.")
    assert bitwarden_client.post("/Users", json=user_body("other@c.example", "DUP-1")).status_code == 201
    assert len(bitwarden_server.members()) == 2


def test_s3_fail_fast_invite_flag(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3 (flag pm-16811): 409 "User already exists." on a case-insensitive externalId match;
    invalid e-mails are refused with 400."""
    bitwarden_server.set(invite_fail_fast=True)
    create_user(bitwarden_client, "ff@c.example", "Ext-FF")
    response = bitwarden_client.post("/Users", json=user_body("ff2@c.example", "ext-ff"))
    assert (response.status_code, response.json()["detail"]) == (409, "User already exists.")
    invalid = bitwarden_client.post("/Users", json=user_body("not an email@c", "bad"))
    assert (invalid.status_code, invalid.json()["detail"]) == (400, "not an email@c The email address is not valid.")


def test_s3_staged_when_invites_after_provisioning_are_off(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§3: invite-after-provisioning off + pm-34423 flag (>= v2026.7.0) -> Staged: no e-mail, no seat."""
    bitwarden_server.set(invite_users_after_provisioning=False, staged_status_flag=True, seat_limit=0)
    staged_id = create_user(bitwarden_client, "st@c.example", "st")
    member = bitwarden_server.member(staged_id)
    assert (member["status"], member["occupies_seat"]) == ("Staged", False)
    assert bitwarden_client.get(f"/Users/{staged_id}").json()["active"] is True
    assert bitwarden_server.counters["invitations_sent"] == 0
    bitwarden_server.set(version="2026.6.1", seat_limit=None)
    assert status_of(bitwarden_server, create_user(bitwarden_client, "st2@c.example", "st2")) == "Invited"


def test_s3_seat_limit_and_auto_scale(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3 Seats: Invited/Accepted/Confirmed occupy seats, Revoked/Staged do not; a full org
    without auto-scale -> 400 "Seat limit has been reached."; with auto-scale the org is billed."""
    bitwarden_server.set(seat_limit=2)
    first = create_user(bitwarden_client, "s1@c.example", "s1")
    bitwarden_server.seed_member("staged@c.example", status="Staged")
    create_user(bitwarden_client, "s2@c.example", "s2")
    full = bitwarden_client.post("/Users", json=user_body("s3@c.example", "s3"))
    assert (full.status_code, full.json()["detail"]) == (400, "Seat limit has been reached.")
    patch(bitwarden_client, f"/Users/{first}", {"op": "replace", "path": "active", "value": False})
    assert bitwarden_client.post("/Users", json=user_body("s3@c.example", "s3")).status_code == 201
    bitwarden_server.set(max_autoscale_seats=None)
    assert bitwarden_client.post("/Users", json=user_body("s4@c.example", "s4")).status_code == 201
    assert (bitwarden_server.settings["seats"], bitwarden_server.counters["seats_added"]) == (3, 1)


def test_s3_invite_needs_a_confirmed_owner(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§3 (source: OrganizationService.InviteUsersAsync): an org with no confirmed owner (and no
    provider) cannot invite a User."""
    bitwarden_server.set(provider_owner=False)
    response = bitwarden_client.post("/Users", json=user_body("lonely@c.example", "lonely"))
    assert (response.status_code, response.json()["detail"]) == (400, MUST_HAVE_OWNER)
    lone_owner(bitwarden_server)
    assert bitwarden_client.post("/Users", json=user_body("lonely@c.example", "lonely")).status_code == 201


# ---- §4 PUT / PATCH /Users, revoke and restore ----------------------------------------------------


def test_s4_put_uses_only_active(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4 PUT: userName, emails, displayName and externalId are ignored; 200 with the re-read user."""
    user_id = create_user(bitwarden_client, "put@c.example", "put")
    response = bitwarden_client.put(
        f"/Users/{user_id}", json=user_body("changed@c.example", "changed", displayName="X")
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["userName"], body["externalId"], body["displayName"], body["active"]) == (
        "put@c.example",
        "put",
        None,
        True,
    )
    assert bitwarden_server.writes()[-1]["method"] == "POST"  # the PUT wrote nothing


def test_s4_put_without_active_revokes(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4 PUT: a body without "active" revokes the user (bool defaults to false)."""
    user_id = create_user(bitwarden_client, "noactive@c.example", "noactive")
    response = bitwarden_client.put(f"/Users/{user_id}", json={"userName": "noactive@c.example"})
    assert (response.status_code, response.json()["active"]) == (200, False)
    assert status_of(bitwarden_server, user_id) == "Revoked"


def test_s4_put_active_must_be_a_json_boolean(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4 PUT: "active": "false" fails JSON binding -> 500, nothing changes; an unknown id is a
    404 returned by the action itself (application/scim+json)."""
    user_id = create_user(bitwarden_client, "str@c.example", "str")
    assert bitwarden_client.put(f"/Users/{user_id}", json={"active": "false"}).status_code == 500
    assert status_of(bitwarden_server, user_id) == "Invited"
    missing = bitwarden_client.put("/Users/6f9619ff-8b86-d011-b42d-00c04fc964ff", json={"active": True})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/scim+json; charset=utf-8"
    assert missing.json() == {"detail": "User not found.", "status": 404, "schemas": [ERROR_SCHEMA]}


def test_s4_last_confirmed_owner_guards_put_v2_and_patch_v1(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§4 + §11: PUT (revoke v2) refuses only to revoke the last confirmed owner, with
    "<message> for user <id>"; PATCH (revoke v1) refuses to revoke anyone when no *other*
    confirmed owner exists."""
    owner_id = lone_owner(bitwarden_server)
    response = bitwarden_client.put(f"/Users/{owner_id}", json={"active": False})
    assert (response.status_code, response.json()["detail"]) == (400, f"{MUST_HAVE_OWNER} for user {owner_id}")
    assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
    patched = patch(bitwarden_client, f"/Users/{owner_id}", {"op": "replace", "path": "active", "value": False})
    assert (patched.status_code, patched.json()["detail"]) == (400, MUST_HAVE_OWNER)
    assert status_of(bitwarden_server, owner_id) == "Confirmed"

    user_id = create_user(bitwarden_client, "worker@c.example", "worker")
    assert (
        patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False}).status_code
        == 204
    )
    bitwarden_client.put(f"/Users/{user_id}", json={"active": True})
    bitwarden_server.update_member(owner_id, type="Admin")  # now no confirmed owner at all
    assert (
        patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False}).status_code
        == 400
    )
    assert bitwarden_client.put(f"/Users/{user_id}", json={"active": False}).status_code == 200
    assert status_of(bitwarden_server, user_id) == "Revoked"


@pytest.mark.parametrize(
    ("value", "active"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("False", False),
        ("TRUE", True),
        ("yes", False),
        (1, False),
        (None, False),
        ("<absent>", False),
    ],
)
def test_s4_patch_active_value_to_string(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client, value: Any, active: bool
) -> None:
    """§4 + §11 PATCH path "active": value.ToString().ToLower() == "true"; any other value, or no
    value, revokes."""
    user_id = create_user(bitwarden_client, "pa@c.example", "pa")
    if active:
        bitwarden_client.put(f"/Users/{user_id}", json={"active": False})
    operation: dict[str, Any] = {"op": "Replace", "path": "Active"}
    if value != "<absent>":
        operation["value"] = value
    assert patch(bitwarden_client, f"/Users/{user_id}", operation).status_code == 204
    assert bitwarden_client.get(f"/Users/{user_id}").json()["active"] is active


def test_s4_patch_without_path_uses_a_value_object(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§4 PATCH without path: {"active": bool} (case-sensitive key; a string -> 500) and/or
    {"externalId": ...}; a non-object value -> 500."""
    user_id = create_user(bitwarden_client, "vo@c.example", "vo")
    ok = patch(
        bitwarden_client, f"/Users/{user_id}", {"op": "replace", "value": {"active": False, "externalId": "vo-2"}}
    )
    assert ok.status_code == 204
    body = bitwarden_client.get(f"/Users/{user_id}").json()
    assert (body["active"], body["externalId"]) == (False, "vo-2")
    assert patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "value": {"Active": True}}).status_code == 204
    assert status_of(bitwarden_server, user_id) == "Revoked"
    assert (
        patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "value": {"active": "true"}}).status_code == 500
    )
    assert patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "value": "true"}).status_code == 500
    assert status_of(bitwarden_server, user_id) == "Revoked"


def test_s4_patch_external_id(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4 + §11 PATCH path externalId (>= v2026.3.0): >300 -> 400, taken (case-insensitive) ->
    409, "" stays "", null clears; older servers ignore it silently."""
    user_id = create_user(bitwarden_client, "xid@c.example", "xid")
    create_user(bitwarden_client, "taken@c.example", "Taken")

    def set_external_id(value: Any) -> httpx.Response:
        return patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "externalId", "value": value})

    too_long = set_external_id("x" * 301)
    assert (too_long.status_code, too_long.json()["detail"]) == (400, "ExternalId cannot exceed 300 characters.")
    taken = set_external_id("TAKEN")
    assert (taken.status_code, taken.json()["detail"]) == (409, "ExternalId already exists for another user.")
    assert set_external_id("").status_code == 204
    assert bitwarden_server.member(user_id)["external_id"] == ""
    assert set_external_id(None).status_code == 204
    assert bitwarden_server.member(user_id)["external_id"] is None
    assert set_external_id(42).status_code == 500
    bitwarden_server.set(version="2026.2.1")
    assert set_external_id("new").status_code == 204
    assert bitwarden_server.member(user_id)["external_id"] is None


def test_s4_patch_ignores_other_ops_and_paths(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4 PATCH: add/remove ops and other paths are ignored with 204 and no write; Operations
    null -> 500; an unknown user -> 404."""
    user_id = create_user(bitwarden_client, "ign@c.example", "ign")
    bitwarden_server.clear_log()
    ignored: list[dict[str, Any]] = [
        {"op": "add", "path": "active", "value": False},
        {"op": "remove", "path": "active"},
        {"op": "replace", "path": "displayName", "value": "New"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@c.example"},
        {"op": "replace", "path": "userName", "value": "new@c.example"},
    ]
    assert patch(bitwarden_client, f"/Users/{user_id}", *ignored).status_code == 204
    assert [e["write"] for e in bitwarden_server.log()] == [False]
    assert bitwarden_client.patch(f"/Users/{user_id}", json={"Operations": None}).status_code == 500
    assert bitwarden_client.patch(f"/Users/{user_id}", json={"schemas": [PATCH_SCHEMA]}).status_code == 500
    assert patch(bitwarden_client, "/Users/00000000-0000-0000-0000-000000000001").status_code == 404
    assert status_of(bitwarden_server, user_id) == "Invited"


def test_s4_revoke_keeps_everything_and_restore_returns_prior_status(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§4 revoke snapshots the status and keeps id, externalId and group links; restore returns
    Confirmed as Confirmed and Invited as Invited, without a new invitation."""
    confirmed = create_user(bitwarden_client, "conf@c.example", "conf")
    bitwarden_server.accept(confirmed, name="Con F")
    bitwarden_server.confirm(confirmed)
    invited = create_user(bitwarden_client, "inv@c.example", "inv")
    group_id = create_group(bitwarden_client, "Keep", "keep", [confirmed, invited])
    invitations = bitwarden_server.counters["invitations_sent"]
    for user_id, prior in ((confirmed, "Confirmed"), (invited, "Invited")):
        patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})
        member = bitwarden_server.member(user_id)
        assert (member["status"], member["prior_status"], member["groups"]) == ("Revoked", prior, [group_id])
        restored = bitwarden_client.put(f"/Users/{user_id}", json={"active": True}).json()
        assert (restored["id"], restored["active"]) == (user_id, True)
        assert status_of(bitwarden_server, user_id) == prior
    assert bitwarden_server.group_members(group_id) == {confirmed, invited}
    assert bitwarden_server.counters["invitations_sent"] == invitations


def test_s4_revoking_a_revoked_user_is_a_no_op(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§4: revoking an already revoked user (PUT or PATCH) and restoring an active one do nothing."""
    user_id = create_user(bitwarden_client, "noop@c.example", "noop")
    bitwarden_client.put(f"/Users/{user_id}", json={"active": False})
    bitwarden_server.clear_log()
    bitwarden_client.put(f"/Users/{user_id}", json={"active": False})
    patch(bitwarden_client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})
    bitwarden_client.put(f"/Users/{user_id}", json={"active": True})
    bitwarden_client.put(f"/Users/{user_id}", json={"active": True})
    assert [e["write"] for e in bitwarden_server.log()] == [False, False, True, False]


def test_s4_restore_can_fail_on_seats_and_policies(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§4 restore: 400 "Seat limit has been reached." when full; policy failures apply to
    Accepted/Confirmed members only."""
    bitwarden_server.set(seat_limit=1)
    first = create_user(bitwarden_client, "r1@c.example", "r1")
    bitwarden_client.put(f"/Users/{first}", json={"active": False})
    create_user(bitwarden_client, "r2@c.example", "r2")
    full = bitwarden_client.put(f"/Users/{first}", json={"active": True})
    assert (full.status_code, full.json()["detail"]) == (400, "Seat limit has been reached.")
    assert full.headers["content-type"] == "application/json; charset=utf-8"
    assert status_of(bitwarden_server, first) == "Revoked"

    bitwarden_server.set(seat_limit=None)
    message = "pat@c.example is not compliant with the two-step login policy."
    blocked = bitwarden_server.seed_member(
        "pat@c.example", status="Revoked", prior_status="Confirmed", restore_block=message
    )
    refused = patch(bitwarden_client, f"/Users/{blocked['id']}", {"op": "replace", "path": "active", "value": True})
    assert (refused.status_code, refused.json()["detail"]) == (400, message)
    invited = bitwarden_server.seed_member(
        "new@c.example", status="Revoked", prior_status="Invited", restore_block=message
    )
    assert bitwarden_client.put(f"/Users/{invited['id']}", json={"active": True}).status_code == 200


def test_s8_prior_status_snapshot_only_from_2026_6_1(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§4/§8: before v2026.6.1 no StatusNew snapshot is taken; restore infers the status from the
    account link (a Staged member comes back Invited)."""
    bitwarden_server.set(version="2026.7.0", invite_users_after_provisioning=False, staged_status_flag=True)
    staged = create_user(bitwarden_client, "snap@c.example", "snap")
    bitwarden_server.set(version="2026.6.0")
    bitwarden_client.put(f"/Users/{staged}", json={"active": False})
    assert bitwarden_server.member(staged)["status_before_revoke"] is None
    bitwarden_client.put(f"/Users/{staged}", json={"active": True})
    assert status_of(bitwarden_server, staged) == "Invited"


# ---- §5 DELETE /Users ---------------------------------------------------------------------------


def test_s5_delete_removes_membership_and_group_links(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§5: DELETE removes the membership and its group links; again -> 404; a new POST makes a
    new id with empty groups."""
    user_id = create_user(bitwarden_client, "del@c.example", "del")
    group_id = create_group(bitwarden_client, "D", "d", [user_id])
    assert bitwarden_client.delete(f"/Users/{user_id}").status_code == 204
    assert bitwarden_server.group_members(group_id) == set()
    again = bitwarden_client.delete(f"/Users/{user_id}")
    assert (again.status_code, again.json()["detail"]) == (404, "User not found.")
    new_id = create_user(bitwarden_client, "del@c.example", "del")
    assert new_id != user_id
    assert bitwarden_server.member(new_id)["groups"] == []


def test_s5_delete_last_confirmed_owner_is_refused(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§5: owners can be removed unless they are the last confirmed owner (400)."""
    owner_id = lone_owner(bitwarden_server)
    refused = bitwarden_client.delete(f"/Users/{owner_id}")
    assert (refused.status_code, refused.json()["detail"]) == (400, MUST_HAVE_OWNER)
    second = bitwarden_server.seed_member("owner2@c.example", type="Owner")["id"]
    assert bitwarden_client.delete(f"/Users/{owner_id}").status_code == 204
    assert bitwarden_client.delete(f"/Users/{second}").status_code == 400


# ---- §6 groups ----------------------------------------------------------------------------------


def test_s6_post_group_rules(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6 POST /Groups: blank displayName 400, exact externalId duplicate 409, random 15-char
    externalId when omitted, duplicate names allowed."""
    assert bitwarden_client.post("/Groups", json={"displayName": " ", "externalId": "b"}).status_code == 400
    create_group(bitwarden_client, "Same", "ext")
    conflict = bitwarden_client.post("/Groups", json={"displayName": "Other", "externalId": "ext"})
    assert (conflict.status_code, conflict.json()["detail"]) == (409, "Conflict.")
    assert bitwarden_client.post("/Groups", json={"displayName": "Other", "externalId": "EXT"}).status_code == 201
    generated = bitwarden_client.post("/Groups", json={"displayName": "Same"}).json()
    assert re.fullmatch(r"[A-Za-z0-9]{15}", generated["externalId"])
    assert [g["name"] for g in bitwarden_server.groups()].count("Same") == 2
    assert bitwarden_client.post("/Groups", json={"displayName": "N" * 101, "externalId": "long"}).status_code == 500


def test_s6_post_group_members(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client, bitwarden_server_session: Any
) -> None:
    """§6 + §11: POST members are applied; non-GUIDs and ids outside the org are dropped; a
    repeated id violates the GroupUser primary key -> 500 after the group was created."""
    user_id = create_user(bitwarden_client, "gm@c.example", "gm")
    other = bitwarden_server_session.create_org()
    try:
        foreign = other.seed_member("far@c.example")["id"]
    finally:
        bitwarden_server_session.delete_org(other.org_id)
    group_id = create_group(
        bitwarden_client, "Mixed", "mixed", [user_id, "not-a-guid", foreign, "6f9619ff-8b86-d011-b42d-00c04fc964ff"]
    )
    assert bitwarden_server.group_members(group_id) == {user_id}
    duplicate = bitwarden_client.post(
        "/Groups",
        json={"displayName": "Dup", "externalId": "dup", "members": [{"value": user_id}, {"value": user_id.upper()}]},
    )
    assert duplicate.status_code == 500
    assert "PK_GroupUser" in duplicate.json()["detail"]
    assert [g["name"] for g in bitwarden_server.groups()] == ["Mixed", "Dup"]


def test_s6_put_group(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6 PUT /Groups: name always set, externalId ignored, members present -> full replace,
    absent or null -> untouched, [] -> empty; displayName missing -> 500."""
    a, b = create_user(bitwarden_client, "a@c.example", "a"), create_user(bitwarden_client, "b@c.example", "b")
    group_id = create_group(bitwarden_client, "Before", "keep-ext", [a])
    body = bitwarden_client.put(
        f"/Groups/{group_id}", json={"displayName": "After", "externalId": "new", "members": [{"value": b}]}
    ).json()
    assert (body["displayName"], body["externalId"]) == ("After", "keep-ext")
    assert bitwarden_server.group_members(group_id) == {b}
    for untouched in ({"displayName": "After"}, {"displayName": "After", "members": None}):
        bitwarden_client.put(f"/Groups/{group_id}", json=untouched)
        assert bitwarden_server.group_members(group_id) == {b}
    bitwarden_client.put(f"/Groups/{group_id}", json={"displayName": "After", "members": []})
    assert bitwarden_server.group_members(group_id) == set()
    missing = bitwarden_client.put(f"/Groups/{group_id}", json={"members": [{"value": a}]})
    assert missing.status_code == 500
    assert bitwarden_server.group(group_id)["name"] == "After"
    assert (
        bitwarden_client.put("/Groups/6f9619ff-8b86-d011-b42d-00c04fc964ff", json={"displayName": "x"}).status_code
        == 404
    )


def test_s6_patch_group_operations(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6 PATCH table: replace members/displayName, value object (displayName wins over
    externalId), add list, add/remove members[value eq "<id>"], remove list."""
    a, b, c = (create_user(bitwarden_client, f"{n}@c.example", n) for n in "abc")
    group_id = create_group(bitwarden_client, "P", "p")
    path = f"/Groups/{group_id}"
    assert (
        patch(
            bitwarden_client, path, {"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]}
        ).status_code
        == 204
    )
    assert bitwarden_server.group_members(group_id) == {a, b}
    patch(bitwarden_client, path, {"op": "Replace", "path": "DisplayName", "value": "P2"})
    patch(bitwarden_client, path, {"op": "replace", "value": {"displayName": "P3", "externalId": "ignored"}})
    assert (bitwarden_server.group(group_id)["name"], bitwarden_server.group(group_id)["external_id"]) == ("P3", "p")
    patch(bitwarden_client, path, {"op": "remove", "path": f'members[value eq "{a}"]'})
    patch(bitwarden_client, path, {"op": "add", "path": f'MEMBERS[VALUE EQ "{c}"]'})
    assert bitwarden_server.group_members(group_id) == {b, c}
    patch(
        bitwarden_client,
        path,
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "remove", "path": "members", "value": [{"value": b}, {"value": c}]},
    )
    assert bitwarden_server.group_members(group_id) == {a}


def test_s6_patch_member_path_needs_exact_spacing(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§6: members[value eq "<GUID>"] is parsed as Guid.TryParse(path.Substring(18).Replace("\"]", ""));
    other spellings are silently ignored (204); a path of 17 characters breaks Substring -> 500."""
    user_id = create_user(bitwarden_client, "sp@c.example", "sp")
    group_id = create_group(bitwarden_client, "S", "s")
    path = f"/Groups/{group_id}"
    for spelling in (
        f'members[value  eq "{user_id}"]',
        f"members[value eq {user_id}]",
        f"members[value eq '{user_id}']",
        f'members[ value eq "{user_id}"]',
        f'members[value eq "{user_id}" ]',
        f'members[value eq "{user_id}"',
    ):
        assert patch(bitwarden_client, path, {"op": "add", "path": spelling}).status_code == 204, spelling
    assert bitwarden_server.group_members(group_id) == set()
    assert bitwarden_server.counters["membership_writes"] == 0
    # what Substring(18) + Guid.TryParse do accept: no hyphens, braces, trailing blanks
    for spelling in (f'members[value eq "{user_id.replace("-", "")}"]', f'members[value eq "{{{user_id}}}"] '):
        assert patch(bitwarden_client, path, {"op": "add", "path": spelling}).status_code == 204
        assert bitwarden_server.group_members(group_id) == {user_id}, spelling
        patch(bitwarden_client, path, {"op": "replace", "path": "members", "value": []})
    assert patch(bitwarden_client, path, {"op": "add", "path": "members[value eq "}).status_code == 500


def test_s6_patch_remove_edge_cases(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6: remove one member not in the org -> 404; not in the group -> idempotent 204; remove
    members without value -> 500; unknown ops or paths -> 204."""
    user_id = create_user(bitwarden_client, "rm@c.example", "rm")
    group_id = create_group(bitwarden_client, "R", "r")
    path = f"/Groups/{group_id}"
    absent = patch(
        bitwarden_client, path, {"op": "remove", "path": 'members[value eq "6f9619ff-8b86-d011-b42d-00c04fc964ff"]'}
    )
    assert absent.status_code == 404
    assert patch(bitwarden_client, path, {"op": "remove", "path": f'members[value eq "{user_id}"]'}).status_code == 204
    assert patch(bitwarden_client, path, {"op": "remove", "path": "members"}).status_code == 500
    for operation in (
        {"op": "move", "path": "members", "value": []},
        {"op": "replace", "path": "description", "value": "x"},
        {"op": "remove", "path": "displayName"},
    ):
        assert patch(bitwarden_client, path, operation).status_code == 204
    assert patch(bitwarden_client, "/Groups/6f9619ff-8b86-d011-b42d-00c04fc964ff").status_code == 404


def test_s6_group_external_id_patch_from_2026_5_0(
    bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client
) -> None:
    """§6/§8 PATCH group externalId (>= v2026.5.0): replace/add by path or value object; blank ->
    null; taken (case-insensitive) -> 409; older servers ignore it."""
    create_group(bitwarden_client, "Taken", "Taken-Ext")
    group_id = create_group(bitwarden_client, "E", "e")
    path = f"/Groups/{group_id}"
    patch(bitwarden_client, path, {"op": "replace", "path": "externalId", "value": "e2"})
    patch(bitwarden_client, path, {"op": "add", "value": {"externalId": "e3"}})
    assert bitwarden_server.group(group_id)["external_id"] == "e3"
    conflict = patch(bitwarden_client, path, {"op": "replace", "path": "externalId", "value": "taken-ext"})
    assert (conflict.status_code, conflict.json()["detail"]) == (409, "ExternalId already exists for another group.")
    patch(bitwarden_client, path, {"op": "replace", "value": {"externalId": "  "}})
    assert bitwarden_server.group(group_id)["external_id"] is None
    bitwarden_server.set(version="2026.4.2")
    assert patch(bitwarden_client, path, {"op": "replace", "path": "externalId", "value": "e4"}).status_code == 204
    assert bitwarden_server.group(group_id)["external_id"] is None


def test_s6_org_that_cannot_use_groups(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6: without UseGroups, POST, PUT and renames answer 400 "This organization cannot use groups."."""
    group_id = create_group(bitwarden_client, "Early", "early")
    bitwarden_server.set(use_groups=False)
    responses = [
        bitwarden_client.post("/Groups", json={"displayName": "Late", "externalId": "late"}),
        bitwarden_client.put(f"/Groups/{group_id}", json={"displayName": "Renamed"}),
        patch(bitwarden_client, f"/Groups/{group_id}", {"op": "replace", "path": "displayName", "value": "Renamed"}),
    ]
    for response in responses:
        assert (response.status_code, response.json()["detail"]) == (400, "This organization cannot use groups.")
    assert [g["name"] for g in bitwarden_server.groups()] == ["Early"]


def test_s6_membership_write_counter(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """§6 side effect: every UpdateUsers/AddGroupUsers call bumps all users' revision dates, even
    when nothing changes; an add of existing members is skipped; renames and DELETE are not
    membership writes (DELETE is counted apart)."""
    a = create_user(bitwarden_client, "w@c.example", "w")
    group_id = create_group(bitwarden_client, "W", "w", [a])
    path = f"/Groups/{group_id}"

    def writes() -> int:
        return bitwarden_server.counters["membership_writes"]

    assert writes() == 1
    bitwarden_client.put(path, json={"displayName": "W", "members": [{"value": a}]})
    assert writes() == 2
    patch(bitwarden_client, path, {"op": "add", "path": "members", "value": [{"value": a}]})
    patch(bitwarden_client, path, {"op": "add", "path": f'members[value eq "{a}"]'})
    bitwarden_client.put(path, json={"displayName": "W2"})
    assert writes() == 2
    patch(bitwarden_client, path, {"op": "replace", "path": "members", "value": [{"value": a}]})
    assert writes() == 3
    assert bitwarden_client.delete(path).status_code == 204
    assert bitwarden_client.delete(path).status_code == 404
    assert bitwarden_server.counters["group_deletes"] == 1


def test_s6_group_meta_dates(bitwarden_client: httpx.Client) -> None:
    """§2 (inferred): group meta dates are set; values read back from the database carry no "Z",
    the in-memory ones of POST/PUT do; lastModified moves on writes."""
    created = bitwarden_client.post("/Groups", json={"displayName": "T", "externalId": "t"}).json()
    assert created["meta"]["created"].endswith("Z")
    read = bitwarden_client.get(f"/Groups/{created['id']}").json()["meta"]
    assert not read["created"].endswith("Z") and read["created"] == created["meta"]["created"][:-1]
    put = bitwarden_client.put(f"/Groups/{created['id']}", json={"displayName": "T2"}).json()["meta"]
    assert not put["created"].endswith("Z") and put["lastModified"].endswith("Z")
    assert put["lastModified"][:-1] > read["lastModified"]


# ---- test hooks: inspection, seeding, log, faults, subprocess -------------------------------------


def test_hooks_http_test_api(bitwarden_server: BitwardenOrg) -> None:
    """Stand-in test API (no spec section; §2/§3 lifecycle): over HTTP under /_test, seed, accept,
    confirm, switches, state."""
    admin = bitwarden_server.admin_url
    member = httpx.post(f"{admin}/members", json={"email": "hook@c.example", "status": "Invited"}).json()
    assert member["status"] == "Invited" and member["external_id"] is None
    httpx.post(f"{admin}/members/{member['id']}/accept", json={"email": "me@home.example", "name": "Me"})
    confirmed = httpx.post(f"{admin}/members/{member['id']}/confirm").json()
    assert (confirmed["status"], confirmed["scim_email"], confirmed["name"]) == ("Confirmed", "me@home.example", "Me")
    assert httpx.post(f"{admin}/members/{member['id']}/confirm").status_code == 409
    assert httpx.patch(f"{admin}/settings", json={"version": "2026.3.0", "seat_limit": 5}).json()["seats"] == 5
    assert httpx.patch(f"{admin}/settings", json={"colour": "blue"}).status_code == 400
    state = httpx.get(admin).json()
    assert state["settings"]["version"] == "2026.3.0" and state["seats"]["occupied"] == 1
    assert httpx.get(f"{admin}/members/6f9619ff-8b86-d011-b42d-00c04fc964ff").status_code == 404
    created = httpx.post(
        f"{bitwarden_server.server.root_url}/_test/orgs", json={"settings": {"use_groups": False}}
    ).json()
    assert httpx.get(created["base_url"] + "/Groups", headers={"Authorization": created["token"]}).status_code == 200
    assert httpx.delete(f"{bitwarden_server.server.root_url}/_test/orgs/{created['org_id']}").status_code == 200


def test_hooks_request_log(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """Stand-in request log (for §6/§10 "write only on a real diff"): method, path, query, status,
    sizes and whether the call wrote; clearable; never the token."""
    bitwarden_client.get("/Users", params={"startIndex": 1, "count": 5})
    user_id = create_user(bitwarden_client, "log@c.example", "log")
    httpx.get(bitwarden_server.base_url + "/Users")
    log = bitwarden_server.log()
    assert [(e["method"], e["status"], e["write"]) for e in log] == [
        ("GET", 200, False),
        ("POST", 201, True),
        ("GET", 401, False),
    ]
    assert log[0]["query"] == "startIndex=1&count=5" and log[0]["response_bytes"] > 0
    assert log[1]["request_bytes"] > 0 and log[1]["path"].endswith("/Users")
    assert bitwarden_server.token not in repr(log)
    bitwarden_server.clear_log()
    bitwarden_client.get(f"/Users/{user_id}")
    assert len(bitwarden_server.log()) == 1


def test_faults_status_with_retry_after(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """Faults (§9 "still back off on 429/503"): the next N matching requests get a status
    (429 + Retry-After) and do nothing."""
    bitwarden_server.inject_fault("status", status=429, retry_after=2, times=2, method="POST", path="^/users$")
    for _ in range(2):
        response = bitwarden_client.post("/Users", json=user_body("f@c.example", "f"))
        assert (response.status_code, response.headers["retry-after"]) == (429, "2")
    assert bitwarden_client.get("/Users").status_code == 200  # GET does not match
    assert bitwarden_client.post("/Users", json=user_body("f@c.example", "f")).status_code == 201
    assert [e["fault"] for e in bitwarden_server.log()] == ["status", "status", None, None]
    assert bitwarden_server.faults()[0]["active"] is False


def test_faults_skip_and_unlimited_503(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """Faults (§9): skip lets the first matching requests through; times=None lasts until cleared."""
    bitwarden_server.inject_fault(status=503, times=None, skip=1, path="/groups", body='{"error":"busy"}')
    assert bitwarden_client.get("/Groups").status_code == 200
    for _ in range(3):
        busy = bitwarden_client.get("/Groups")
        assert (busy.status_code, busy.json()) == (503, {"error": "busy"})
    bitwarden_server.clear_faults()
    assert bitwarden_client.get("/Groups").status_code == 200


def test_faults_drop_connection(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """Faults (§10.9 "treat results as maybe applied"): "drop" closes the connection without an
    answer and without doing the work."""
    bitwarden_server.inject_fault("drop", method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        bitwarden_client.post("/Users", json=user_body("drop@c.example", "drop"))
    assert bitwarden_server.members() == []
    assert bitwarden_client.post("/Users", json=user_body("drop@c.example", "drop")).status_code == 201


def test_faults_write_then_drop_response(bitwarden_server: BitwardenOrg, bitwarden_client: httpx.Client) -> None:
    """Faults (§3 duplicates -> 409, §10.4 adopt): "drop_after_write" performs the write, then drops
    the response; the retry then
    meets the consequences (409 on a re-POST)."""
    bitwarden_server.inject_fault("drop_after_write", method="POST", path="^/users")
    with pytest.raises(httpx.RemoteProtocolError):
        bitwarden_client.post("/Users", json=user_body("lost@c.example", "lost"))
    assert bitwarden_server.member_by_email("lost@c.example") is not None
    assert bitwarden_client.post("/Users", json=user_body("lost@c.example", "lost")).status_code == 409
    entry = bitwarden_server.log()[0]
    assert (entry["fault"], entry["status"], entry["write"]) == ("drop_after_write", 201, True)


def test_concurrent_requests_are_serialised(bitwarden_server: BitwardenOrg) -> None:
    """Thread safety (§3 "serialise creates"): concurrent creates of distinct users all succeed,
    same-person creates give exactly one 201. Real Bitwarden's check-then-insert is not atomic and
    can create duplicates here; the stand-in serialises every request."""
    statuses: list[int] = []

    def worker(index: int) -> None:
        with bitwarden_server.client() as client:
            statuses.append(client.post("/Users", json=user_body(f"t{index}@c.example", f"t{index}")).status_code)
            statuses.append(client.post("/Users", json=user_body("same@c.example", "same")).status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(201) == 13 and statuses.count(409) == 11
    assert len(bitwarden_server.members()) == 13


def test_subprocess_command_line() -> None:
    """Stand-in CLI (§0 base URL shape): `python -m tests.servers.bitwarden --port 0 --org ORG --token
    TOKEN` prints one line with the base URL (never the token) and serves SCIM."""
    org_id, token = "0c2d6f4e-58a9-4b5e-9d7c-3f1a2b3c4d5e", "cli-secret-token-123"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.bitwarden", "--port", "0", "--org", org_id, "--token", token],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(rf"Serving Bitwarden SCIM on (http://127\.0\.0\.1:\d+/v2/{org_id})", line)
        assert match, line
        response = httpx.post(
            match.group(1) + "/Users",
            json=user_body("cli@c.example", "cli"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201
    finally:
        process.terminate()
        out, err = process.communicate(timeout=5)
    assert token not in line + out + err

"""The django-scim2 quirks the generic profile relies on coping with (scim-servers.md §6)."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.scim import ScimClient

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def http(t: Any) -> httpx.Client:
    return httpx.Client(base_url=t.base_url, headers={"Authorization": f"Bearer {t.token}"}, timeout=30)


def make_user(c: httpx.Client, name: str) -> str:
    r = c.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                               "externalId": "x-" + name, "active": True})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_auth_is_required(django_tenant: Any) -> None:
    assert httpx.get(django_tenant.base_url + "/Users").status_code == 401


def test_group_create_drops_members(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "ann@example.com")
        r = c.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                    "displayName": "G", "members": [{"value": uid}]})
        assert r.status_code == 201 and r.json().get("members", []) == []


def test_patch_answers_200_with_a_body_and_remove_by_path_is_501(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "ben@example.com")
        gid = c.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                      "displayName": "H"}).json()["id"]
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]}]})
        assert r.status_code == 200 and [m["value"] for m in r.json()["members"]] == [uid]
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": f'members[value eq "{uid}"]'}]})
        assert r.status_code == 501
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": "members", "value": [{"value": uid}]}]})
        assert r.status_code == 200 and r.json().get("members", []) == []


def test_the_client_falls_back_to_the_value_list_remove(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        a, b = make_user(c, "cat@example.com"), make_user(c, "dan@example.com")
        gid = c.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                      "displayName": "K"}).json()["id"]
    with ScimClient(django_tenant.base_url, django_tenant.token) as client:
        client.update_group_members(gid, adds=[a, b])
        client.update_group_members(gid, removes=[a])  # 501 on the filter path, then the value list
        assert sorted(m.value for m in client.get_group(gid).members or []) == [b]
        client.update_group_members(gid, removes=[b])  # remembered: the value list at once
        assert not client.get_group(gid).members

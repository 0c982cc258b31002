"""The django-scim2 quirks the generic profile relies on coping with (scim-servers.md §6), and the
test server's own set-up (token, filter maps, reset). If django-scim2 changes one of these, the
lifecycle tests against it no longer test what they claim to."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.scim import ScimClient

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def http(t: Any) -> httpx.Client:
    return httpx.Client(base_url=t.base_url, headers={"Authorization": f"Bearer {t.token}"}, timeout=30)


def make_user(c: httpx.Client, user_name: str, **extra: Any) -> str:
    r = c.post("/Users", json={"schemas": [USER], "userName": user_name, "externalId": "x-" + user_name, "active": True,
                               **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_group(c: httpx.Client, name: str, **extra: Any) -> str:
    r = c.post("/Groups", json={"schemas": [GROUP], "displayName": name, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [str(r["id"]) for r in resp.json()["Resources"]]


def test_the_token_is_required_everywhere(django_tenant: Any) -> None:
    assert httpx.get(django_tenant.base_url + "/Users").status_code == 401
    bad = {"Authorization": "Bearer not-" + django_tenant.token}
    assert httpx.get(django_tenant.base_url + "/Users", headers=bad).status_code == 401
    assert httpx.post(django_tenant.server_url + "/_test/reset").status_code == 401
    assert django_tenant.token not in repr(django_tenant)


def test_reset_empties_the_server(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "ann@example.com")
        c.patch(f"/Groups/{make_group(c, 'G')}", json={"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]}]}).raise_for_status()
        django_tenant.reset()
        assert c.get("/Users").json()["totalResults"] == 0
        assert c.get("/Groups").json()["totalResults"] == 0
        assert int(make_user(c, "ann@example.com")) > int(uid)  # ids are never reused


def test_group_create_drops_members(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "ann@example.com")
        r = c.post("/Groups", json={"schemas": [GROUP], "displayName": "G", "members": [{"value": uid}]})
        assert r.status_code == 201 and r.json().get("members", []) == []


def test_patch_answers_200_with_a_body_and_remove_by_path_is_501(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "ben@example.com")
        gid = make_group(c, "H")
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]}]})
        assert r.status_code == 200 and [m["value"] for m in r.json()["members"]] == [uid]
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": f'members[value eq "{uid}"]'}]})
        assert r.status_code == 501
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "remove", "path": "members", "value": [{"value": uid}]}]})
        assert r.status_code == 200 and r.json().get("members", []) == []


def test_user_patch_answers_200_with_a_body(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        uid = make_user(c, "cy@example.com")
        r = c.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "externalId", "value": "x-new"}]})
        assert r.status_code == 200
        assert r.json()["active"] is False and r.json()["externalId"] == "x-new"


def test_display_names_are_derived_and_not_writable_by_patch(django_tenant: Any) -> None:
    """displayName comes from the name parts (else userName); a PATCH of it, or a group rename
    by PATCH, answers 501. A group is renamed by PUT, which keeps its members."""
    with http(django_tenant) as c:
        uid = make_user(c, "di@example.com", displayName="Whatever",
                        name={"givenName": "Di", "familyName": "Example"})
        assert c.get(f"/Users/{uid}").json()["displayName"] == "Di Example"
        r = c.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Diana"}]})
        assert r.status_code == 501
        gid = make_group(c, "Old", externalId="g-x")
        c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]}]}).raise_for_status()
        r = c.patch(f"/Groups/{gid}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "displayName", "value": "New"}]})
        assert r.status_code == 501
        r = c.put(f"/Groups/{gid}", json={"schemas": [GROUP], "displayName": "New", "externalId": "g-x"})
        assert r.status_code == 200 and r.json()["displayName"] == "New"
        assert [m["value"] for m in r.json()["members"]] == [uid]


def test_filters_the_client_uses(django_tenant: Any) -> None:
    """Our filter maps: externalId and id for users, displayName (also after a rename) and
    externalId for groups; userName is case-insensitive."""
    with http(django_tenant) as c:
        a, _ = make_user(c, "eve@example.com"), make_user(c, "fay@example.com")
        assert ids(c.get("/Users", params={"filter": 'externalId eq "x-eve@example.com"'})) == [a]
        assert ids(c.get("/Users", params={"filter": f'id eq "{a}"'})) == [a]
        assert ids(c.get("/Users", params={"filter": 'userName eq "EVE@example.com"'})) == [a]
        g = make_group(c, "Old", externalId="g-1")
        make_group(c, "Other", externalId="g-2")
        assert ids(c.get("/Groups", params={"filter": 'externalId eq "g-1"'})) == [g]
        c.put(f"/Groups/{g}", json={"schemas": [GROUP], "displayName": "Renamed", "externalId": "g-1"}
              ).raise_for_status()
        assert ids(c.get("/Groups", params={"filter": 'displayName eq "Renamed"'})) == [g]
        assert ids(c.get("/Groups", params={"filter": 'displayName eq "Old"'})) == []


def test_pages_hold_50_by_default_and_the_config_says_so(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        spc = c.get("/ServiceProviderConfig").json()
        assert spc["filter"]["maxResults"] == 50 and spc["etag"]["supported"] is False
        for i in range(53):
            make_user(c, f"p{i:02}@example.com")
        page = c.get("/Users").json()
        assert page["totalResults"] == 53 and len(page["Resources"]) == 50
        page = c.get("/Users", params={"startIndex": 51, "count": 50}).json()
        assert len(page["Resources"]) == 3


def test_the_client_falls_back_to_the_value_list_remove(django_tenant: Any) -> None:
    with http(django_tenant) as c:
        a, b = make_user(c, "cat@example.com"), make_user(c, "dan@example.com")
        gid = make_group(c, "K")
    with ScimClient(django_tenant.base_url, django_tenant.token) as client:
        client.update_group_members(gid, adds=[a, b])
        client.update_group_members(gid, removes=[a])  # 501 on the filter path, then the value list
        assert sorted(str(m.value) for m in client.get_group(gid).members or []) == [b]
        client.update_group_members(gid, removes=[b])  # remembered: the value list at once
        assert not client.get_group(gid).members

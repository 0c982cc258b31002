"""The scim2-server lifecycle, again on django-scim2 0.23 (a second, independent implementation
whose quirks are those of real providers: 200-with-body PATCH, members dropped on group create,
501 for remove-by-filter-path and for PATCH of displayName, 50 resources per page). The generic
profile must cope. After every apply a fresh plan has no actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lifecycle import test_scim2_lifecycle as same
from tests.lifecycle.project import GROUPS, Project, kinds

# django-scim2 derives a user's displayName from the name parts and answers 501 to a PATCH of it:
# said once, in the policy, so that the diff reports the difference instead of re-sending it.
WRITABLE = "{user_writable: [userName, externalId, active, emails, name.givenName, name.familyName]}"


def django_project(root: Path, tenant: Any, capabilities: str = WRITABLE) -> Project:
    p = Project(root, {"APP_URL": tenant.base_url, "APP_TOKEN": tenant.token}, "generic")
    p.capabilities = capabilities
    p.write()
    return p


@pytest.fixture
def project(tmp_path: Path, django_tenant: Any) -> Project:
    return django_project(tmp_path, django_tenant)


def test_bootstrap_disable_restore_delete(project: Project, django_tenant: Any) -> None:
    """Bootstrap; disable keeps memberships; restore keeps the id; delete; re-create."""
    same.test_bootstrap_disable_restore_delete(project, django_tenant)


def test_stale_plan_is_refused_without_any_write(project: Project, django_tenant: Any) -> None:
    project.converge()
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    assert kinds(project.plan()) == [("disable_user", "u-dan")]
    dan = same.server_users(django_tenant)["u-dan"]
    # someone edits dan after the plan was made (a PUT: django-scim2 answers 501 to a PATCH of
    # displayName; the given name changes the derived displayName too)
    body = {k: v for k, v in dan.items() if k not in ("meta", "groups", "id")}
    body["name"] = {"givenName": "Daniel", "familyName": "Example"}
    httpx.put(f"{django_tenant.base_url}/Users/{dan['id']}", json=body,
              headers={"Authorization": f"Bearer {django_tenant.token}"}).raise_for_status()
    r = project.apply(expect=1)
    assert "plan is stale: user dan@example.com changed on the target; run plan again" in r.output
    assert same.server_users(django_tenant)["u-dan"]["active"] is True  # no write happened


def test_out_of_band_disable_is_left_alone(project: Project, django_tenant: Any) -> None:
    same.test_out_of_band_disable_is_left_alone(project, django_tenant)


def test_membership_batch_is_one_patch(project: Project, django_tenant: Any) -> None:
    """One PATCH per group: removes fall back to the value-list form after the 501."""
    same.test_membership_batch_is_one_patch(project, django_tenant)


def test_user_updates_and_a_rename(project: Project, django_tenant: Any) -> None:
    project.converge()
    project.write(
        users=[(e, "ann2" if n == "ann" else n, d) for e, n, d in same.USERS],
        groups=GROUPS.replace("ann@", "ann2@"),
        extra={"u-ann": 'previously: ["ann@example.com"]',
               "u-ben": "name: {givenName: Benjamin, familyName: Example}",
               "u-cat": "emails: [{value: cat.work@example.com, primary: true}]"},
    )
    assert sorted(kinds(project.plan())) == [("update_user", "u-ann"), ("update_user", "u-ben"),
                                             ("update_user", "u-cat")]
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = same.server_users(django_tenant)
    assert users["u-ann"]["userName"] == "ann2@example.com"
    assert users["u-ben"]["name"]["givenName"] == "Benjamin"
    assert users["u-cat"]["emails"][0]["value"] == "cat.work@example.com"


def test_groups_deleted_and_created(project: Project, django_tenant: Any) -> None:
    project.converge()
    project.write(groups=GROUPS.split("  - externalId: g-ops")[0]
                  + "  - externalId: g-new\n    displayName: New\n    members: [cat@example.com]\n")
    assert sorted(kinds(project.plan())) == [("change_members", "g-new"), ("create_group", "g-new"),
                                             ("delete_group", "g-ops")]
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = same.server_users(django_tenant)
    assert same.server_groups(django_tenant) == {
        "Engineering": {users[k]["id"] for k in ("u-ann", "u-ben", "u-eve", "u-dan")},
        "New": {users["u-cat"]["id"]},
    }


def test_adopt_and_unmanaged(project: Project, django_tenant: Any) -> None:
    for name in ("ann", "zed"):  # accounts made by someone else, without an externalId
        httpx.post(django_tenant.base_url + "/Users", headers={"Authorization": f"Bearer {django_tenant.token}"},
                   json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": f"{name}@example.com"}).raise_for_status()
    project.extra_policy = "unmanaged: disable\n"
    project.write()
    plan = kinds(project.plan())
    assert ("adopt_user", "u-ann") in plan and sum(k == "disable_user" for k, _ in plan) == 1
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = same.server_users(django_tenant)
    assert set(users) == {"u-ann", "u-ben", "u-cat", "u-dan", "u-eve", ""}  # zed: no externalId
    assert users[""]["userName"] == "zed@example.com" and users[""]["active"] is False


def test_several_pages(project: Project, django_tenant: Any) -> None:
    """The server announces 50 results per page: 60 users and a 60-member group span two."""
    users = [(f"u-{i:03}", f"user{i:03}", "eng") for i in range(60)]
    members = ", ".join(f"user{i:03}@example.com" for i in range(60))
    project.write(users=users, groups=f"groups:\n  - externalId: g-all\n    displayName: All\n    members: [{members}]\n")
    project.converge()
    assert len(same.server_users(django_tenant)) == 60
    assert len(same.server_groups(django_tenant)["All"]) == 60


def test_ignored_field_is_detected_without_the_override(tmp_path: Path, django_tenant: Any) -> None:
    p = django_project(tmp_path, django_tenant, capabilities="")
    p.plan()
    p.apply()
    plan = p.plan()
    assert {a["kind"] for a in plan["actions"]} == {"update_user"}  # displayName differs
    r = p.apply(expect=1)
    assert "the server does not support changing displayName" in r.output
    assert "connection.capabilities.user_writable" in r.output


def test_test_connection(project: Project, django_tenant: Any) -> None:
    project.converge()
    r = project.run("test-connection", "--root", "{root}")
    assert "OK: " in r.output and "users: 5" in r.output and "groups: 2" in r.output
    assert "page_size=50" in r.output and "etag=no" in r.output
    assert django_tenant.token not in r.output


def test_group_rename(project: Project, django_tenant: Any) -> None:
    project.converge()
    project.write(groups=GROUPS.replace("displayName: Engineering", "displayName: Engineering Team"))
    assert kinds(project.plan()) == [("update_group", "g-eng")]
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = same.server_users(django_tenant)
    assert same.server_groups(django_tenant)["Engineering Team"] == {
        users[k]["id"] for k in ("u-ann", "u-ben", "u-eve", "u-dan")}


def test_test_connection_lists_user_writable_sorted(project: Project) -> None:
    r = project.run("test-connection", "--root", "{root}")
    assert "frozenset" not in r.output
    line = next(x for x in r.output.splitlines() if "capabilities (" in x)
    shown = line.split("user_writable=", 1)[1]
    names = ["active", "emails", "externalId", "name.familyName", "name.givenName", "userName"]
    where = [shown.index(n + ("" if n == "userName" else ",")) for n in names]
    assert where == sorted(where)

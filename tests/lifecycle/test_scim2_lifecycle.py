"""The whole lifecycle against a real scim2-server (RFC 7644), through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lifecycle.project import USERS, Project, kinds


@pytest.fixture
def project(tmp_path: Path, scim2_tenant: Any) -> Project:
    p = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    p.write()
    return p


def server_users(tenant: Any) -> dict[str, dict[str, Any]]:
    r = httpx.get(tenant.base_url + "/Users", params={"count": 1000}, headers={"Authorization": f"Bearer {tenant.token}"})
    return {u["externalId"]: u for u in r.json().get("Resources", [])}


def server_groups(tenant: Any) -> dict[str, set[str]]:
    r = httpx.get(tenant.base_url + "/Groups", params={"count": 1000}, headers={"Authorization": f"Bearer {tenant.token}"})
    return {g["displayName"]: {m["value"] for m in g.get("members", [])} for g in r.json().get("Resources", [])}


def test_bootstrap_disable_restore_delete(project: Project, scim2_tenant: Any) -> None:
    first = project.plan()
    assert sorted(k for k, _ in kinds(first)).count("create_user") == 5
    project.apply()
    again = project.plan(expect=0)
    assert again["actions"] == []
    users = server_users(scim2_tenant)
    assert set(users) == {u[0] for u in USERS}
    groups = server_groups(scim2_tenant)
    assert groups["Engineering"] == {users[k]["id"] for k in ("u-ann", "u-ben", "u-eve", "u-dan")}
    dan_id = users["u-dan"]["id"]

    # dan leaves the rule: disabled, memberships kept
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    plan = project.plan()
    assert kinds(plan) == [("disable_user", "u-dan")]
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = server_users(scim2_tenant)
    assert users["u-dan"]["active"] is False and users["u-dan"]["id"] == dan_id
    assert dan_id in server_groups(scim2_tenant)["Engineering"]

    # dan comes back: the same account, enabled, still in his groups
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops, sales]}]}"
    project.write()
    plan = project.plan()
    assert kinds(plan) == [("restore_user", "u-dan")]
    project.apply()
    assert project.plan(expect=0)["actions"] == []
    users = server_users(scim2_tenant)
    assert users["u-dan"]["active"] is True and users["u-dan"]["id"] == dan_id

    # switch to delete: dan leaves again and is deprovisioned; his membership goes with him
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.removal = "{action: delete}"
    project.write()
    assert kinds(project.plan()) == [("delete_user", "u-dan")]
    project.apply()
    assert "u-dan" not in server_users(scim2_tenant)
    assert project.plan(expect=0)["actions"] == []

    # he returns: re-created, and the plan says his previous account was deleted
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops, sales]}]}"
    project.write()
    plan = project.plan()
    create = [a for a in plan["actions"] if a["kind"] == "create_user"]
    assert create and create[0]["recreated_after_delete"] is not None
    assert "re-create: the previous account was deleted on" in create[0]["reason"]
    project.apply()
    assert project.plan(expect=0)["actions"] == []


def test_stale_plan_is_refused_without_any_write(project: Project, scim2_tenant: Any) -> None:
    project.converge()
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    plan = project.plan()
    assert kinds(plan) == [("disable_user", "u-dan")]
    # someone edits dan on the server after the plan was made
    dan = server_users(scim2_tenant)["u-dan"]
    httpx.patch(
        f"{scim2_tenant.base_url}/Users/{dan['id']}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "displayName", "value": "Daniel"}]},
        headers={"Authorization": f"Bearer {scim2_tenant.token}"},
    ).raise_for_status()
    r = project.apply(expect=1)
    assert "plan is stale: user dan@example.com changed on the target; run plan again" in r.output
    assert server_users(scim2_tenant)["u-dan"]["active"] is True  # no write happened


def test_edited_plan_is_refused(project: Project) -> None:
    project.plan()
    path = project.root / "plan.json"
    path.write_text(path.read_text().replace('"create_user"', '"delete_user"', 1))
    r = project.apply(expect=1)
    assert "checksum mismatch" in r.output or "invalid plan" in r.output


def test_out_of_band_disable_is_left_alone(project: Project, scim2_tenant: Any) -> None:
    project.converge()
    ann = server_users(scim2_tenant)["u-ann"]
    httpx.patch(
        f"{scim2_tenant.base_url}/Users/{ann['id']}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers={"Authorization": f"Bearer {scim2_tenant.token}"},
    ).raise_for_status()
    plan = project.plan(expect=0)
    assert plan["actions"] == []
    assert any("ann@example.com: disabled outside reconcile" in w for w in plan["warnings"])


def test_membership_batch_is_one_patch(project: Project, scim2_tenant: Any) -> None:
    project.converge()
    project.write(groups="""groups:
  - externalId: g-eng
    displayName: Engineering
    members: [ann@example.com, cat@example.com]
  - externalId: g-ops
    displayName: Ops
    members: [cat@example.com, ann@example.com]
""")
    plan = project.plan()
    assert kinds(plan) == [("change_members", "g-eng")]
    change = plan["actions"][0]
    assert len(change["add"]) == 1 and len(change["remove"]) == 3
    project.apply()
    assert project.plan(expect=0)["actions"] == []


def test_test_connection(project: Project, scim2_tenant: Any) -> None:
    project.converge()
    r = project.run("test-connection", "--root", "{root}")
    assert "OK: " in r.output and "users: 5" in r.output and "groups: 2" in r.output
    project.env["APP_TOKEN"] = "wrong-token-value-123"
    r = project.run("test-connection", "--root", "{root}", expect=1)
    assert "APP_TOKEN" in r.output and "wrong-token-value-123" not in r.output


ADDITIVE = """groups:
  - externalId: g-eng
    displayName: Engineering
    membership: additive
    members: [{members}]
  - externalId: g-ops
    displayName: Ops
    members: [cat@example.com, ann@example.com]
"""


def test_an_additive_group_keeps_members_added_by_hand(project: Project, scim2_tenant: Any) -> None:
    eng = "ann@example.com, ben@example.com, eve@example.com"
    project.write(groups=ADDITIVE.format(members=eng))
    project.converge()
    users = server_users(scim2_tenant)
    group_id = next(g["id"] for g in httpx.get(
        scim2_tenant.base_url + "/Groups", headers={"Authorization": f"Bearer {scim2_tenant.token}"}
    ).json()["Resources"] if g["displayName"] == "Engineering")
    httpx.patch(  # someone adds cat by hand
        f"{scim2_tenant.base_url}/Groups/{group_id}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "members", "value": [{"value": users["u-cat"]["id"]}]}]},
        headers={"Authorization": f"Bearer {scim2_tenant.token}"},
    ).raise_for_status()
    assert project.plan(expect=0)["actions"] == []  # additive: cat stays
    project.write(groups=ADDITIVE.format(members="ann@example.com, eve@example.com"))  # ben undeclared
    plan = project.plan()
    assert [(a["kind"], [m["key"] for m in a["remove"]], a["add"]) for a in plan["actions"]] == [
        ("change_members", ["u-ben"], [])
    ]  # ben was added by reconcile: taken back; cat was not: left alone
    project.apply()
    assert server_groups(scim2_tenant)["Engineering"] == {users[k]["id"] for k in ("u-ann", "u-eve", "u-cat")}
    assert project.plan(expect=0)["actions"] == []
    project.write(groups=ADDITIVE.format(members="ann@example.com, eve@example.com").replace(
        "    membership: additive\n", ""))  # authoritative again: cat goes
    plan = project.plan()
    assert [(a["kind"], [m["key"] for m in a["remove"]]) for a in plan["actions"]] == [("change_members", ["u-cat"])]
    project.apply()
    assert server_groups(scim2_tenant)["Engineering"] == {users[k]["id"] for k in ("u-ann", "u-eve")}

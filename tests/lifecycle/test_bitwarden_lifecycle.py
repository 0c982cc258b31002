"""The whole lifecycle against the Bitwarden test server (tests/servers/bitwarden.py), through the
CLI: revoke keeps memberships, restore returns the previous status, no no-op writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle.project import Project, kinds

IN_ALL = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops, sales]}]}"
NO_SALES = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"


@pytest.fixture
def org(bitwarden_server: Any) -> Any:
    return bitwarden_server


@pytest.fixture
def project(tmp_path: Path, org: Any) -> Project:
    p = Project(tmp_path, {"APP_URL": org.base_url, "APP_TOKEN": org.token}, "bitwarden")
    p.write()
    return p


def member(org: Any, email: str) -> dict[str, Any]:
    m = org.member_by_email(email)
    assert m is not None, email
    return m


def group_id(org: Any, name: str) -> str:
    return next(g["id"] for g in org.groups() if g["name"] == name)


def converge_quietly(project: Project, org: Any) -> None:
    """apply the current plan; a fresh plan then has zero actions and sends zero writes."""
    project.plan()
    project.apply()
    org.clear_log()
    again = project.plan(expect=0)
    assert again["actions"] == [], kinds(again)
    assert org.writes() == []
    assert {e["method"] for e in org.log()} == {"GET"}


def test_bootstrap_revoke_restore_keeps_status_and_groups(project: Project, org: Any) -> None:
    owner = org.seed_member("owner@example.com", type="Owner", status="Confirmed")
    org.clear_log()
    first = project.plan()
    assert {e["method"] for e in org.log()} == {"GET"}  # plan only reads
    assert [k for k, _ in kinds(first)].count("create_user") == 5
    assert first["summary"]["invitations"] == 5
    assert first["unmanaged"]["users"] == 1
    converge_quietly(project, org)
    eng = group_id(org, "Engineering")
    dan = member(org, "dan@example.com")
    assert dan["status"] == "Invited" and dan["external_id"] == "u-dan"
    assert org.group_members(eng) == {member(org, f"{n}@example.com")["id"] for n in ("ann", "ben", "eve", "dan")}
    # dan accepts and is confirmed by an admin
    org.accept(dan["id"], name="Dan Personal")
    org.confirm(dan["id"])
    assert member(org, "dan@example.com")["status"] == "Confirmed"
    # his account's own name differs: a warning, never an action
    plan = project.plan(expect=0)
    assert plan["actions"] == []
    assert any("displayName differs on bitwarden" in w for w in plan["warnings"])

    # dan leaves the rule: revoked, memberships kept
    project.rule = NO_SALES
    project.write()
    assert kinds(project.plan()) == [("disable_user", "u-dan")]
    converge_quietly(project, org)
    m = member(org, "dan@example.com")
    assert m["status"] == "Revoked" and m["id"] == dan["id"]
    assert dan["id"] in org.group_members(eng)

    # dan is back: restored on the same id, Confirmed again, still in Engineering, no invitation
    invitations = org.counters["invitations_sent"]
    project.rule = IN_ALL
    project.write()
    assert kinds(project.plan()) == [("restore_user", "u-dan")]
    converge_quietly(project, org)
    m = member(org, "dan@example.com")
    assert m["status"] == "Confirmed" and m["id"] == dan["id"]
    assert dan["id"] in org.group_members(eng)
    assert org.counters["invitations_sent"] == invitations
    assert member(org, "owner@example.com")["status"] == owner["status"]


def test_membership_changes_from_state_one_request_per_group(project: Project, org: Any) -> None:
    converge_quietly(project, org)
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
    org.clear_log()
    project.apply()
    writes = org.writes()
    assert len(writes) == 1 and writes[0]["method"] == "PATCH"
    assert org.group_members(group_id(org, "Engineering")) == {
        member(org, "ann@example.com")["id"], member(org, "cat@example.com")["id"]}
    org.clear_log()
    assert project.plan(expect=0)["actions"] == []
    assert org.writes() == []


def test_delete_then_return_is_a_new_invitation(project: Project, org: Any) -> None:
    converge_quietly(project, org)
    old = member(org, "dan@example.com")["id"]
    project.rule, project.removal = NO_SALES, "{action: delete}"
    project.write()
    assert kinds(project.plan()) == [("delete_user", "u-dan")]
    converge_quietly(project, org)
    assert org.member_by_email("dan@example.com") is None
    project.rule = IN_ALL
    project.write()
    plan = project.plan()
    assert kinds(plan) == [("create_user", "u-dan"), ("change_members", "g-eng")]
    text = project.run("show", str(project.root / "plan.json")).output
    assert "1 Bitwarden invitation e-mail will be sent" in text
    assert "re-create: the previous account was deleted on" in text
    converge_quietly(project, org)
    assert member(org, "dan@example.com")["id"] != old


def test_two_phase_removal_with_a_controlled_clock(project: Project, org: Any) -> None:
    project.env["RECONCILE_NOW"] = "2026-12-01T09:00:00Z"
    project.removal = "{action: disable, delete_after: 30d}"
    converge_quietly(project, org)
    project.rule = NO_SALES
    project.write()
    plan = project.plan()
    assert kinds(plan) == [("disable_user", "u-dan")]
    assert plan["actions"][0]["delete_due"] == "2026-12-31T09:00:00Z"
    converge_quietly(project, org)
    project.env["RECONCILE_NOW"] = "2026-12-20T09:00:00Z"  # not yet due
    assert project.plan(expect=0)["actions"] == []
    project.env["RECONCILE_NOW"] = "2027-01-01T09:00:00Z"  # due
    assert kinds(project.plan()) == [("delete_user", "u-dan")]
    converge_quietly(project, org)
    assert org.member_by_email("dan@example.com") is None


def test_return_before_the_deadline_cancels_the_deletion(project: Project, org: Any) -> None:
    project.env["RECONCILE_NOW"] = "2026-12-01T09:00:00Z"
    project.removal = "{action: disable, delete_after: 30d}"
    converge_quietly(project, org)
    project.rule = NO_SALES
    project.write()
    converge_quietly(project, org)
    project.env["RECONCILE_NOW"] = "2026-12-10T09:00:00Z"
    project.rule = IN_ALL
    project.write()
    assert kinds(project.plan()) == [("restore_user", "u-dan")]
    converge_quietly(project, org)
    project.env["RECONCILE_NOW"] = "2027-03-01T09:00:00Z"
    assert project.plan(expect=0)["actions"] == []
    assert member(org, "dan@example.com")["status"] == "Invited"


def test_out_of_band_revoke_is_left_alone(project: Project, org: Any) -> None:
    converge_quietly(project, org)
    ann = member(org, "ann@example.com")
    with org.client() as c:
        c.patch(f"/Users/{ann['id']}", json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]}).raise_for_status()
    org.clear_log()
    plan = project.plan(expect=0)
    assert plan["actions"] == [] and org.writes() == []
    assert any("ann@example.com: disabled outside reconcile" in w for w in plan["warnings"])
    assert member(org, "ann@example.com")["status"] == "Revoked"


def test_stale_plan_is_refused_with_no_write(project: Project, org: Any) -> None:
    converge_quietly(project, org)
    project.rule = NO_SALES
    project.write()
    project.plan()
    dan = member(org, "dan@example.com")
    org.accept(dan["id"], email="dan.personal@example.org", name="Dan")  # the account changes
    org.clear_log()
    r = project.apply(expect=1)
    assert "plan is stale" in r.output
    assert org.writes() == []
    assert member(org, "dan@example.com" if org.member_by_email("dan@example.com") else "dan.personal@example.org")["status"] != "Revoked"


def test_adopt_a_manual_invite(project: Project, org: Any) -> None:
    manual = org.seed_member("eve@example.com", status="Confirmed", external_id=None)
    plan = project.plan()
    assert ("adopt_user", "u-eve") in kinds(plan)
    assert ("create_user", "u-eve") not in kinds(plan)
    converge_quietly(project, org)
    m = member(org, "eve@example.com")
    assert m["id"] == manual["id"] and m["external_id"] == "u-eve" and m["status"] == "Confirmed"


def test_server_ignoring_a_write_is_a_failure(project: Project, org: Any) -> None:
    converge_quietly(project, org)
    project.rule = NO_SALES
    project.write()
    project.plan()
    # the next PATCH is answered 204 without doing anything (as Bitwarden does with ops it ignores)
    org.inject_fault("status", status=204, method="PATCH", times=1)
    r = project.apply(expect=1)
    assert "the server ignored the change" in r.output
    assert member(org, "dan@example.com")["status"] != "Revoked"
    converge_quietly(project, org)  # the next run converges
    assert member(org, "dan@example.com")["status"] == "Revoked"

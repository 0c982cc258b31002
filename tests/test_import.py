"""`reconcile import` through the CLI on real servers: import, plan: zero actions; a one-line change
gives exactly one action; --merge into a hand-written file keeps every original line in order.
(The importer's exact-text merge tests are in tests/test_importer.py.)"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lifecycle.project import Project, kinds
from tests.scim.helpers import bulk_create_users, create_group

HERE = Path(__file__).resolve().parent
N = 240


def policy(project: Project) -> None:
    (project.root / "policies").mkdir(parents=True, exist_ok=True)
    (project.root / "desired-state").mkdir(parents=True, exist_ok=True)
    (project.root / "policies" / "app.yaml").write_text(
        "target: app\nconnection: {url: '${APP_URL}', token_env: APP_TOKEN, profile: " + project.profile + "}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n")


def seed_scim2(tenant: Any) -> None:
    body = lambda i: {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"user{i:03d}@example.com",
                      "externalId": f"u-{i:03d}" if i % 10 else None, "displayName": f"User {i}",
                      "name": {"givenName": "User", "familyName": str(i)},
                      "emails": [{"value": f"user{i:03d}@example.com", "primary": True, "type": "work"}],
                      "active": i % 17 != 0}
    bulk_create_users(tenant.base_url, tenant.token, [{k: v for k, v in body(i).items() if v is not None} for i in range(N)])
    users = httpx.get(tenant.base_url + "/Users", params={"count": 1000},
                      headers={"Authorization": f"Bearer {tenant.token}"}).json()["Resources"]
    ids = sorted(u["id"] for u in users)
    for g in range(12):
        create_group(tenant.base_url, tenant.token, f"Team {g}", f"g-{g:02d}", ids[g * 7: g * 7 + 15])


@pytest.fixture
def scim2_project(tmp_path: Path, scim2_tenant: Any) -> Project:
    p = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    policy(p)
    seed_scim2(scim2_tenant)
    return p


def test_import_then_plan_is_empty_on_scim2(scim2_project: Project) -> None:
    p = scim2_project
    began = time.monotonic()
    r = p.run("import", "--target", "app", "--root", "{root}")
    assert time.monotonic() - began < 30
    assert f"imported {N - N // 10} users and 12 groups" in r.output
    assert "not imported: 24 accounts without an externalId" in r.output
    text = (p.root / "desired-state" / "imported-app.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "#   user000@example.com" in text  # listed for a human to decide
    p.run("validate", "--root", "{root}")
    plan = p.plan(expect=0)
    assert plan["actions"] == [], kinds(plan)[:5]
    # one line changes: exactly one action
    path = p.root / "desired-state" / "imported-app.yaml"
    path.write_text(path.read_text().replace("displayName: User 5\n", "displayName: User Five\n", 1))
    assert kinds(p.plan()) == [("update_user", "u-005")]


def test_include_unmanaged_then_adopt(scim2_project: Project) -> None:
    p = scim2_project
    p.run("import", "--target", "app", "--root", "{root}", "--include-unmanaged")
    plan = p.plan()
    assert [k for k, _ in kinds(plan)] == ["adopt_user"] * (N // 10)  # explicit adoptions
    shutil.rmtree(p.root / ".reconcile", ignore_errors=True)
    (p.root / "desired-state" / "imported-app.yaml").unlink()
    p.run("import", "--target", "app", "--root", "{root}", "--include-unmanaged", "--adopt")
    assert p.plan(expect=0)["actions"] == []


def test_import_on_bitwarden_uses_state_for_members(tmp_path: Path, bitwarden_server: Any) -> None:
    org = bitwarden_server
    for i in range(N):
        org.seed_member(f"user{i:03d}@example.com", status=("Confirmed", "Invited", "Revoked")[i % 3],
                        external_id=f"u-{i:03d}" if i % 10 else None, name=f"User {i}" if i % 3 == 0 else None)
    for g in range(6):
        org.seed_group(f"Team {g}", external_id=f"g-{g}",
                       members=[m["id"] for m in org.members()[g * 5: g * 5 + 10]])
    p = Project(tmp_path, {"APP_URL": org.base_url, "APP_TOKEN": org.token}, "bitwarden")
    policy(p)
    r = p.run("import", "--target", "app", "--root", "{root}", "--adopt")
    assert "never returns group members" in r.output
    org.clear_log()
    plan = p.plan(expect=0)
    assert plan["actions"] == []
    assert org.writes() == []
    # the members Bitwarden never returns stay unknown: a warning on the plan, never a removal
    assert sum("members cannot be read from bitwarden" in w for w in plan["warnings"]) == 6


def test_merge_into_a_real_project(scim2_project: Project) -> None:
    p = scim2_project
    hand = p.root / "desired-state" / "people.yaml"
    original = (HERE / "importer" / "handwritten.yaml").read_text()
    hand.write_text(original)
    p.run("import", "--target", "app", "--root", "{root}", "--merge")
    after = hand.read_text()
    # every original line is still there, in the same order
    lines = original.splitlines()
    it = iter(after.splitlines())
    assert all(any(line == x for x in it) for line in lines)
    p.run("validate", "--root", "{root}")
    # the hand-written users and group were kept; everything the target has is now declared
    plan = p.plan(expect=(0, 2))
    assert not [a for a in plan["actions"] if a["kind"] in ("create_user", "disable_user", "delete_user")]


def test_import_warns_when_the_rule_would_leave_the_imported_users_out(scim2_project: Project) -> None:
    p = scim2_project
    policy_file = p.root / "policies" / "app.yaml"
    policy_file.write_text(policy_file.read_text() + "rule: {user_filter: {conditions: "
                           "[{attribute: attributes.dept, operator: equals, value: eng}]}}\nremoval: {action: disable}\n")
    r = p.run("import", "--target", "app", "--root", "{root}", "--adopt")
    imported = N - N // 10
    assert (f"warning: {imported} of the {imported} imported users do not match the user filter of target app "
            "(u-001, u-002, u-003, u-004, u-005 and") in r.output
    assert "so the next plan would disable them" in r.output
    plan = p.plan(expect=1)  # what the warning announced (and the empty-scope rail refuses)
    active = sum(1 for i in range(N) if i % 10 and i % 17)  # seed_scim2: the others are disabled already
    assert sum(1 for kind, _ in kinds(plan) if kind == "disable_user") == active


def test_import_says_nothing_more_when_every_imported_user_is_in_scope(scim2_project: Project) -> None:
    r = scim2_project.run("import", "--target", "app", "--root", "{root}")
    assert "do not match the user filter" not in r.output


def test_an_import_written_outside_desired_state_is_not_called_out_of_scope(scim2_project: Project) -> None:
    p = scim2_project
    policy_file = p.root / "policies" / "app.yaml"
    policy_file.write_text(policy_file.read_text() + "rule: {user_filter: {conditions: "
                           "[{attribute: attributes.dept, operator: equals, value: eng}]}}\n")
    r = p.run("import", "--target", "app", "--root", "{root}", "--out", str(p.root / "elsewhere.yaml"))
    assert "do not match the user filter" not in r.output

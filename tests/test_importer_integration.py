"""reconcile import against real servers: seed an organisation, read it with fetch_live (read-only
client), import it with run_import, plan against a fresh read: zero actions; then a one-line YAML
change gives exactly the one expected action. scim2-server (generic) and the Bitwarden stand-in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.actions import ChangeMembers
from reconciler.config.checks import check_project
from reconciler.config.load import load_project
from reconciler.errors import Severity
from reconciler.importer import ImportReport, generated_user_key
from reconciler.live import LiveState, fetch_live
from reconciler.plan import Plan
from reconciler.planner import connection_info, make_plan
from reconciler.policy import Overrides
from reconciler.state.model import ManagedGroup, State
from reconciler.target import open_client
from tests.scim.helpers import bulk_create_users, create_group
from tests.test_importer import do_import as import_live
from tests.test_importer import edit, imported, kinds

N = 300
NOW = datetime(2026, 12, 4, 13, 4, 50)
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def project(root: Path, url: str, token: str, profile: str) -> dict[str, str]:
    (root / "policies").mkdir(parents=True)
    (root / "desired-state").mkdir()
    (root / "policies" / "app.yaml").write_text(
        "target: app\n"
        f"connection: {{url: '${{APP_URL}}', token_env: APP_TOKEN, profile: {profile}}}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n"
    )
    return {"APP_URL": url, "APP_TOKEN": token}


def read(root: Path, env: dict[str, str]) -> LiveState:
    target = load_project(root).targets[0]
    client = open_client(connection_info(target, env), read_only=True, env=env)
    try:
        return fetch_live(client)
    finally:
        client.close()


def plan(root: Path, env: dict[str, str], state: State) -> Plan:
    project_ = load_project(root)
    errors = [d.render() for d in check_project(project_, env=env) if d.severity is Severity.ERROR]
    assert errors == []
    target = project_.targets[0]
    live = read(root, env)
    return make_plan(project_, target, live, state, connection_info(target, env), now=NOW, overrides=Overrides())


def do_import(root: Path, env: dict[str, str], state: State, profile: str, **kw: Any) -> ImportReport:
    return import_live(root, read(root, env), state, profile=profile, **kw)  # what the server holds now


# --- scim2-server --------------------------------------------------------------------------------------


def seed_scim2(base_url: str, token: str) -> None:
    def body(i: int) -> dict[str, Any]:
        b: dict[str, Any] = {
            "schemas": [USER], "userName": f"user{i:03d}@example.com", "displayName": f"User {i}",
            "name": {"givenName": "User", "familyName": f"N{i}"},
            "emails": [{"value": f"user{i:03d}@example.com", "primary": True, "type": "work"}],
            "active": i % 17 != 0,
        }
        if i % 10:
            b["externalId"] = f"u-{i:03d}"  # every 10th: invited by hand, no externalId
        if i % 23 == 4:
            b["emails"].append({"value": f"alt{i}@example.org", "type": "home"})
        return b

    bulk_create_users(base_url, token, [body(i) for i in range(N)])
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        users = http.get("/Users", params={"count": 1000}).json()["Resources"]
    ids = sorted(u["id"] for u in users)
    for g in range(24):
        create_group(base_url, token, f"Team {g:02d}", f"g-{g:02d}", ids[g * 11 : g * 11 + 3 + g])


def test_scim2_import_adopt_then_plan_is_empty(tmp_path: Path, scim2_tenant: Any) -> None:
    env = project(tmp_path, scim2_tenant.base_url, scim2_tenant.token, "generic")
    seed_scim2(scim2_tenant.base_url, scim2_tenant.token)
    report = do_import(tmp_path, env, State(target="app"), "generic", include_unmanaged=True, adopt=True)
    assert report.users == N and report.groups == 24
    assert report.adopted_state is not None
    state = report.adopted_state
    p = plan(tmp_path, env, state)
    assert kinds(p) == [] and p.warnings == ()
    # one line changes: exactly one action
    edit(imported(tmp_path), "displayName: User 5\n", "displayName: User Five\n")
    assert kinds(plan(tmp_path, env, state)) == [("update_user", "u-005")]


def test_scim2_without_adopt(tmp_path: Path, scim2_tenant: Any) -> None:
    env = project(tmp_path, scim2_tenant.base_url, scim2_tenant.token, "generic")
    seed_scim2(scim2_tenant.base_url, scim2_tenant.token)
    report = do_import(tmp_path, env, State(target="app"), "generic")
    assert len(report.skipped_unmanaged) == N // 10
    p = plan(tmp_path, env, State(target="app"))
    assert kinds(p) == []
    assert p.unmanaged["users"] == N // 10
    # the same, importing the accounts without externalId: the plan adopts them explicitly
    imported(tmp_path).unlink()
    do_import(tmp_path, env, State(target="app"), "generic", include_unmanaged=True)
    p = plan(tmp_path, env, State(target="app"))
    assert sorted(k for _, k in kinds(p)) == sorted(generated_user_key(f"user{i:03d}@example.com")
                                                   for i in range(0, N, 10))
    assert {kind for kind, _ in kinds(p)} == {"adopt_user"}


def test_scim2_remove_one_member_line(tmp_path: Path, scim2_tenant: Any) -> None:
    env = project(tmp_path, scim2_tenant.base_url, scim2_tenant.token, "generic")
    seed_scim2(scim2_tenant.base_url, scim2_tenant.token)
    state = do_import(tmp_path, env, State(target="app"), "generic", adopt=True, include_unmanaged=True).adopted_state
    assert state is not None
    text = imported(tmp_path).read_text()
    start = text.index("externalId: g-07\n")
    line = text[start:].split("    members:\n", 1)[1].split("\n", 1)[0] + "\n"
    at = text.index(line, start)
    imported(tmp_path).write_text(text[:at] + text[at + len(line):])
    p = plan(tmp_path, env, state)
    assert kinds(p) == [("change_members", "g-07")]
    change = p.actions[0]
    assert isinstance(change, ChangeMembers)
    assert [m.label for m in change.remove] == [line.strip()[2:]]


# --- the Bitwarden stand-in ----------------------------------------------------------------------------


def test_bitwarden_import_adopt_then_plan_is_empty(tmp_path: Path, bitwarden_server: Any) -> None:
    org = bitwarden_server
    for i in range(N):
        org.seed_member(f"user{i:03d}@example.com", status=("Confirmed", "Invited", "Revoked")[i % 3],
                        external_id=f"u-{i:03d}" if i % 10 else None, name=f"User {i}" if i % 3 == 0 else None)
    members = org.members()
    for g in range(12):
        org.seed_group(f"Team {g:02d}", external_id=f"g-{g:02d}", members=[m["id"] for m in members[g * 7 : g * 7 + 9]])
    env = project(tmp_path, org.base_url, org.token, "bitwarden")
    groups = {g["external_id"]: g for g in org.groups()}
    # reconcile applied the members of two groups before: the state knows them
    state = State(target="app", groups={
        key: ManagedGroup(external_id=key, id=groups[key]["id"], display_name=groups[key]["name"],
                          members=tuple(sorted(groups[key]["members"])))
        for key in ("g-01", "g-02")
    })
    report = do_import(tmp_path, env, state, "bitwarden", include_unmanaged=True, adopt=True)
    text = imported(tmp_path).read_text()
    assert "# Bitwarden never returns group members through SCIM" in text
    assert any("Bitwarden never returns group members" in w for w in report.warnings)
    assert report.adopted_state is not None
    new_state = report.adopted_state
    org.clear_log()
    p = plan(tmp_path, env, new_state)
    assert kinds(p) == []
    assert org.writes() == []
    # the ten groups nobody knows the members of: a warning each, never a removal
    assert sum("members cannot be read from bitwarden" in w for w in p.warnings) == 10
    # one line: a member of a group the state knows leaves it
    by_id = {m["id"]: m["scim_email"] for m in members}
    gone = sorted(by_id[i] for i in groups["g-01"]["members"])[0]
    block_at = text.index("externalId: g-01\n")
    line = f"      - {gone}\n"
    at = text.index(line, block_at)
    imported(tmp_path).write_text(text[:at] + text[at + len(line):])
    p = plan(tmp_path, env, new_state)
    assert kinds(p) == [("change_members", "g-01")]
    change = p.actions[0]
    assert isinstance(change, ChangeMembers)
    assert [m.label for m in change.remove] == [gone]

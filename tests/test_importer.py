"""reconcile import (reconciler.importer): live -> desired-state YAML -> the same plan, with nothing to do.

Pure: LiveState values are built here, imported into a tmp project, loaded and checked like any
project, and planned against the same LiveState with make_plan. The real-server version of the
round trip is tests/test_importer_integration.py.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.actions import ChangeMembers
from reconciler.config.checks import check_project
from reconciler.config.load import load_project
from reconciler.errors import ReconcilerError, Severity
from reconciler.importer import (
    ImportReport,
    generated_group_key,
    generated_user_key,
    run_import,
    scalar,
)
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.plan import Plan
from reconciler.planner import connection_info, make_plan
from reconciler.policy import Overrides
from reconciler.state.model import ManagedGroup, ManagedUser, State

HERE = Path(__file__).resolve().parent / "importer"
NOW = datetime(2026, 12, 4, 13, 4, 50)
LATER = datetime(2027, 1, 2, 3, 4, 5)


# --- building blocks ---------------------------------------------------------------------------------


def org(n_users: int = 300, n_groups: int = 40, *, seed: int = 7, members: bool = True,
        handmade_group: bool = False) -> LiveState:
    """A messy organisation: every 10th account has no externalId (manual invites), every 13th is
    disabled, some have extra e-mails or no name, a few userNames are not e-mails, names that YAML
    would misread unless quoted; with `handmade_group`, group 5 has no externalId."""
    rnd = random.Random(seed)
    odd_names = ["yes", "Null", "O'Neil", "#hash", "a: b", "123", "Zoë Ünal", "  spaced", "[x]", "-dash"]
    users = []
    for i in range(n_users):
        plain = i % 50 == 7
        name = f"svc-{i:04d}" if plain else f"user{i:04d}@example.com"
        emails: tuple[str, ...] = (name,) if not plain else (f"svc-{i:04d}@robots.example.com",)
        if i % 11 == 3:
            emails = (emails[0], f"alt{i}@example.org")
        users.append(LiveUser(
            id=f"uid-{rnd.getrandbits(48):012x}",
            external_id=None if i % 10 == 0 else f"ext-{i:04d}",
            user_name=name,
            emails=emails,
            display_name=odd_names[i % len(odd_names)] if i % 9 == 0 else f"User {i}",
            given_name=None if i % 6 == 0 else "User",
            family_name=None if i % 6 == 0 else str(i),
            active=i % 13 != 0,
        ))
    ids = [u.id for u in users]
    groups = []
    for g in range(n_groups):
        picked = tuple(sorted(rnd.sample(ids, rnd.randint(0, 25))))
        groups.append(LiveGroup(
            id=f"gid-{rnd.getrandbits(48):012x}",
            external_id=None if g == 5 and handmade_group else f"grp-{g:03d}",
            display_name=f"Team {g}" if g % 7 else f"team {g} (ops)",
            members=picked if members else None,
        ))
    rnd.shuffle(users)
    return LiveState(users=tuple(users), groups=tuple(groups), members_readable=members)


def new_project(root: Path, profile: str = "generic", extra: str = "") -> Path:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "desired-state").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "app.yaml").write_text(
        "target: app\n"
        f"connection: {{url: http://127.0.0.1:9/v2, token_env: APP_TOKEN, profile: {profile}}}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n" + extra
    )
    return root


def plan(root: Path, live: LiveState, state: State) -> Plan:
    project = load_project(root)
    errors = [d.render() for d in check_project(project, env={"APP_TOKEN": "x"}) if d.severity is Severity.ERROR]
    assert errors == []
    target = project.targets[0]
    return make_plan(project, target, live, state, connection_info(target, env={}), now=NOW, overrides=Overrides())


def kinds(p: Plan) -> list[tuple[str, str]]:
    return [(a.kind, a.key) for a in p.actions]


def do_import(root: Path, live: LiveState, state: State | None = None, **kw: Any) -> ImportReport:
    args: dict[str, Any] = dict(
        root=root, target_name="app", live=live, state=state or State(target="app"), out=None, merge=False,
        include_unmanaged=False, adopt=False, now=NOW, profile="generic",
    )
    args.update(kw)
    return run_import(**args)


def imported(root: Path) -> Path:
    return root / "desired-state" / "imported-app.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


# --- the round trip: import, plan, nothing to do ------------------------------------------------------


def test_import_adopt_then_plan_has_zero_actions(tmp_path: Path) -> None:
    live = org()
    root = new_project(tmp_path)
    report = do_import(root, live, include_unmanaged=True, adopt=True)
    assert report.files_written == [imported(root)]
    assert report.users == 300 and report.groups == 40 and report.skipped_unmanaged == []
    assert report.adopted_state is not None
    p = plan(root, live, report.adopted_state)
    assert kinds(p) == []
    assert p.warnings == ()
    # every account and group is owned now
    assert len(report.adopted_state.users) == 300 and len(report.adopted_state.groups) == 40
    assert {u.origin for u in report.adopted_state.users.values()} == {"adopted"}


def test_one_line_changes_give_exactly_one_action(tmp_path: Path) -> None:
    live = org()
    root = new_project(tmp_path)
    state = do_import(root, live, include_unmanaged=True, adopt=True).adopted_state
    assert state is not None
    path = imported(root)
    text = path.read_text()
    # remove one member line from one group
    group = next(g for g in live.groups if g.external_id == "grp-003")
    by_id = {u.id: u for u in live.users}
    first = min((by_id[i].user_name for i in group.members or ()), key=str.casefold)
    block = text[text.index("externalId: grp-003"):]
    line = f"      - {scalar(first)}\n"
    assert line in block
    at = text.index("externalId: grp-003") + block.index(line)
    path.write_text(text[:at] + text[at + len(line):])
    p = plan(root, live, state)
    assert kinds(p) == [("change_members", "grp-003")]
    change = p.actions[0]
    assert isinstance(change, ChangeMembers)
    assert [m.label for m in change.remove] == [first] and change.add == ()
    # change one displayName instead
    path.write_text(text)
    edit(path, "displayName: User 17\n", "displayName: User Seventeen\n")
    assert kinds(plan(root, live, state)) == [("update_user", "ext-0017")]


def test_without_adopt_unmanaged_accounts_are_listed_and_the_plan_is_empty(tmp_path: Path) -> None:
    live = org()
    root = new_project(tmp_path)
    report = do_import(root, live)
    assert report.adopted_state is None
    assert len(report.skipped_unmanaged) == 30
    text = imported(root).read_text()
    tail = text[text.index("# Not imported (no externalId; decide by hand"):]
    assert all(f"#   {name}" in tail for name in report.skipped_unmanaged)
    assert tail.count("\n#   ") == 30
    p = plan(root, live, State(target="app"))
    assert kinds(p) == []  # the accounts left out are unmanaged: counted, never touched
    assert p.unmanaged["users"] == 30


def test_without_adopt_generated_keys_become_explicit_adoptions(tmp_path: Path) -> None:
    live = org()
    root = new_project(tmp_path)
    report = do_import(root, live, include_unmanaged=True)
    assert report.adopted_state is None
    p = plan(root, live, State(target="app"))
    expected = sorted(generated_user_key(u.user_name) for u in live.users if u.external_id is None)
    assert sorted(k for kind, k in kinds(p) if kind == "adopt_user") == expected
    assert {kind for kind, _ in kinds(p)} == {"adopt_user"}


def test_output_format_is_stable_and_sorted(tmp_path: Path) -> None:
    live = org()
    a = new_project(tmp_path / "a")
    b = new_project(tmp_path / "b")
    do_import(a, live, include_unmanaged=True)
    shuffled = LiveState(users=tuple(reversed(live.users)), groups=tuple(reversed(live.groups)))
    do_import(b, shuffled, include_unmanaged=True, now=LATER.replace(tzinfo=timezone.utc))
    ta, tb = imported(a).read_text().splitlines(), imported(b).read_text().splitlines()
    differ = [(x, y) for x, y in zip(ta, tb, strict=True) if x != y]
    assert differ == [(
        "# Imported from target 'app' (profile generic) by `reconcile import` at 2026-12-04T13:04:50Z.",
        "# Imported from target 'app' (profile generic) by `reconcile import` at 2027-01-02T03:04:05Z.",
    )]
    assert ta[0] == "# yaml-language-server: $schema=../schemas/desired-state.schema.json"
    data = YAML(typ="safe").load(imported(a).read_text())
    names = [u["userName"] for u in data["users"]]
    assert names == sorted(names, key=str.casefold)
    shown = [g["displayName"] for g in data["groups"]]
    assert shown == sorted(shown, key=str.casefold)
    for g in data["groups"]:
        assert g["members"] == sorted(g["members"], key=str.casefold)
        assert set(g) == {"externalId", "displayName", "members"}


def test_keys_written_only_when_known_or_different(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    live = LiveState(users=(
        LiveUser(id="1", external_id="e1", user_name="a@example.com", emails=("A@Example.com",)),
        LiveUser(id="2", external_id="e2", user_name="b@example.com", emails=("b2@example.com", "b@example.com"),
                 display_name="Bee", given_name="B", active=False),
        LiveUser(id="3", external_id="e3", user_name="robot-7", emails=("robot-7@example.com",), family_name="Bot"),
    ))
    do_import(root, live)
    users = YAML(typ="safe").load(imported(root).read_text())["users"]
    assert users == [
        {"externalId": "e1", "userName": "a@example.com"},
        {"externalId": "e2", "userName": "b@example.com", "displayName": "Bee", "name": {"givenName": "B"},
         "emails": [{"value": "b2@example.com", "primary": True}, {"value": "b@example.com"}], "active": False},
        {"externalId": "e3", "userName": "robot-7", "name": {"familyName": "Bot"},
         "emails": [{"value": "robot-7@example.com", "primary": True}]},
    ]
    text = imported(root).read_text()
    assert "    active: false  # disabled on the target\n" in text
    assert "# 1 account(s) are disabled on the target: imported with active: false." in text
    assert kinds(plan(root, live, State(target="app"))) == []


def test_refuses_to_overwrite_without_merge(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    imported(root).write_text("users: []\n")
    with pytest.raises(ReconcilerError, match=r"exists: use --merge .* or --out FILE"):
        do_import(root, org(20, 2))
    assert imported(root).read_text() == "users: []\n"
    out = tmp_path / "preview" / "org.yaml"
    report = do_import(root, org(20, 2), out=out)
    assert report.files_written == [out]
    assert out.read_text().startswith("# yaml-language-server: $schema=../schemas/desired-state.schema.json\n")


def test_warns_when_a_plain_import_duplicates_declared_entries(tmp_path: Path) -> None:
    live = org(20, 2)
    root = new_project(tmp_path)
    do_import(root, live, out=root / "desired-state" / "first.yaml")
    report = do_import(root, live)
    assert any("declared twice" in w for w in report.warnings)


def test_generated_keys_are_stable() -> None:
    assert generated_user_key(" Bob@Example.COM") == generated_user_key("bob@example.com")
    assert re.fullmatch(r"imported-[0-9a-f]{12}", generated_user_key("bob"))
    assert generated_group_key("abc") == generated_group_key("abc") != generated_group_key("abd")


@pytest.mark.parametrize("value", [
    "plain", "yes", "No", "NULL", "~", "true", "on", "y", "123", "1e3", "0x1F", "0o17", "1_000", ".5", "+1",
    "2024-01-31", "2024-01-31 team", "12:30", "-dash", "a: b", "a #b", "#x", "O'Neil", '"q"', "back\\slash",
    "tab\there", "new\nline", "Zoë Ünal", "emoji 🎉", " lead", "trail ", "@at", "`tick", "[x]", "{y}", "a,b",
    "*star", "&amp", "!bang", "%pct", "|pipe", ">gt", "?q", "=", "<<", "line\u2028sep", "nbsp\u00a0x", "bell\x07",
    "", "svc-01", "user@example.com", "a/b", "C++", "x=1", "50%",
])
def test_scalars_read_back_exactly(value: str) -> None:
    text = f"a: {scalar(value)}\nb: {{k: {scalar(value)}}}\nc: [{scalar(value)}, x]\nd:\n  - {scalar(value)}\n"
    data = YAML(typ="safe").load(text)
    assert data == {"a": value, "b": {"k": value}, "c": [value, "x"], "d": [value]}


# --- Bitwarden: members are never returned --------------------------------------------------------------


def test_bitwarden_members_come_from_the_state(tmp_path: Path) -> None:
    live = org(120, 12, members=False)
    by_name = {u.user_name: u for u in live.users}
    g0 = next(g for g in live.groups if g.external_id == "grp-001")
    known = tuple(sorted(by_name[f"user{i:04d}@example.com"].id for i in (1, 2, 3, 10)))  # 10: no externalId
    state = State(target="app", groups={"grp-001": ManagedGroup(
        external_id="grp-001", id=g0.id, display_name=g0.display_name, members=known)})
    root = new_project(tmp_path, "bitwarden")
    report = do_import(root, live, state, profile="bitwarden", adopt=True)
    text = imported(root).read_text()
    assert "# Bitwarden never returns group members through SCIM" in text.split("users:")[0]
    assert any("Bitwarden never returns group members" in w for w in report.warnings)
    groups = {g["externalId"]: g for g in YAML(typ="safe").load(text)["groups"]}
    assert groups["grp-001"]["members"] == ["user0001@example.com", "user0002@example.com", "user0003@example.com"]
    assert groups["grp-002"]["members"] == []
    assert "members: []  # unknown: the target never returns members; fill in by hand" in text
    assert report.adopted_state is not None
    assert report.adopted_state.groups["grp-001"].members == known  # what the state knew, unknown ones kept
    assert set(report.adopted_state.groups) == {"grp-001"}  # unknown members: never claimed empty
    p = plan(root, live, report.adopted_state)
    assert kinds(p) == []
    # the groups whose members nobody knows: a warning each, never a removal
    assert sum("members cannot be read from bitwarden" in w for w in p.warnings) == 11


# --- merge -------------------------------------------------------------------------------------------


def people_org() -> LiveState:
    """The organisation behind tests/importer/people.yaml, plus what is new on the target."""
    users = (
        LiveUser(id="id-alice", external_id="u-100", user_name="alice@example.com", display_name="Alice Liddell",
                 emails=("alice@example.com",)),
        LiveUser(id="id-carol", external_id="u-099", user_name="carol@example.com", given_name="Carol",
                 family_name="Danvers", emails=("carol@example.com",)),
        LiveUser(id="id-owner", user_name="owner@example.com", display_name="Owner",
                 emails=("owner@example.com",)),  # invited by hand
        LiveUser(id="id-dave", external_id="u-200", user_name="dave@example.com", display_name="Dave",
                 emails=("dave@example.com",)),
        LiveUser(id="id-erin", external_id="u-201", user_name="erin@example.com", display_name="Erin",
                 emails=("erin@example.com",), active=False),
        LiveUser(id="id-frank", user_name="frank@example.com", display_name="Frank",
                 emails=("frank@example.com",)),  # manual invite
    )
    groups = (
        LiveGroup(id="gid-ops", external_id="grp-ops", display_name="Ops", members=("id-alice", "id-carol")),
        LiveGroup(id="gid-admins", external_id="grp-admins", display_name="Admins", members=("id-alice",)),
        LiveGroup(id="gid-sales", external_id="grp-sales", display_name="Sales",
                  members=("id-dave", "id-erin", "id-frank", "id-owner")),
    )
    return LiveState(users=users, groups=groups)


def hand_project(tmp_path: Path, name: str = "people.yaml") -> tuple[Path, Path, str]:
    root = new_project(tmp_path)
    original = (HERE / "people.yaml").read_text()
    path = root / "desired-state" / name
    path.write_text(original)
    return root, path, original


def test_merge_keeps_every_existing_byte_of_a_hand_written_file(tmp_path: Path) -> None:
    root, path, original = hand_project(tmp_path)
    report = do_import(root, people_org(), merge=True, adopt=True)
    merged = path.read_text()
    assert merged == (HERE / "people.merged.yaml").read_text()  # the whole expected text
    assert report.files_written == [path] and report.users == 2 and report.groups == 1
    assert report.skipped_unmanaged == ["frank@example.com"]
    # the original, cut only where new lines were inserted, is all still there, in order
    cuts = [original.index(line) + len(line) for line in (
        "members: [alice@example.com]}\n", "displayName: Owner} # invited by hand once\n")]
    segments = [original[: cuts[0]], original[cuts[0] : cuts[1]], original[cuts[1] :]]
    at = 0
    for seg in segments:
        found = merged.index(seg, at)
        assert at == 0 or found > at  # something was inserted between two segments, nothing lost
        at = found + len(seg)
    assert merged.startswith(segments[0]) and merged.count(segments[2]) == 1
    # it loads, checks, and the next plan has nothing to do
    assert report.adopted_state is not None
    assert report.adopted_state.users["u-050"] == ManagedUser(
        external_id="u-050", id="id-owner", user_name="owner@example.com", origin="adopted")
    assert kinds(plan(root, people_org(), report.adopted_state)) == []


def test_merge_again_changes_nothing(tmp_path: Path) -> None:
    root, path, _ = hand_project(tmp_path)
    do_import(root, people_org(), merge=True)
    once = path.read_text()
    report = do_import(root, people_org(), merge=True)
    assert report.files_written == [] and report.users == 0 and report.groups == 0
    assert path.read_text() == once
    assert "already declared: 5 users and 3 groups" in report.text


def test_merge_keeps_crlf_line_endings(tmp_path: Path) -> None:
    root, path, original = hand_project(tmp_path)
    path.write_bytes(original.replace("\n", "\r\n").encode())
    do_import(root, people_org(), merge=True)
    expected = (HERE / "people.merged.yaml").read_text().replace("\n", "\r\n").encode()
    assert path.read_bytes() == expected


def test_merge_appends_to_the_first_file_holding_each_section(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    d = root / "desired-state"
    (d / "a-groups.yaml").write_text("groups:\n  - {externalId: g-x, displayName: X, members: []}\n")
    (d / "b-users.yaml").write_text("# users\nusers:\n")  # an empty section
    (d / "c-users.yaml").write_text("users:\n  - {externalId: u-zz, userName: zz@example.com}\n")
    before_c = (d / "c-users.yaml").read_text()
    live = LiveState(
        users=(LiveUser(id="1", external_id="u-1", user_name="one@example.com"),),
        groups=(LiveGroup(id="g", external_id="g-1", display_name="One", members=("1",)),),
    )
    report = do_import(root, live, merge=True)
    assert report.files_written == [d / "a-groups.yaml", d / "b-users.yaml"]
    assert (d / "b-users.yaml").read_text() == (
        "# users\nusers:\n  - externalId: u-1\n    userName: one@example.com\n"
    )
    assert (d / "a-groups.yaml").read_text() == (
        "groups:\n  - {externalId: g-x, displayName: X, members: []}\n"
        "  - externalId: g-1\n    displayName: One\n    members:\n      - one@example.com\n"
    )
    assert (d / "c-users.yaml").read_text() == before_c


def test_merge_without_any_section_writes_the_new_file(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    d = root / "desired-state"
    (d / "flow.yaml").write_text("users: []\ngroups: []\n")  # flow sequences: not appended to
    live = org(30, 3)
    report = do_import(root, live, merge=True)
    assert report.files_written == [imported(root)]
    assert (d / "flow.yaml").read_text() == "users: []\ngroups: []\n"
    assert kinds(plan(root, live, State(target="app"))) == []


def test_merge_into_an_earlier_import_that_lacks_a_section(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    imported(root).write_text("# only groups so far\ngroups: []")  # no newline at the end
    live = LiveState(users=(LiveUser(id="1", external_id="u-1", user_name="one@example.com"),))
    do_import(root, live, merge=True)
    assert imported(root).read_text() == (
        "# only groups so far\ngroups: []\nusers:\n  - externalId: u-1\n    userName: one@example.com\n"
    )


def test_merge_refuses_a_file_that_does_not_parse(tmp_path: Path) -> None:
    root = new_project(tmp_path)
    bad = root / "desired-state" / "bad.yaml"
    bad.write_text("users:\n  - externalId: [unclosed\n")
    with pytest.raises(ReconcilerError, match="bad.yaml: cannot merge into a file that does not parse"):
        do_import(root, org(10, 1), merge=True)
    assert not imported(root).exists()


def test_merge_adopts_declared_accounts_without_writing_them_again(tmp_path: Path) -> None:
    """An owner declared by hand (no externalId on the target) is adopted under the declared key;
    an account declared with another externalId than the target's is left for the plan to adopt."""
    root, path, _ = hand_project(tmp_path)
    live = people_org()
    users = tuple(replace(u, external_id="u-999") if u.id == "id-carol" else u for u in live.users)
    live = live.model_copy(update={"users": users})
    report = do_import(root, live, merge=True, adopt=True, include_unmanaged=True)
    assert report.users == 3  # dave, erin, frank (generated key)
    assert any("already declared with externalId 'u-099', but the target has 'u-999'" in w for w in report.warnings)
    assert report.adopted_state is not None
    assert "u-099" not in report.adopted_state.users and "u-999" not in report.adopted_state.users
    assert report.adopted_state.users["u-050"].id == "id-owner"
    assert report.adopted_state.users[generated_user_key("frank@example.com")].id == "id-frank"
    assert "# Not imported" not in path.read_text()
    assert kinds(plan(root, live, report.adopted_state)) == [("adopt_user", "u-099")]  # sets u-099 on it


# --- adoption details ----------------------------------------------------------------------------------


def test_adopt_keeps_what_the_state_knew_and_one_key_per_id(tmp_path: Path) -> None:
    live = LiveState(
        users=(
            LiveUser(id="1", external_id="u-1", user_name="one@example.com"),
            LiveUser(id="2", user_name="two@example.com"),  # reconcile created it as u-2; externalId lost
            LiveUser(id="3", external_id="u-3", user_name="three@example.com"),
        ),
        groups=(LiveGroup(id="g", external_id="g-1", display_name="One", members=("1", "2")),),
    )
    state = State(target="app", serial=4, users={
        "u-1": ManagedUser(external_id="u-1", id="1", user_name="one@example.com", origin="created"),
        "u-2": ManagedUser(external_id="u-2", id="2", user_name="two@example.com", origin="created"),
        "old-3": ManagedUser(external_id="old-3", id="3", user_name="three@example.com"),
    })
    root = new_project(tmp_path)
    report = do_import(root, live, state, adopt=True)
    assert report.skipped_unmanaged == []  # managed by the state: imported under its key
    new = report.adopted_state
    assert new is not None and new.serial == 4 and new.lineage == state.lineage
    assert new.users["u-1"].origin == "created" and new.users["u-2"].origin == "created"
    assert "old-3" not in new.users and new.users["u-3"].id == "3"
    assert new.groups["g-1"].members == ("1", "2")


def test_generic_target_accepts_non_email_user_names(tmp_path: Path) -> None:
    live = LiveState(
        users=(LiveUser(id="1", external_id="e-1", user_name="jdoe", emails=("jdoe@example.com",)),
               LiveUser(id="2", user_name="build-bot", emails=("bot@example.com",))),
        groups=(LiveGroup(id="g", external_id="g-1", display_name="Builders", members=("1", "2")),),
    )
    root = new_project(tmp_path)
    report = do_import(root, live, include_unmanaged=True, adopt=True)
    assert report.adopted_state is not None
    assert kinds(plan(root, live, report.adopted_state)) == []


def test_a_user_name_that_reads_as_another_users_key_is_referenced_by_key(tmp_path: Path) -> None:
    live = LiveState(
        users=(LiveUser(id="1", external_id="bob", user_name="alice", emails=("a@example.com",)),
               LiveUser(id="2", external_id="b-2", user_name="bob", emails=("b@example.com",))),
        groups=(LiveGroup(id="g", external_id="g-1", display_name="G", members=("2",)),),
    )
    root = new_project(tmp_path)
    report = do_import(root, live, adopt=True)
    groups = YAML(typ="safe").load(imported(root).read_text())["groups"]
    assert groups[0]["members"] == ["b-2"]  # "bob" would resolve to the user whose externalId is bob
    assert report.adopted_state is not None
    assert kinds(plan(root, live, report.adopted_state)) == []


def test_accounts_without_emails_plan_nothing(tmp_path: Path) -> None:
    live = LiveState(users=(LiveUser(id="1", external_id="e-1", user_name="jdoe"),))
    root = new_project(tmp_path)
    do_import(root, live)
    assert kinds(plan(root, live, State(target="app"))) == []


def test_group_without_external_id_adopted_plans_nothing(tmp_path: Path) -> None:
    live = LiveState(
        users=(LiveUser(id="1", external_id="e-1", user_name="a@example.com", emails=("a@example.com",)),),
        groups=(LiveGroup(id="g", display_name="Hand made", members=("1",)),),
    )
    root = new_project(tmp_path)
    report = do_import(root, live, adopt=True)
    assert report.adopted_state is not None
    assert kinds(plan(root, live, report.adopted_state)) == []


def test_group_without_external_id_is_adopted_explicitly(tmp_path: Path) -> None:
    """Without --adopt, a group made by hand on the target is taken over explicitly: one
    UpdateGroup that writes the generated externalId, nothing else."""
    live = LiveState(
        users=(LiveUser(id="1", external_id="e-1", user_name="a@example.com", emails=("a@example.com",)),),
        groups=(LiveGroup(id="g", display_name="Hand made", members=("1",)),),
    )
    root = new_project(tmp_path)
    do_import(root, live)
    key = generated_group_key("g")
    assert kinds(plan(root, live, State(target="app"))) == [("update_group", key)]
    assert kinds(plan(root, live, State(target="app"))) == [("update_group", key)]


def test_summary_fits_on_a_screen(tmp_path: Path) -> None:
    live = org(2000, 200)
    root = new_project(tmp_path)
    report = do_import(root, live)
    assert len(report.text.splitlines()) <= 15
    assert "not imported: 200 accounts without an externalId" in report.text


# --- merge: layouts a hand-written file may have ----------------------------------------------------------

LAYOUTS = {
    "block scalar last": (
        "groups:\n  - externalId: g-a\n    displayName: A\n    description: |\n      kept\n        as is\n\n"
        "users:\n  - {externalId: u-a, userName: a@example.com}\n"
    ),
    "no newline at the end": "users:\n  - externalId: u-a\n    userName: a@example.com  # last",
    "indentless sequence": "users:\n- externalId: u-a\n  userName: a@example.com\ngroups:\n- externalId: g-a\n  displayName: A\n",
    "comments after the last item": (
        "users:\n  - externalId: u-a\n    userName: a@example.com\n    # - externalId: u-old\n    #   userName: old@example.com\n"
        "\n# trailer\n"
    ),
    "empty sections": "# start\nusers:  # nobody yet\ngroups:\n",
    "flow root": "{users: [], groups: []}\n",
    "crlf and a tab-free odd indent": "users:\r\n   -   externalId: u-a\r\n       userName: a@example.com\r\n",
    "unicode and quotes": "users:\n  - {externalId: 'u-ä', userName: \"zoe@example.com\", displayName: \"Zoë \\u00dc\"}\n",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_merge_only_inserts_lines(tmp_path: Path, layout: str) -> None:
    root = new_project(tmp_path)
    path = root / "desired-state" / "hand.yaml"
    original = LAYOUTS[layout]
    path.write_bytes(original.encode())
    live = LiveState(
        users=(LiveUser(id="1", external_id="u-new", user_name="new@example.com", emails=("new@example.com",)),),
        groups=(LiveGroup(id="g", external_id="g-new", display_name="New", members=("1",)),),
    )
    report = do_import(root, live, merge=True)
    merged = path.read_bytes().decode()
    ops = difflib.SequenceMatcher(None, original.splitlines(True), merged.splitlines(True), autojunk=False).get_opcodes()
    assert {tag for tag, *_ in ops} <= {"equal", "insert"} or (
        layout == "no newline at the end" and merged.startswith(original)
    ), ops
    project = load_project(root)
    assert [d.render() for d in check_project(project, env={"APP_TOKEN": "x"})] == []
    assert "u-new" in {u.external_id for u in project.desired.users}
    assert "g-new" in {g.external_id for g in project.desired.groups}
    if layout == "flow root":  # cannot be appended to: left alone, the new entries go to a new file
        assert merged == original and report.files_written == [imported(root)]
    else:  # users appended here; groups too where the file has them, else in a new file
        assert path in report.files_written
        assert (imported(root) in report.files_written) == ("groups:" not in original)


def test_merge_with_out_puts_new_entries_there(tmp_path: Path) -> None:
    root, path, original = hand_project(tmp_path)
    out = root / "desired-state" / "zz-new.yaml"
    report = do_import(root, people_org(), merge=True, out=out)
    assert path.read_text() == original
    assert report.files_written == [out]
    data = YAML(typ="safe").load(out.read_text())
    assert [u["externalId"] for u in data["users"]] == ["u-200", "u-201"]
    assert [g["externalId"] for g in data["groups"]] == ["grp-sales"]
    assert out.read_text().rstrip().endswith("#   frank@example.com (Frank)")
    assert kinds(plan(root, people_org(), State(target="app"))) == [("adopt_user", "u-050")]

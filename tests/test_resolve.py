"""Resolution of the example project and of small hand-made ones: scope, groups, nesting."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config.checks import check_project
from reconciler.config.load import load_project
from reconciler.errors import Severity
from reconciler.resolve import build_graph, find_cycles, flatten, resolve

ROOT = Path(__file__).resolve().parent.parent


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def four_users_and(root: Path, groups: str) -> Path:
    """A project of users u0..u3@x.org, these group lines and a target that takes everyone."""
    return write(root, {
        "desired-state/u.yaml": "users:\n" + "".join(f"  - {{externalId: u{i}, userName: u{i}@x.org}}\n" for i in range(4)),
        "desired-state/g.yaml": "groups:\n" + groups,
        "policies/t.yaml": "connection: {url: 'http://x', token_env: T}\n",
    })


def test_example_project_is_valid() -> None:
    project = load_project(ROOT)
    errors = [d for d in check_project(project, env={}) if d.severity is Severity.ERROR]
    assert errors == []
    assert len(project.desired.users) == 15 and len(project.desired.groups) == 5
    assert [t.name for t in project.targets] == ["bitwarden", "wiki"]


def test_example_bitwarden_scope() -> None:
    project = load_project(ROOT)
    bw = next(t for t in project.targets if t.name == "bitwarden")
    ts = resolve(project.desired, bw)
    assert "00uBmallory" not in ts.users  # a contractor
    assert "00uBmallory" in ts.excluded
    assert "00uCniaj" in ts.users  # example.com employee outside the US
    assert len(ts.users) == 14
    eng = ts.groups["grp-engineering"]
    # nested Platform members are flattened into Engineering; the contractor is held, not granted
    assert {"00u3carol", "00u4dave"} <= eng.members
    assert "00uBmallory" in eng.held and "00uBmallory" not in eng.members


def test_example_wiki_selected_groups() -> None:
    project = load_project(ROOT)
    wiki = next(t for t in project.targets if t.name == "wiki")
    ts = resolve(project.desired, wiki)
    assert sorted(ts.groups) == ["grp-engineering", "grp-platform", "grp-security"]
    assert "00uCniaj" not in ts.users  # IN is not in [US, GB, CA] and not in Platform
    assert "00u3carol" in ts.users


def test_nested_flattening_and_cycle_detection(tmp_path: Path) -> None:
    four_users_and(
        tmp_path,
        "  - {externalId: a, displayName: A, members: [u0@x.org, 'group:b']}\n"
        "  - {externalId: b, displayName: B, members: [U1@X.ORG, 'group:C']}\n"
        "  - {externalId: c, displayName: C, members: [u2, 'group:a']}\n",
    )
    project = load_project(tmp_path)
    graph = build_graph(project.desired)
    assert find_cycles(graph) == [("a", "b", "c", "a")]
    flat = flatten(graph)
    assert flat["a"] == {"u0", "u1", "u2"}
    assert flat["c"] == {"u0", "u1", "u2"}
    diags = check_project(project, env={"T": "x"})
    assert any("cycle: a -> b -> c -> a" in d.message for d in diags)


def test_validate_and_explain_cli_on_examples() -> None:
    runner = CliRunner()
    env = {"BITWARDEN_SCIM_URL": "http://127.0.0.1:1/v2/org", "BITWARDEN_SCIM_TOKEN": "t" * 12, "WIKI_SCIM_TOKEN": "w" * 12}
    r = runner.invoke(cli, ["validate", "--root", str(ROOT)], env=env)
    assert r.exit_code == 0, r.output
    assert "ok: 15 users, 5 groups, 2 target(s)" in r.output
    r = runner.invoke(cli, ["explain", "mallory@contractors.example.net", "--root", str(ROOT)], env=env)
    assert r.exit_code == 0, r.output
    assert "target bitwarden: OUT of scope" in r.output
    assert '✗ attributes.employeeType equals "employee"    actual: "contractor"' in r.output
    assert "target wiki: IN scope" in r.output
    r = runner.invoke(cli, ["explain", "trent.r@example.com", "--root", str(ROOT), "--target", "wiki"], env=env)
    assert r.exit_code == 0 and "trent@example.com" in r.output  # found by a previous key
    r = runner.invoke(cli, ["explain", "nobody@example.com", "--root", str(ROOT)], env=env)
    assert r.exit_code == 1 and "no declared user" in r.output
    r = runner.invoke(cli, ["explain", "group:Engineering", "--root", str(ROOT)], env=env)
    assert r.exit_code == 0, r.output
    assert "declared members: 7 (5 listed directly, 2 through nested groups)" in r.output
    assert "    carol@example.com  (through Platform)" in r.output
    bitwarden, wiki = r.output.split("\ntarget wiki")
    assert "left out by the user filter: 1" in bitwarden and "    mallory@contractors.example.net" in bitwarden
    assert "    mallory@contractors.example.net" in wiki.split("left out")[0]  # the wiki rule takes her
    r = runner.invoke(cli, ["explain", "group:Sales", "--root", str(ROOT), "--target", "wiki"], env=env)
    assert r.exit_code == 0 and "group Go-To-Market (externalId grp-gtm)" in r.output  # an earlier name
    assert "target wiki: not selected (rule.groups: Engineering, Security, Platform)" in r.output
    r = runner.invoke(cli, ["explain", "group:nope", "--root", str(ROOT)], env=env)
    assert r.exit_code == 1 and "no declared group 'nope'" in r.output


def test_explain_group_names_the_nearest_nested_group(tmp_path: Path) -> None:
    from reconciler.explain import explain_group, find_group

    four_users_and(
        tmp_path,
        "  - {externalId: a, displayName: A, members: [u0@x.org, 'group:b', 'group:c']}\n"
        "  - {externalId: b, displayName: B, members: [u1@x.org, 'group:c']}\n"
        "  - {externalId: c, displayName: C, members: [u1@x.org, u2@x.org, u0@x.org]}\n",
    )
    project = load_project(tmp_path)
    group = find_group(project, "a")
    assert group is not None and find_group(project, "A") == group
    via, (t,) = explain_group(project, group, list(project.targets))
    assert via == {"u0@x.org": None, "u1@x.org": "B", "u2@x.org": "C"}
    assert t.selected and t.members == ("u0@x.org", "u1@x.org", "u2@x.org") and t.left_out == ()


def test_schema_files_are_current(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["schema", "--out", str(tmp_path)])
    assert r.exit_code == 0
    for name in ("desired-state.schema.json", "policy.schema.json"):
        assert (tmp_path / name).read_text() == (ROOT / "schemas" / name).read_text(), (
            f"schemas/{name} is stale: run `reconcile schema`"
        )


def test_example_files_reference_the_schema() -> None:
    for path in sorted((ROOT / "desired-state").glob("*.yaml")) + sorted((ROOT / "policies").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/"), path


def test_positions_survive_large_files(tmp_path: Path) -> None:
    users = "users:\n" + "".join(f"  - externalId: u{i}\n    userName: u{i}@x.org\n" for i in range(2000))
    users += "  - externalId: u5\n    userName: dup@x.org\n"
    write(tmp_path, {"desired-state/u.yaml": users, "policies/t.yaml": "connection: {url: 'http://x', token_env: T}\n"})
    diags = check_project(load_project(tmp_path), env={"T": "x"})
    assert [str(d.where) for d in diags] == ["desired-state/u.yaml:4002:17"]

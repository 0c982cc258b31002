"""CLI contracts on real servers: plan only reads, a partial read refuses, bad input never
writes, --auto-approve, state show / forget."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle.project import Project, kinds
from tests.servers.faultproxy import Fault, FaultProxy

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture
def proxied(tmp_path: Path, scim2_tenant: Any) -> Iterator[tuple[Project, FaultProxy]]:
    with FaultProxy(scim2_tenant.server_url) as proxy:
        p = Project(tmp_path, {"APP_URL": proxy.rebase(scim2_tenant.base_url), "APP_TOKEN": scim2_tenant.token}, "generic")
        p.write()
        yield p, proxy


def test_plan_sends_only_gets(proxied: tuple[Project, FaultProxy]) -> None:
    project, proxy = proxied
    project.converge()
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng]}]}"
    project.write()
    proxy.clear_log()
    plan = project.plan()
    assert plan["actions"]
    assert {e.method for e in proxy.log} == {"GET"}


def test_a_partial_read_makes_plan_refuse(proxied: tuple[Project, FaultProxy]) -> None:
    project, proxy = proxied
    project.converge()
    # the server keeps answering a page with fewer users than it announced
    def shorten(body: bytes) -> bytes:
        import json

        doc = json.loads(body)
        if doc.get("Resources"):
            doc["Resources"] = doc["Resources"][:-1]
        return json.dumps(doc).encode()

    proxy.every(1, Fault.rewrite(shorten), method="GET", path=r"/Users\?")
    r = project.run("plan", "--root", "{root}", expect=1)
    assert "ended short: 4 of 5 resources" in r.output and "nothing was planned from it" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("case", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()))
def test_bad_input_never_reaches_the_server(case: str, tmp_path: Path, bitwarden_server: Any) -> None:
    root = tmp_path / case
    shutil.copytree(CORPUS / case, root)
    for policy in (root / "policies").glob("*.yaml"):
        policy.write_text(policy.read_text().replace("http://127.0.0.1:9/v2", bitwarden_server.base_url))
    bitwarden_server.clear_log()
    project = Project(root, {"APP_TOKEN": bitwarden_server.token}, "bitwarden")
    for argv in (["plan", "--root", "{root}"], ["apply", "--auto-approve", "--root", "{root}"]):
        r = project.run(*argv, expect=1)
        assert "Traceback" not in r.output
        assert ":" in r.output.splitlines()[0]
    assert bitwarden_server.log() == []  # not a single request, let alone a write


def test_auto_approve_applies_and_converges(tmp_path: Path, scim2_tenant: Any) -> None:
    project = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    project.write()
    r = project.run("apply", "--auto-approve", "--root", "{root}")
    assert "create_user" in r.output and "failed" not in r.output.split("action")[-1].lower().replace("failed  ", "")
    assert project.plan(expect=0)["actions"] == []
    r = project.run("apply", "--root", "{root}", expect=2)  # no plan file, no flag, no terminal
    assert "--auto-approve" in r.output


def test_state_show_and_forget(tmp_path: Path, scim2_tenant: Any) -> None:
    project = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    project.write()
    project.converge()
    shown = project.run("state", "show", "--root", "{root}").output
    assert "managed users: 5" in shown and "dan@example.com (u-dan)" in shown
    # stop managing dan: drop him from desired-state and forget him; the account stays untouched
    from tests.lifecycle.project import USERS

    project.write(users=[u for u in USERS if u[0] != "u-dan"],
                  groups="groups:\n  - {externalId: g-eng, displayName: Engineering, members: [ann@example.com]}\n")
    r = project.run("state", "forget", "dan@example.com", "--target", "app", "--root", "{root}")
    assert "stopped managing dan@example.com" in r.output
    plan = project.plan()
    assert ("disable_user", "u-dan") not in kinds(plan) and plan["unmanaged"]["users"] == 1
    r = project.run("state", "forget", "nobody@example.com", "--target", "app", "--root", "{root}", expect=1)
    assert "is not managed" in r.output


def test_save_live_then_plan_offline_from_the_snapshot(tmp_path: Path, scim2_tenant: Any) -> None:
    project = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    project.write()
    project.converge()
    snap = tmp_path / "live.json"
    project.run("plan", "--root", "{root}", "--target", "app", "--save-live", str(snap))
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    offline = project.plan("--target", "app", "--snapshot", str(snap))
    online = project.plan()
    assert kinds(offline) == kinds(online) == [("disable_user", "u-dan")]

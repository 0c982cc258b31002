"""The audit log (reconciler/audit.py): every apply against a real scim2-server leaves who, which
plan and each action's outcome in .reconcile/audit/<target>.jsonl; `reconcile audit` shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.audit import actor, audit_file, read_audit, run_url
from tests.lifecycle.project import Project, kinds


@pytest.fixture
def project(tmp_path: Path, scim2_tenant: Any) -> Project:
    env = {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token,
           "GITHUB_ACTOR": "octocat", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "acme/people",
           "GITHUB_SERVER_URL": "https://github.com"}
    p = Project(tmp_path, env, "generic")
    p.write()
    return p


def records(project: Project) -> list[dict[str, Any]]:
    log = read_audit(audit_file(project.root, "app"))
    assert log.damaged == 0
    return list(log.records)


def test_an_apply_records_who_which_plan_and_every_outcome(project: Project) -> None:
    plan = project.plan()
    project.apply()
    got = records(project)
    assert [r["event"] for r in got] == ["apply_started"] + ["action"] * len(plan["actions"]) + ["apply_finished"]
    start, *actions, end = got
    assert start["actor"] == "github:octocat"
    assert start["run"] == "https://github.com/acme/people/actions/runs/42"
    assert start["plan"] == plan["checksum"] and start["actions"] == len(plan["actions"])
    assert sorted((a["kind"], a["key"]) for a in actions) == sorted(kinds(plan))
    assert all(a["status"] == "ok" and a["plan"] == plan["checksum"] for a in actions)
    assert all(a["id"] for a in actions)  # the SCIM id of what was created
    assert (end["ok"], end["failed"], end["skipped"]) == (len(actions), 0, 0)
    assert end["state_serial"] >= 1
    assert project.env["APP_TOKEN"] not in audit_file(project.root, "app").read_text()


def test_a_refused_plan_is_recorded_and_the_log_only_grows(project: Project, scim2_tenant: Any) -> None:
    project.converge()
    before = audit_file(project.root, "app").read_text()
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    project.plan()
    dan = next(r for r in records(project) if r.get("key") == "u-dan")
    httpx.patch(  # the world moves: someone edits the account the plan disables
        f"{scim2_tenant.base_url}/Users/{dan['id']}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "displayName", "value": "Daniel"}]},
        headers={"Authorization": f"Bearer {scim2_tenant.token}"},
    ).raise_for_status()
    project.apply(expect=1)
    text = audit_file(project.root, "app").read_text()
    assert text.startswith(before)  # appended, never rewritten
    last = records(project)[-2:]
    assert [r["event"] for r in last] == ["apply_started", "apply_refused"]
    assert "plan is stale" in last[1]["reason"]


def test_the_audit_command_filters_and_renders(project: Project) -> None:
    project.converge()
    shown = project.run("audit", "--root", "{root}").output
    assert "apply by github:octocat of plan sha256:" in shown
    assert "ok      create_user ann@example.com" in shown
    assert "finished: 9 ok, 0 failed, 0 skipped" in shown
    ann = project.run("audit", "--root", "{root}", "--key", "ann@example.com").output.splitlines()
    assert len(ann) == 1 and "create_user ann@example.com" in ann[0]
    assert project.run("audit", "--root", "{root}", "--key", "u-ann", "--json").output.count("\n") == 1
    assert project.run("audit", "--root", "{root}", "--since", "2999-01-01").output == ""
    bad = project.run("audit", "--root", "{root}", "--since", "last week", expect=2).output
    assert "2026-12-01T09:00:00Z" in bad
    missing = project.run("audit", "--root", "{root}", "--target", "other", expect=1).output
    assert "no audit log for target 'other'" in missing


def test_a_line_cut_short_by_a_crash_is_skipped_and_said(project: Project) -> None:
    project.converge()
    path = audit_file(project.root, "app")
    whole = len(read_audit(path).records)
    with path.open("a") as fh:
        fh.write('{"at": "2026-12-04T12:00:00Z", "event": "act')  # a kill -9 mid-line
    log = read_audit(path)
    assert (len(log.records), log.damaged) == (whole, 1)
    r = project.run("audit", "--root", "{root}")
    assert "1 damaged line(s) skipped" in r.output
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()  # the next apply appends on a line of its own
    assert kinds(project.plan()) == [("disable_user", "u-dan")]
    project.apply()
    log = read_audit(path)
    assert log.damaged == 1 and log.records[-1]["event"] == "apply_finished"


def test_actor_and_run_outside_github(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    assert actor({"GITHUB_ACTOR": "octocat"}) == "github:octocat"
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    assert actor({}) == "alice"

    def no_login() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_login)
    assert actor({}) == "unknown"
    assert run_url({}) is None
    assert run_url({"GITHUB_RUN_ID": "7", "GITHUB_REPOSITORY": "a/b", "GITHUB_SERVER_URL": "https://github.com"}) \
        == "https://github.com/a/b/actions/runs/7"


def test_an_apply_that_cannot_be_audited_does_not_start(project: Project, scim2_tenant: Any) -> None:
    audit_file(project.root, "app").mkdir(parents=True)  # a directory where the log should be
    project.plan()
    r = project.apply(expect=1)
    assert "cannot write the audit log" in r.output and "nothing was applied" in r.output
    assert "Traceback" not in r.output
    users = httpx.get(scim2_tenant.base_url + "/Users", headers={"Authorization": f"Bearer {scim2_tenant.token}"})
    assert users.json()["totalResults"] == 0


class FailingFile:
    """A file whose disk fills up after `room` lines."""

    def __init__(self, room: int) -> None:
        self.room, self.lines, self.closed = room, [], False

    def write(self, text: str) -> None:
        if len(self.lines) >= self.room:
            raise OSError(28, "No space left on device")
        self.lines.append(text)

    def flush(self) -> None: ...
    def fileno(self) -> int: raise OSError(28, "No space left on device")
    def close(self) -> None: self.closed = True


def test_a_disk_that_fills_up_mid_apply_does_not_stop_the_apply(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from reconciler.apply import Outcome
    from reconciler.audit import AuditLog

    plan = SimpleNamespace(target="app", checksum="sha256:x", actions=(),
                           desired=SimpleNamespace(commit=None, dirty=False, digest="d"),
                           connection=SimpleNamespace(url="http://x"))
    audit = AuditLog(tmp_path, plan, lambda: "2026-12-04T00:00:00Z", env={})  # type: ignore[arg-type]
    audit._fh.close()
    audit._fh = FailingFile(room=2)  # type: ignore[assignment]
    audit.started()
    for i in range(5):  # the third line fails: no exception reaches the apply
        audit.outcome(Outcome("create_user", f"u{i}", f"u{i}@x.org", "ok"))
    audit.close()
    assert len(audit._fh.lines) == 2 and audit._fh.closed  # type: ignore[attr-defined]
    assert isinstance(audit.broken, OSError)
    assert [r.message for r in caplog.records].count(
        f"could not write the audit log {audit.path} (No space left on device); the apply goes on, "
        "the rest of its log is lost") == 1

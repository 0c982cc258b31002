"""The git state backend end to end: plan and apply with `state: {backend: git}` in a clone of a
real bare repository; one commit per apply on the state branch naming the plan checksum."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.lifecycle.project import Project, kinds

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**GIT_ENV, "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}).stdout


def test_apply_commits_state_to_the_branch(tmp_path: Path, scim2_tenant: Any) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "-b", "main", str(bare))
    root = tmp_path / "repo"
    git(tmp_path, "clone", str(bare), str(root))
    project = Project(root, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token, **GIT_ENV},
                      "generic", extra_policy="state: {backend: git}\n")
    project.write()
    git(root, "add", "-A")
    git(root, "commit", "-m", "desired state")
    git(root, "push", "origin", "main")
    plan = project.plan()
    assert plan["state"]["backend"] == "git" and plan["desired"]["dirty"] is False
    project.apply()
    log = git(bare, "log", "--format=%B", "reconcile-state")
    assert plan["checksum"] in log
    state = json.loads(git(bare, "show", "reconcile-state:app.json"))
    assert set(state["users"]) == {"u-ann", "u-ben", "u-cat", "u-dan", "u-eve"}
    assert project.plan(expect=0)["actions"] == []
    # the user's working tree is untouched; .reconcile/ ignores itself (no .gitignore needed)
    assert git(root, "status", "--porcelain") == "?? plan.json\n"
    # a second apply lands as a second commit
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    assert kinds(project.plan()) == [("disable_user", "u-dan")]
    project.apply()
    assert len(git(bare, "rev-list", "reconcile-state").split()) == 2
    # the branch's history is the apply log: each commit lists its actions and their outcomes
    last, first = git(bare, "log", "--format=%B%x00", "reconcile-state").split("\x00")[:2]
    dan = state["users"]["u-dan"]["id"]
    assert f"Actions:\n  ok disable_user dan@example.com (id {dan})\n\nPlan-Checksum:" in last
    assert first.count("\n  ok create_user ") == 5 and "\n  ok create_group Engineering (id " in first

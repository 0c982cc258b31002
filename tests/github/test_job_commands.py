"""preflight, explain-changes and summary: what a job needs besides the GitHub API."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.github.runner import mask_lines
from tests.github.conftest import GhCli
from tests.lifecycle.project import GROUPS, USERS, Project

SCIM_TOKEN = "scim-SECRET-value-do-not-leak"


def _project(root: Path, state: str = "git") -> Project:
    p = Project(root, {}, "generic", extra_policy=f"state: {{backend: {state}}}\n")
    p.write()
    return p


def test_preflight_masks_tokens_only_on_a_runner(gh: GhCli, tmp_path: Path) -> None:
    _project(tmp_path)
    env = {"APP_URL": "http://127.0.0.1:9/v2", "APP_TOKEN": SCIM_TOKEN + "\n"}
    r = gh("preflight", "--root", str(tmp_path), env={**env, "GITHUB_ACTIONS": "true"})
    assert r.stdout.splitlines()[0] == f"::add-mask::{SCIM_TOKEN}"
    assert "preflight ok: 1 target(s) (app); state on git branch reconcile-state" in r.stdout
    gh.outputs.pop()  # this output carries the token by design: the runner consumes it
    r = gh("preflight", "--root", str(tmp_path), env=env)
    assert "add-mask" not in r.output


def test_preflight_refuses_missing_secrets_and_local_state(gh: GhCli, tmp_path: Path) -> None:
    _project(tmp_path, state="local")
    r = gh("preflight", "--root", str(tmp_path), env={"APP_URL": "http://x/v2", "APP_TOKEN": " "}, expect=1)
    assert "the secret APP_TOKEN is empty in this step" in r.output
    assert "its state backend is 'local'" in r.output and "set `state: {backend: git}`" in r.output
    assert "preflight found 2 problem(s)" in r.output


def test_mask_lines_cover_variants() -> None:
    assert mask_lines(["  abc\ndef  "]) == ["::add-mask::abc", "::add-mask::abc\ndef", "::add-mask::def"]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_explain_changes_lists_exactly_the_affected_users(gh: GhCli, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    p = _project(root)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@x", "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "base")
    users = [u for u in USERS if u[0] != "u-eve"]                       # eve removed
    users = [(e, n, "hr" if e == "u-dan" else d) for e, n, d in users]  # dan leaves the rule
    p.write(users=users, groups=GROUPS.replace(", eve@example.com", ""))
    (root / "desired-state" / "users.yaml").write_text(
        (root / "desired-state" / "users.yaml").read_text().replace("Ben Example", "Benjamin Example")
    )
    _git(root, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "change")
    out = tmp_path / "fork.md"
    gh("explain-changes", "--base", "HEAD^1", "--root", str(root), "--out", str(out))
    text = out.read_text()
    assert "no plan was made" in text and "**validate:** ✅ 4 users" in text
    assert "**Users this pull request affects** (2):" in text
    assert "<code>ben@example.com</code>" in text and "<code>dan@example.com</code>" in text
    assert "target app: OUT of scope" in text  # dan's explanation
    assert "ann@example.com</code>" not in text and "cat@example.com</code>" not in text
    assert "- `eve@example.com` (`u-eve`)" in text

    gh("explain-changes", "--base", "HEAD^1", "--root", str(root), "--out", str(out), "--redact")
    redacted = out.read_text()
    assert "@example.com" not in redacted and "u-eve" not in redacted and "•••@e•••.com" in redacted


def test_explain_changes_with_invalid_files(gh: GhCli, tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "desired-state" / "users.yaml").write_text("users:\n  - userName: nobody@example.com\n")
    out = tmp_path / "fork.md"
    gh("explain-changes", "--base", "HEAD", "--root", str(tmp_path), "--out", str(out))
    assert "**validate:** ❌ the files have errors" in out.read_text()


def test_summary_appends_redacted_code(gh: GhCli, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    body = gh.body("[1/2] create_user ann@example.com: ok\n```\n")
    gh("summary", "--body-file", body, "--title", "reconcile apply", "--code", "--redact",
       env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("before\n### reconcile apply\n\n```text\n[1/2] create_user a•••@e•••.com: ok")
    assert text.count("```") == 2
    r = gh("summary", "--body-file", body, env={"GITHUB_STEP_SUMMARY": ""}, expect=1)
    assert "GITHUB_STEP_SUMMARY is not set" in r.output

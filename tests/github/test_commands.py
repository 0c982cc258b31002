"""`reconcile github ...` against the local GitHub stand-in (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from reconciler.github.api import GitHub, GitHubError, GitHubSetupError
from reconciler.github.bodies import COMMENT_LIMIT, marker_line
from tests.github.conftest import READ_ONLY_TOKEN, REPO, TOKEN, GhCli
from tests.github.standin import StandIn, zip_dir

# -- visibility -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "setting", "flag"),
    [
        ("private", "", ""),
        ("private", "always", "--redact"),
        ("private", "auto", ""),
        ("public", "", "--redact"),
        ("internal", "", "--redact"),
    ],
)
def test_visibility_and_redact_flag(gh: GhCli, standin: StandIn, visibility: str, setting: str, flag: str) -> None:
    standin.repo(REPO).visibility = visibility
    assert gh("visibility").stdout.strip() == visibility
    assert gh("visibility", "--redact-flag", env={"RECONCILE_REDACT": setting}).stdout.strip() == flag


def test_unknown_redact_setting_is_an_error(gh: GhCli) -> None:
    r = gh("visibility", "--redact-flag", env={"RECONCILE_REDACT": "never"}, expect=1)
    assert "RECONCILE_REDACT='never' is not a known setting" in r.output


# -- comment ----------------------------------------------------------------------------------


def test_comment_created_then_updated_in_place(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="b" * 40)
    for i in range(3):  # other people's comments, over several pages
        standin.repo(REPO).comments_on(pr).append(
            {"id": 10 + i, "body": f"looks good {i}", "user": {"login": "reviewer"}, "html_url": ""}
        )
    r = gh("comment", "--pr", str(pr), "--body-file", gh.body("first plan"))
    assert r.stdout.startswith("created ")
    r = gh("comment", "--pr", str(pr), "--body-file", gh.body("second plan"))
    assert r.stdout.startswith("updated ")
    mine = [c for c in standin.repo(REPO).comments_on(pr) if c["user"]["login"] == "github-actions[bot]"]
    assert len(mine) == 1
    body = mine[0]["body"]
    assert body.splitlines()[0] == marker_line("reconcile-plan")
    assert "second plan" in body and "first plan" not in body
    assert "[run #17](https://github.example/acme/members/actions/runs/4242)" in body
    r = gh("comment", "--pr", str(pr), "--body-file", gh.body("second plan"))
    assert r.stdout.startswith("unchanged ")
    assert not [x for x in standin.requests if x.method == "PATCH" and x.path.endswith(str(mine[0]["id"]))][1:]


def test_comment_never_touches_someone_elses_marker(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="b" * 40)
    forged: dict[str, Any] = {"id": 5, "body": marker_line("reconcile-plan") + "\nall fine, merge it", "user": {"login": "mallory"},
              "html_url": ""}
    standin.repo(REPO).comments_on(pr).append(forged)
    gh("comment", "--pr", str(pr), "--body-file", gh.body("the real plan"))
    comments = standin.repo(REPO).comments_on(pr)
    assert forged["body"].endswith("all fine, merge it")
    assert len(comments) == 2 and "the real plan" in comments[1]["body"]


def test_markers_are_separate_comments(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="b" * 40)
    gh("comment", "--pr", str(pr), "--body-file", gh.body("plan"))
    gh("comment", "--pr", str(pr), "--marker", "reconcile-apply", "--body-file", gh.body("new plan"))
    assert len(standin.repo(REPO).comments_on(pr)) == 2
    gh("comment", "--pr", str(pr), "--marker", "not a marker!", "--body-file", gh.body("x"), expect=2)


def test_comment_failed_banner_note_and_size_limit(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="b" * 40)
    huge = "<details><summary>x</summary>\n\n```diff\n" + "\n".join(f"+ user{i}@example.com" for i in range(9000))
    gh("comment", "--pr", str(pr), "--body-file", gh.body(huge), "--failed", "--note", "Merging applies this.")
    body = standin.repo(REPO).comments_on(pr)[0]["body"]
    assert len(body) <= COMMENT_LIMIT
    assert "**This run failed**" in body and "_Merging applies this._" in body
    assert "Cut to fit GitHub's size limit" in body
    cut = body.split("✂️")[0]
    assert cut.count("```") % 2 == 0 and cut.count("<details") == cut.count("</details>")


def test_comment_with_a_read_only_token(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="b" * 40, head_repo="someone/fork")
    env = {"GITHUB_TOKEN": READ_ONLY_TOKEN}
    r = gh("comment", "--pr", str(pr), "--body-file", gh.body("x"), env=env, expect=1)
    assert "GitHub answered 403: Resource not accessible by integration" in r.output
    r = gh("comment", "--pr", str(pr), "--body-file", gh.body("x"), "--best-effort",
           env={**env, "GITHUB_ACTIONS": "true"})
    assert "::warning::could not comment on pull request" in r.output
    assert standin.repo(REPO).comments_on(pr) == []


# -- issue ------------------------------------------------------------------------------------


def test_drift_issue_open_update_close(gh: GhCli, standin: StandIn) -> None:
    repo = standin.repo(REPO)
    standin.add_pull(REPO, head_sha="c" * 40)  # pull requests appear in the issues list too
    human = {"number": 50, "title": "drift?", "body": "I think wiki drifted", "state": "open",
             "labels": [{"name": "reconcile-drift"}], "user": {"login": "alice"}, "html_url": ""}
    repo.issues[50] = human
    gh("issue", "--label", "reconcile-drift", "--close-if-clean", "--body-file", gh.body("clean"))
    assert human["state"] == "open"

    r = gh("issue", "--label", "reconcile-drift", "--title", "drift", "--body-file", gh.body("plan 1"))
    assert r.stdout.startswith("opened ")
    gh("issue", "--label", "reconcile-drift", "--title", "drift", "--body-file", gh.body("plan 2"))
    ours = [i for i in repo.open_issues("reconcile-drift") if i["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1 and "plan 2" in ours[0]["body"]
    assert ours[0]["body"].startswith(marker_line("reconcile-issue:reconcile-drift"))

    r = gh("issue", "--label", "reconcile-drift", "--close-if-clean", "--body-file", gh.body("no changes"))
    assert r.stdout.startswith("closed ")
    assert ours[0]["state"] == "closed" and ours[0]["state_reason"] == "completed"
    assert "Clean again" in repo.comments_on(ours[0]["number"])[0]["body"]
    assert human["state"] == "open" and human["body"] == "I think wiki drifted"
    gh("issue", "--label", "reconcile-drift", "--body-file", gh.body("x"), expect=2)  # no title


def test_drift_issue_found_again_when_its_label_was_dropped(gh: GhCli, standin: StandIn) -> None:
    standin.drop_labels = True
    gh("issue", "--label", "reconcile-drift", "--title", "drift", "--body-file", gh.body("plan 1"))
    gh("issue", "--label", "reconcile-drift", "--title", "drift", "--body-file", gh.body("plan 2"))
    issues = standin.repo(REPO).open_issues()
    assert len(issues) == 1 and "plan 2" in issues[0]["body"] and issues[0]["labels"] == []


# -- the reviewed plan ------------------------------------------------------------------------


def _plan_zip(**files: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_pr_for_commit(gh: GhCli, standin: StandIn) -> None:
    pr = standin.add_pull(REPO, head_sha="d" * 40)
    gh("pr-for-commit", "d" * 40, expect=1)  # its head, not a merge commit
    standin.merge_pull(REPO, pr, "e" * 40)
    assert gh("pr-for-commit", "e" * 40).stdout.strip() == str(pr)
    r = gh("pr-for-commit", "f" * 40, expect=1)
    assert "not the merge commit of a pull request" in r.output


def test_artifact_picks_the_reviewed_plan(gh: GhCli, standin: StandIn, tmp_path: Path) -> None:
    head = "1" * 40
    pr = standin.add_pull(REPO, head_sha=head)
    wf = "reconcile-plan.yml"
    old = standin.add_run(REPO, workflow=wf, head_sha=head, status="completed", conclusion="success")
    standin.add_artifact(REPO, old, "reconcile-plans", _plan_zip(**{"app.plan.json": "old"}))
    new = standin.add_run(REPO, workflow=wf, head_sha=head, status="completed", conclusion="success")
    standin.add_artifact(REPO, new, "reconcile-plans", _plan_zip(**{"app.plan.json": "expired"}), expired=True)
    standin.add_artifact(REPO, new, "reconcile-plans", _plan_zip(**{"app.plan.json": "new", "b.plan.json": "b"}))
    standin.add_artifact(REPO, new, "other", _plan_zip(**{"app.plan.json": "other"}))
    for kwargs in ({"conclusion": "failure"}, {"head_repo": "evil/fork", "conclusion": "success"},
                   {"event": "push", "conclusion": "success"}):
        bad = standin.add_run(REPO, workflow=wf, head_sha=head, status="completed", **kwargs)  # type: ignore[arg-type]
        standin.add_artifact(REPO, bad, "reconcile-plans", _plan_zip(**{"app.plan.json": "bad"}))
    other_wf = standin.add_run(REPO, workflow="ci.yml", head_sha=head, status="completed", conclusion="success")
    standin.add_artifact(REPO, other_wf, "reconcile-plans", _plan_zip(**{"app.plan.json": "bad"}))

    out = tmp_path / "reviewed"
    r = gh("artifact", "--pr", str(pr), "--name", "reconcile-plans", "--out", str(out))
    assert (out / "app.plan.json").read_text() == "new" and (out / "b.plan.json").read_text() == "b"
    assert f"run {new}" in r.output
    assert standin.blob_requests and not any(b["authorization"] for b in standin.blob_requests)


def test_artifact_refuses_forks_missing_runs_and_unsafe_zips(gh: GhCli, standin: StandIn, tmp_path: Path) -> None:
    fork = standin.add_pull(REPO, head_sha="2" * 40, head_repo="evil/fork")
    r = gh("artifact", "--pr", str(fork), "--name", "reconcile-plans", "--out", str(tmp_path / "x"), expect=1)
    assert "comes from a fork" in r.output
    pr = standin.add_pull(REPO, head_sha="3" * 40)
    r = gh("artifact", "--pr", str(pr), "--name", "reconcile-plans", "--out", str(tmp_path / "x"), expect=1)
    assert "no successful run of reconcile-plan.yml for commit 333333333333" in r.output
    run = standin.add_run(REPO, workflow="reconcile-plan.yml", head_sha="3" * 40, status="completed", conclusion="success")
    r = gh("artifact", "--pr", str(pr), "--name", "reconcile-plans", "--out", str(tmp_path / "x"), expect=1)
    assert "has no unexpired artifact named 'reconcile-plans'" in r.output
    standin.add_artifact(REPO, run, "reconcile-plans", _plan_zip(**{"../escape.json": "x"}))
    r = gh("artifact", "--pr", str(pr), "--name", "reconcile-plans", "--out", str(tmp_path / "x"), expect=1)
    assert "unsafe path" in r.output
    assert not (tmp_path / "escape.json").exists()


def test_zip_dir_roundtrip(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "a.json").write_text("{}")
    with zipfile.ZipFile(io.BytesIO(zip_dir(tmp_path / "d"))) as z:
        assert z.namelist() == ["sub/a.json"]


# -- the client itself ------------------------------------------------------------------------


def test_setup_errors_name_the_fix(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> None:
    with pytest.raises(GitHubSetupError, match=r"GITHUB_TOKEN is not set: give the step `env: \{GITHUB_TOKEN"):
        GitHub.from_env({"GITHUB_REPOSITORY": REPO})
    with pytest.raises(GitHubSetupError, match="must be 'owner/name'"):
        GitHub.from_env({"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "nope"})
    with pytest.raises(GitHubSetupError, match="must be an http"):
        GitHub.from_env({"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": "ftp://x"})


def test_bad_token_and_errors_never_show_it(gh: GhCli) -> None:
    r = gh("visibility", env={"GITHUB_TOKEN": "ghs_wrong-do-not-leak-1234567"}, expect=1)
    assert "GitHub answered 401: Bad credentials (GET /repos/acme/members -> 401)" in r.output
    assert "ghs_wrong" not in r.output


def test_retries_idempotent_requests_and_rate_limits(standin: StandIn) -> None:
    sleeps: list[float] = []
    standin.inject("GET", "/repos/acme/members", 502)
    standin.inject("GET", "/repos/acme/members", 403, {"Retry-After": "2"})
    with GitHub(TOKEN, REPO, standin.url, sleep=sleeps.append) as client:
        assert client.visibility() == "private"
    assert sleeps == [1.0, 2.0]
    standin.inject("POST", "/comments", 502)
    pr = standin.add_pull(REPO, head_sha="b" * 40)
    with GitHub(TOKEN, REPO, standin.url, sleep=sleeps.append) as client, pytest.raises(GitHubError, match="502"):
        client.create_comment(pr, "never twice")
    assert standin.repo(REPO).comments_on(pr) == []


def test_token_goes_to_the_api_origin_only(standin: StandIn) -> None:
    with GitHub(TOKEN, REPO, standin.url) as client, pytest.raises(GitHubError, match="to another host"):
        client._request("GET", standin.blob_url + "/blobs/x")
    assert TOKEN not in repr(client)


def test_api_base_with_a_path_prefix(standin: StandIn) -> None:
    """GitHub Enterprise Server serves the API under /api/v3: the prefix is kept on every call."""
    with GitHub(TOKEN, REPO, standin.url + "/api/v3") as client, pytest.raises(GitHubError) as err:
        client.visibility()
    assert "/api/v3/repos/acme/members" in str(err.value)

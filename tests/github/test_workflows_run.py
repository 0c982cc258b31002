"""The workflows, run: every step's script with a runner's environment, against scim2-server (two
targets), the GitHub stand-in and a git remote. Plan on a pull request -> artifact -> apply on
merge; a stale plan that no longer matches; drift issues; forks; an unsafe plan; no PR at all.
Afterwards, every `reconcile` command line in the workflows has been run at least once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.github.standin import StandIn
from tests.github.workflows import OPTIONAL_VALUES, OURS, command_lines
from tests.github.world import FORK, GH_READ_ONLY, GH_TOKEN, REPO, World, add_user, replace, set_employee_type
from tests.servers.scim2_fixture import Scim2Tenant

PLAN, APPLY, DRIFT = "reconcile-plan.yml", "reconcile-apply.yml", "reconcile-drift.yml"
EXECUTED: list[list[str]] = []
SCENARIOS: set[str] = set()


@pytest.fixture
def world(tmp_path: Path, scim2_server: Any) -> Iterator[World]:
    tenants = {}
    for name in ("bitwarden", "wiki"):
        t = f"{name}{tmp_path.name[-12:].replace('_', '')}".lower()
        tenants[name] = Scim2Tenant(scim2_server.tenant_url(t), scim2_server.token, t, scim2_server.url)
    with StandIn.running() as standin:
        w = World(tmp_path, standin, tenants)
        yield w
        EXECUTED.extend(w.runner.calls())
        secrets = [*w.runner.secrets.values(), GH_TOKEN, GH_READ_ONLY]
        for run in w.runner.runs:  # the runner's log (after masking) never shows a secret
            for job in run.jobs.values():
                for step in job.steps:
                    assert not any(s in step.log or s in step.summary for s in secrets), step.name


def scim(tenant: Scim2Tenant, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = httpx.request(method, tenant.base_url + path, json=body, params={"count": 1000} if method == "GET" else None,
                      headers={"Authorization": f"Bearer {tenant.token}"}, timeout=10)  # fmt: skip
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def users(tenant: Scim2Tenant) -> dict[str, dict[str, Any]]:
    return {u["userName"]: u for u in scim(tenant, "GET", "/Users").get("Resources", [])}


def patch_user(tenant: Scim2Tenant, user_name: str, **values: Any) -> None:
    uid = users(tenant)[user_name]["id"]
    ops = [{"op": "replace", "path": k, "value": v} for k, v in values.items()]
    scim(tenant, "PATCH", f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})


def bot_comments(w: World, number: int, marker: str) -> list[dict[str, Any]]:
    return [c for c in w.standin.repo(REPO).comments_on(number) if c["body"].startswith(f"<!-- {marker} -->")]


# -- the main chain -----------------------------------------------------------------------------


def test_plan_on_pr_then_apply_the_reviewed_plan_on_merge(world: World) -> None:
    SCENARIOS.add("chain")
    w = world
    # a manual run: plan, show, then apply (dry_run off): the organisation reaches both targets
    run = w.run(APPLY, w.dispatch_event(dry_run=False, target=""))
    assert "## Plan made by this manual run" in run.jobs["prepare"].summary
    assert "Apply of bitwarden" in run.jobs["apply"].summary and "Apply of wiki" in run.jobs["apply"].summary
    assert users(w.targets["bitwarden"])["grace@example.com"]["active"] is True
    assert "reconcile bitwarden:" in w.state_log()

    # the example change: Grace becomes a contractor (out of Bitwarden), Victor joins Engineering
    pr = w.open_pr("grace-victor", set_employee_type("grace@example.com", "contractor"),
                   add_user("00uGvictor", "victor", "US", "Engineering"))
    first = w.run(PLAN, w.pr_event(pr))
    w.push_to_pr(pr, replace("desired-state/groups.yaml", "members: [erin@example.com,",
                             "members: [judy@example.com, erin@example.com,"))
    second = w.run(PLAN, w.pr_event(pr))
    [comment] = bot_comments(w, pr, "reconcile-plan")  # one comment, updated in place
    body = comment["body"]
    assert "<!-- reconcile-plan:bitwarden -->" in body and "<!-- reconcile-plan:wiki -->" in body
    assert "disable user grace@example.com" in body and "create user victor@example.com" in body
    assert "+ judy@example.com" in body  # from the second push
    assert "Merging applies exactly this plan" in body and "This run failed" not in body
    assert body.count("<!-- reconcile-plan:bitwarden -->") == 1
    job = second.jobs["plan"]
    assert "<!-- reconcile-plan:wiki -->" in job.summary and job.step("Validate").outcome == "success"
    assert job.step("Explain the change (fork, no secrets)").outcome == "skipped"
    files = w.standin.artifact_files(REPO, second.run_id, "reconcile-plans")
    assert sorted(files) == ["bitwarden.plan.json", "wiki.plan.json"]
    assert w.standin.artifact_files(REPO, first.run_id, "reconcile-plans")  # the older run's, not used
    (Path(w.tmp) / "pr-comment.md").write_text(body)  # for the closing note

    # merge: the apply finds the PR, downloads the second run's plans and applies them exactly
    run = w.run(APPLY, w.push_event(w.merge(pr)))
    prepare = run.jobs["prepare"]
    assert prepare.outputs["pr"] == str(pr)
    assert f"## Plan reviewed on pull request #{pr}" in prepare.summary
    assert f"artifact reconcile-plans of run {second.run_id}" in prepare.step(
        "Fetch the plan reviewed on the merged pull request").log
    apply = run.jobs["apply"]
    assert "reconcile apply, exit code 0" in apply.summary and "FAILED" not in apply.summary
    bw, wiki = users(w.targets["bitwarden"]), users(w.targets["wiki"])
    assert bw["grace@example.com"]["active"] is False and "victor@example.com" in bw and "victor@example.com" in wiki
    assert f"Pull-Request: https://github.example/{REPO}/pull/{pr}" in w.state_log()
    assert apply.step("Post the new plan for review").outcome == "skipped"

    # the scheduled drift check finds nothing and opens no issue
    run = w.run(DRIFT, _schedule(w))
    assert "nothing to close" in run.jobs["drift"].log
    assert w.standin.repo(REPO).open_issues() == []


def _schedule(w: World) -> Any:
    event = w.dispatch_event()
    event.name, event.inputs, event.payload = "schedule", {}, {"schedule": "17 6 * * *"}
    return event


# -- when the world moved ----------------------------------------------------------------------


def test_drift_issue_then_a_stale_reviewed_plan_that_no_longer_matches(world: World) -> None:
    SCENARIOS.add("stale")
    w = world
    w.bootstrap()
    wiki = w.targets["wiki"]
    patch_user(wiki, "alice@example.com", displayName="Alice (edited by hand)")
    run = w.run(DRIFT, _schedule(w))
    [issue] = w.standin.repo(REPO).open_issues("reconcile-drift")
    assert "<!-- reconcile-plan:wiki -->" in issue["body"] and "Alice (edited by hand)" in issue["body"]
    assert issue["body"].startswith("<!-- reconcile-issue:reconcile-drift -->")
    assert "opened" in run.jobs["drift"].log
    patch_user(wiki, "alice@example.com", displayName="Alice Liddell")
    w.run(DRIFT, _schedule(w))
    assert issue["state"] == "closed" and w.standin.repo(REPO).open_issues() == []

    # Niaj leaves; the plan is reviewed; then someone revokes Niaj by hand before the merge
    pr = w.open_pr("niaj-leaves", replace("desired-state/groups.yaml", "      - niaj@example.com\n", ""),
                   set_employee_type("niaj@example.com", "contractor"))
    w.run(PLAN, w.pr_event(pr))
    bw = w.targets["bitwarden"]
    patch_user(bw, "niaj@example.com", active=False)
    run = w.run(APPLY, w.push_event(w.merge(pr)), expect="failure" if not __import__("os").environ.get("DBG") else "x")
    apply = run.jobs["apply"]
    assert apply.step("Apply").outcome == "failure"
    assert "the new plan's actions differ from the reviewed plan" in apply.summary
    assert apply.step("Post the new plan for review").outcome == "success"
    [comment] = bot_comments(w, pr, "reconcile-apply")
    assert "The reviewed plan no longer holds" in comment["body"] and "<!-- reconcile-plan:bitwarden -->" in comment["body"]
    assert "The reviewed plan no longer holds" in apply.summary
    assert any("reconcile apply" in a for a in apply.step("Apply").annotations)


# -- what must not get a plan, or must not apply -----------------------------------------------


def test_fork_unsafe_and_unreviewed_changes(world: World) -> None:
    SCENARIOS.add("refused")
    w = world
    w.standin.repo(REPO).visibility = "public"
    # a fork: validated and explained, no secret in any step, no plan, the check fails
    pr = w.open_pr("fork-change", set_employee_type("grace@example.com", "contractor"), fork=FORK)
    run = w.run(PLAN, w.pr_event(pr), expect="failure")
    job = run.jobs["plan"]
    assert job.step("Plan every target").outcome == "skipped"
    assert job.step("Explain the change (fork, no secrets)").outcome == "success"
    assert job.step("Fail (a fork gets no plan)").outcome == "failure"
    assert "no plan was made" in job.summary and "target bitwarden: OUT of scope" in job.summary
    assert "grace@example.com" not in job.summary  # a public repository: redacted
    assert any("::warning::could not comment" in a for a in job.step("Explain the change (fork, no secrets)").annotations)
    assert w.standin.repo(REPO).comments_on(pr) == []  # the fork's token is read-only
    for step in job.steps:
        assert not set(w.runner.secrets.values()) & set(step.env.values()), step.name
    assert not w.standin.repo(REPO).artifacts

    # an unsafe plan: four employees leave Bitwarden at once (the policy allows three)
    w.standin.repo(REPO).visibility = "private"
    w.bootstrap()
    edits = [set_employee_type(u, "contractor") for u in ("alice@example.com", "bob@example.com",
                                                           "dave@example.com", "erin@example.com")]
    pr = w.open_pr("mass-leave", *edits)
    run = w.run(PLAN, w.pr_event(pr), expect="failure")
    job = run.jobs["plan"]
    assert job.step("Plan every target").outputs["exit-code"] == "1"
    [comment] = bot_comments(w, pr, "reconcile-plan")
    assert "**This run failed**" in comment["body"] and "unsafe" in comment["body"]
    assert job.step("Keep the plan files for the apply after merge").outcome == "skipped"
    assert job.step("Fail when a plan is unsafe or could not be made").outcome == "failure"

    # pushed to main without a pull request: nothing reviewed, nothing applied
    sha = w.commit("direct push", *edits, push="main")
    run = w.run(APPLY, w.push_event(sha), expect="failure")
    assert run.jobs["apply"].result == "skipped"
    reviewed = run.jobs["prepare"].step("Fetch the plan reviewed on the merged pull request")
    assert any("No reviewed plan" in a for a in reviewed.annotations)
    # ... and the drift check reports the unsafe plan in its issue and fails
    run = w.run(DRIFT, _schedule(w), expect="failure")
    [issue] = w.standin.repo(REPO).open_issues("reconcile-drift")
    assert "**This run failed**" in issue["body"]

    # a manual dry run for one target: planned and shown, not applied
    run = w.run(APPLY, w.dispatch_event(dry_run=True, target="wiki"))
    assert run.jobs["apply"].result == "skipped"
    assert "<!-- reconcile-plan:wiki -->" in run.jobs["prepare"].summary
    assert "<!-- reconcile-plan:bitwarden -->" not in run.jobs["prepare"].summary


def test_every_reconcile_command_line_was_run() -> None:
    if SCENARIOS != {"chain", "stale", "refused"}:
        pytest.skip("needs the three scenario tests of this module in the same session")
    missing = []
    for name in OURS:
        for line in command_lines(name):
            argv = line.argv()
            words = [a for a in argv if not a.startswith("-")]
            path = words[: 2 if argv[0] == "github" else 1]
            optional = {v for k, v in OPTIONAL_VALUES.items() if f"${{{k}:+" in line.text}
            flags = {a for a in argv if a.startswith("--")} - optional
            ran = any(
                call[: len(path)] == path and flags <= set(call) and
                {a for a in call if a.startswith("--")} <= flags | optional
                for call in EXECUTED
            )  # fmt: skip
            if not ran:
                missing.append(f"{name} [{line.step.name}] {line.text}")
    assert missing == [], json.dumps(missing, indent=1)

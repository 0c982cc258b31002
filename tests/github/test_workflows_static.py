"""The workflow files themselves: schema, zizmor, least privilege, no secret for a fork, pinned
actions, and every `reconcile` command line parses against the real CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler.cli import cli
from reconciler.github.commands import github
from tests.github.workflows import OURS, ROOT, WORKFLOWS, command_lines, load, steps, triggers

SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
OFFICIAL = {"actions/checkout", "actions/setup-python", "actions/upload-artifact", "actions/download-artifact"}
_SECRET = re.compile(r"\bsecrets\s*\.|\bsecrets\s*\[|toJSON\(\s*secrets\s*\)", re.IGNORECASE)


def _tool(name: str, package: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install '{package}'); it is in the test extra")
    return found


def test_workflow_files_are_ours() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == sorted(OURS)


def test_schema_check_jsonschema() -> None:
    exe = _tool("check-jsonschema", "check-jsonschema==0.39.0")
    files = [str(WORKFLOWS / n) for n in OURS]
    proc = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *files], check=False,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_offline_has_no_medium_or_high_findings() -> None:
    exe = _tool("zizmor", "zizmor==1.33.1")
    # The auditor persona reports even low-confidence findings; ignore comments are not honoured.
    proc = subprocess.run(
        [exe, "--offline", "--no-ignores", "--persona", "auditor", "--format", "json", str(WORKFLOWS)],
        check=False, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode in (0, 11, 12, 13, 14), proc.stderr  # 1x: findings present (judged below)
    findings = json.loads(proc.stdout or "[]")
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['locations'][0]['symbolic']['key']}"
        for f in findings
        if f["determinations"]["severity"] in ("Medium", "High")
    ]
    assert serious == []


@pytest.mark.parametrize("name", OURS)
def test_no_pull_request_target_and_explicit_permissions(name: str) -> None:
    code = "\n".join(line.split("#", 1)[0] for line in (WORKFLOWS / name).read_text().splitlines())
    wf = load(name)
    assert "pull_request_target" not in code and "pull_request_target" not in triggers(wf)
    assert "workflow_run" not in triggers(wf)
    assert wf.get("permissions") == {}, "deny everything at the top; grant per job"
    for job_id, job in wf["jobs"].items():
        assert isinstance(job.get("permissions"), dict) and job["permissions"], f"{name}:{job_id} lacks permissions:"
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("name", OURS)
def test_secrets_only_in_step_env_of_jobs_with_an_environment(name: str) -> None:
    wf = load(name)
    assert not _SECRET.search(json.dumps(wf.get("env") or {})), "no secret in the workflow's env"
    for job_id, job in wf["jobs"].items():
        assert not _SECRET.search(json.dumps(job.get("env") or {})), f"{job_id}: no secret in a job's env"
        assert job.get("secrets") != "inherit"
    for step in steps(name):
        assert "${{" not in step.run, f"{step.name}: expressions go through env:, never into a script"
        assert not _SECRET.search(step.run) and not _SECRET.search(json.dumps(step.data.get("with") or {}))
        env = json.dumps(step.data.get("env") or {})
        if _SECRET.search(env):
            job = wf["jobs"][step.job]
            assert job.get("environment"), f"{step.job}: a job that gets a secret runs in an environment"
            assert name != "ci.yml"


def test_no_secret_reaches_a_pull_request_from_a_fork() -> None:
    for name in OURS:
        wf = load(name)
        if "pull_request" not in triggers(wf):
            continue
        for step in steps(name):
            if _SECRET.search(json.dumps(step.data)):
                assert SAME_REPO in str(step.data.get("if", "")), f"{name}: {step.name} could run for a fork"
            assert not re.search(r"reconcile\s+apply\b", step.run), "a pull request never applies"


def test_only_the_apply_job_writes_and_it_is_gated() -> None:
    for name in OURS:
        for job_id, job in load(name)["jobs"].items():
            perms = job["permissions"]
            if perms.get("contents") == "write":
                assert (name, job_id) == ("reconcile-apply.yml", "apply")
    apply = load("reconcile-apply.yml")
    assert set(triggers(apply)) == {"push", "workflow_dispatch"}
    assert triggers(apply)["push"]["branches"] == ["main"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    job = apply["jobs"]["apply"]
    assert job["environment"] == "reconcile-apply" and job["needs"] == "prepare"
    drift = load("reconcile-drift.yml")
    assert set(triggers(drift)) == {"schedule", "workflow_dispatch"}
    assert not any(c.argv()[0] == "apply" for c in command_lines("reconcile-drift.yml")), "drift never applies"
    assert [c.argv()[0] for c in command_lines("reconcile-apply.yml")].count("apply") == 1


def test_actions_are_official_and_pinned_by_commit() -> None:
    pins: dict[str, set[str]] = {}
    for name in OURS:
        text = (WORKFLOWS / name).read_text()
        for line in text.splitlines():
            m = re.search(r"uses:\s*(\S+)@(\S+)(.*)$", line)
            if not m:
                continue
            action, ref, comment = m.groups()
            assert action in OFFICIAL, f"{name}: {action} is not an allowed action"
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}: {action}@{ref} is not pinned to a commit"
            assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{name}: say which release {ref} is"
            pins.setdefault(action, set()).add(ref)
        for step in steps(name):
            if str(step.data.get("uses", "")).startswith("actions/checkout@"):
                assert step.data["with"]["persist-credentials"] is False
    assert all(len(refs) == 1 for refs in pins.values()), pins


def test_ci_runs_exactly_the_readme_test_command() -> None:
    runs = [s.run.strip() for s in steps("ci.yml") if s.run]
    assert runs == ["bash scripts/setup.sh", ".venv/bin/python -m pytest -q"]
    readme = (ROOT / "README.md").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text()
    for command in runs:
        assert command in readme or command.replace("bash ", "") in readme
        assert command in ci_run


def _tree() -> click.Group:
    """The CLI as the workflows call it (the github group added if cli.py has not yet)."""
    if "github" in cli.commands:
        return cli
    group = click.Group("reconcile", commands=dict(cli.commands), params=list(cli.params))
    group.add_command(github)
    return group


def _parse(argv: list[str]) -> str | None:
    """Parse like click would, without running: None if fine, else what is wrong."""
    cmd: click.Command = _tree()
    ctx: click.Context | None = None
    args = list(argv)
    path = ["reconcile"]
    while True:
        try:
            ctx = cmd.make_context(path[-1], args, parent=ctx, resilient_parsing=False)
        except (click.NoSuchOption, click.BadOptionUsage, click.BadArgumentUsage, click.MissingParameter) as exc:
            return f"{' '.join(path)}: {exc.format_message()}"
        except click.BadParameter:
            pass  # a value check (a file that exists only on the runner): the flag itself is fine
        except click.UsageError as exc:
            return f"{' '.join(path)}: {exc.format_message()}"
        if not isinstance(cmd, click.Group):
            return None
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 9.0 folds it into args
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = list(getattr(ctx, "protected_args", [])) + list(ctx.args) if ctx is not None else args
        if not rest:
            return f"{' '.join(path)}: no subcommand"
        sub = cmd.get_command(ctx, rest[0]) if ctx is not None else None
        if sub is None:
            return f"{' '.join(path)}: no such command {rest[0]!r}"
        cmd, args = sub, rest[1:]
        path.append(rest[0])


def _all_lines() -> list[Any]:
    return [c for n in OURS for c in command_lines(n)]


def test_every_reconcile_command_line_parses() -> None:
    lines = _all_lines()
    assert len(lines) >= 20
    problems = [f"{c.step.workflow} [{c.step.name}] {c.text}: {_parse(c.argv())}" for c in lines if _parse(c.argv())]
    assert problems == []


def test_the_parser_catches_a_wrong_flag() -> None:
    assert _parse(["plan", "--all", "--no-such-flag"]) is not None
    assert _parse(["github", "comment", "--pr", "1"]) is not None  # --body-file is required
    assert _parse(["github", "nope"]) is not None
    assert _parse(["plan", "--all", "--format", "markdown"]) is None


def test_github_group_is_registered_in_the_cli() -> None:
    """`cli.add_command(github)` in reconciler/cli.py: the workflows call `reconcile github ...`."""
    assert cli.commands.get("github") is github


def test_console_script_exit_status_reports_errors() -> None:
    """The workflows branch on `reconcile`'s exit status (`|| rc=$?`, `if ! ...`): an error that
    the CLI prints as `error: ...` must also exit 1 from the installed console script."""
    exe = Path(sys.executable).parent / "reconcile"
    if not exe.exists():
        pytest.skip("the reconcile console script is not installed in this environment")
    proc = subprocess.run([str(exe), "explain", "nobody@nowhere.example", "--root", str(ROOT)],
                          check=False, capture_output=True, text=True)  # fmt: skip
    assert "error:" in proc.stderr
    assert proc.returncode == 1, "reconciler.cli:main drops the exit code of a handled error"

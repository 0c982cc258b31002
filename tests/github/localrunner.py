"""Run our workflow files on this machine, the way a GitHub runner would, against local servers.

What is real: the workflow files as committed; every `run:` script, executed by
`bash --noprofile --norc -eo pipefail` (the `shell: bash` of a Linux runner) with the
environment a runner sets (GITHUB_*, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ...);
the `reconcile` on PATH (this checkout); step and job `if:` conditions, outputs and `needs`;
the checkout of the event's commit from a git remote (a bare repository on disk, which the
git state backend pushes to); the GitHub API (the stand-in).

What is simulated, and only this: the four official actions (checkout = a git fetch and a
detached checkout; setup-python = nothing; upload/download-artifact = a zip stored in the
stand-in under the run's id), and steps the test says to skip (installing reconcile, which is
already on PATH). Secrets are withheld from a fork's pull request, as GitHub does, and masked
in the log, as the runner does; `::add-mask::` lines are honoured and kept out of the log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.github.expressions import condition, interpolate, to_string
from tests.github.standin import StandIn, zip_dir
from tests.github.workflows import WORKFLOWS, load, triggers

SHIM = '''#!{python}
"""`reconcile` as the workflows call it: the real CLI of this checkout; each call is logged."""
import json, os, sys
log = os.environ.get("RECONCILE_SHIM_LOG")
if log:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
from reconciler.cli import cli, main
if "github" not in cli.commands:  # until reconciler/cli.py registers the group itself
    from reconciler.github.commands import github
    cli.add_command(github)
sys.exit(main(sys.argv[1:]))
'''


@dataclass
class Event:
    name: str
    sha: str
    ref: str
    payload: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    fork: str | None = None
    """`owner/name` of the fork a pull request comes from (no secrets, a read-only token)."""


@dataclass
class StepResult:
    name: str
    outcome: str
    outputs: dict[str, str]
    summary: str
    log: str
    raw: str
    env: dict[str, str]
    annotations: list[str]


@dataclass
class JobResult:
    id: str
    result: str
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(s.log for s in self.steps)


@dataclass
class RunResult:
    workflow: str
    run_id: int
    jobs: dict[str, JobResult]

    @property
    def conclusion(self) -> str:
        return "failure" if any(j.result == "failure" for j in self.jobs.values()) else "success"

    def describe(self) -> str:
        out = [f"{self.workflow} run {self.run_id}: {self.conclusion}"]
        for j in self.jobs.values():
            out.append(f"  job {j.id}: {j.result}")
            for s in j.steps:
                out.append(f"    [{s.outcome}] {s.name}")
                if s.outcome == "failure" or os.environ.get("LOCALRUNNER_VERBOSE"):
                    out.append(textwrap.indent(s.log.rstrip(), "      | "))
                if os.environ.get("LOCALRUNNER_VERBOSE") and s.summary:
                    out.append(textwrap.indent(s.summary.rstrip(), "      # "))
        return "\n".join(out)


@dataclass
class LocalRunner:
    origin: Path
    standin: StandIn
    repository: str
    token: str
    read_only_token: str
    work: Path
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    skip_run: Callable[[str], bool] = lambda script: False

    def __post_init__(self) -> None:
        self.bin = self.work / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        shim = self.bin / "reconcile"
        shim.write_text(SHIM.format(python=sys.executable))
        shim.chmod(0o755)
        self.shim_log = self.work / "reconcile-calls.jsonl"
        self.runs: list[RunResult] = []

    def calls(self) -> list[list[str]]:
        if not self.shim_log.exists():
            return []
        return [json.loads(x)["argv"] for x in self.shim_log.read_text().splitlines() if x]

    # -- a workflow run --------------------------------------------------------------------------

    def run(self, workflow: str, event: Event) -> RunResult:
        wf = load(workflow)
        assert event.name in triggers(wf), f"{workflow} does not run on {event.name}"
        head_sha = event.payload.get("pull_request", {}).get("head", {}).get("sha", event.sha)
        run_id = self.standin.add_run(
            self.repository, workflow=workflow, head_sha=head_sha, event=event.name,
            head_repo=event.fork or self.repository,
        )  # fmt: skip
        run_number = len(self.standin.repo(self.repository).runs)
        root = self.work / f"run-{run_id}"
        root.mkdir(parents=True)
        event_path = root / "event.json"
        event_path.write_text(json.dumps(event.payload))
        jobs: dict[str, JobResult] = {}
        pending = dict(wf["jobs"])
        while pending:
            ready = [j for j, spec in pending.items() if all(n in jobs for n in _needs(spec))]
            assert ready, f"cyclic needs in {workflow}"
            for job_id in ready:
                jobs[job_id] = self._job(wf, workflow, job_id, pending.pop(job_id), jobs, event, run_id,
                                         run_number, root, event_path)
        result = RunResult(workflow, run_id, jobs)
        self.standin.finish_run(self.repository, run_id, result.conclusion)
        self.runs.append(result)
        return result

    def _contexts(self, wf: Mapping[str, Any], event: Event, run_id: int, run_number: int, job_id: str) -> dict[str, Any]:
        token = self.read_only_token if event.fork else self.token
        return {
            "github": {
                "event_name": event.name, "event": event.payload, "sha": event.sha, "ref": event.ref,
                "repository": self.repository, "repository_owner": self.repository.split("/")[0],
                "server_url": "https://github.example", "api_url": self.standin.url, "token": token,
                "run_id": str(run_id), "run_number": str(run_number), "run_attempt": "1",
                "workflow": wf.get("name", ""), "job": job_id, "actor": "octocat",
                "head_ref": event.payload.get("pull_request", {}).get("head", {}).get("ref", ""),
                "base_ref": event.payload.get("pull_request", {}).get("base", {}).get("ref", ""),
            },
            "vars": dict(self.vars),
            "secrets": {} if event.fork else {**self.secrets, "GITHUB_TOKEN": token},
            "inputs": dict(event.inputs),
            "runner": {"os": "Linux", "arch": "X64"},
            "env": {},
            "steps": {},
            "needs": {},
            "job": {"status": "success"},
        }  # fmt: skip

    def _job(
        self, wf: Mapping[str, Any], workflow: str, job_id: str, spec: Mapping[str, Any], done: Mapping[str, JobResult],
        event: Event, run_id: int, run_number: int, root: Path, event_path: Path,
    ) -> JobResult:  # fmt: skip
        ctx = self._contexts(wf, event, run_id, run_number, job_id)
        ctx["needs"] = {n: {"result": done[n].result, "outputs": done[n].outputs} for n in _needs(spec)}
        needs_status = "success" if all(done[n].result in ("success",) for n in _needs(spec)) else "failure"
        if not condition(spec.get("if"), ctx, status=needs_status):
            return JobResult(job_id, "skipped")
        ws = root / job_id
        ws.mkdir()
        temp = root / f"{job_id}.tmp"
        temp.mkdir()
        masks = [v for v in ctx["secrets"].values() if v]
        env: dict[str, str] = {}
        for scope in (wf.get("env") or {}, spec.get("env") or {}):
            for k, v in scope.items():
                env[k] = to_string(interpolate(v, ctx))
        ctx["env"] = dict(env)
        job = JobResult(job_id, "success")
        status = "success"
        for i, step in enumerate(spec.get("steps") or []):
            name = str(step.get("name") or step.get("id") or i)
            ctx["job"] = {"status": status}
            if not condition(step.get("if"), ctx, status=status):
                job.steps.append(StepResult(name, "skipped", {}, "", "", "", {}, []))
                if step.get("id"):
                    ctx["steps"][step["id"]] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            res = self._step(step, name, ctx, env, ws, temp, event, run_id, run_number, job_id, event_path, masks, wf)
            job.steps.append(res)
            if step.get("id"):
                ctx["steps"][step["id"]] = {"outputs": res.outputs, "outcome": res.outcome, "conclusion": res.outcome}
            if res.outcome == "failure" and not step.get("continue-on-error"):
                status = "failure"
        job.result = status
        for k, v in (spec.get("outputs") or {}).items():
            job.outputs[k] = to_string(interpolate(v, ctx, status=status))
        return job

    def _runner_env(self, event: Event, run_id: int, run_number: int, job_id: str, ws: Path, temp: Path,
                    event_path: Path, wf: Mapping[str, Any]) -> dict[str, str]:  # fmt: skip
        pr = event.payload.get("pull_request", {})
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(temp), "LANG": "C.UTF-8", "CI": "true",
            "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_OWNER": self.repository.split("/")[0],
            "GITHUB_SHA": event.sha, "GITHUB_REF": event.ref, "GITHUB_EVENT_NAME": event.name,
            "GITHUB_EVENT_PATH": str(event_path), "GITHUB_WORKSPACE": str(ws),
            "GITHUB_RUN_ID": str(run_id), "GITHUB_RUN_NUMBER": str(run_number), "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SERVER_URL": "https://github.example", "GITHUB_API_URL": self.standin.url,
            "GITHUB_GRAPHQL_URL": self.standin.url + "/graphql", "GITHUB_WORKFLOW": str(wf.get("name", "")),
            "GITHUB_JOB": job_id, "GITHUB_ACTOR": "octocat", "GITHUB_HEAD_REF": pr.get("head", {}).get("ref", ""),
            "GITHUB_BASE_REF": pr.get("base", {}).get("ref", ""), "RUNNER_OS": "Linux", "RUNNER_TEMP": str(temp),
            "RECONCILE_SHIM_LOG": str(self.shim_log),
            "GIT_AUTHOR_NAME": "github-actions[bot]", "GIT_AUTHOR_EMAIL": "actions@github.example",
            "GIT_COMMITTER_NAME": "github-actions[bot]", "GIT_COMMITTER_EMAIL": "actions@github.example",
        }  # fmt: skip

    def _step(
        self, step: Mapping[str, Any], name: str, ctx: dict[str, Any], job_env: dict[str, str], ws: Path,
        temp: Path, event: Event, run_id: int, run_number: int, job_id: str, event_path: Path, masks: list[str],
        wf: Mapping[str, Any],
    ) -> StepResult:  # fmt: skip
        step_env = {k: to_string(interpolate(v, ctx)) for k, v in (step.get("env") or {}).items()}
        if "uses" in step:
            with_ = {k: to_string(interpolate(v, ctx)) for k, v in (step.get("with") or {}).items()}
            try:
                log = self._action(str(step["uses"]), with_, ws, event, run_id)
                return StepResult(name, "success", {}, "", log, log, step_env, [])
            except _StepFailed as exc:
                return StepResult(name, "failure", {}, "", str(exc), str(exc), step_env, [])
        script = str(step.get("run", ""))
        if self.skip_run(script):
            return StepResult(name, "success", {}, "", "(skipped by the test)\n", "", step_env, [])
        files = {k: temp / f"{k.lower()}-{id(step)}" for k in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")}
        for f in files.values():
            f.write_text("")
        env = {**self._runner_env(event, run_id, run_number, job_id, ws, temp, event_path, wf), **job_env,
               **step_env, **{k: str(v) for k, v in files.items()}}  # fmt: skip
        script_file = temp / f"step-{id(step)}.sh"
        script_file.write_text(script)
        shell = (step.get("shell") or (wf.get("defaults") or {}).get("run", {}).get("shell") or "bash")
        assert shell == "bash", f"the local runner runs bash steps only (got {shell})"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            check=False, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180,
        )  # fmt: skip
        raw = proc.stdout.decode("utf-8", "replace")
        log_lines, annotations = [], []
        for line in raw.splitlines(keepends=True):
            if line.startswith("::add-mask::"):
                masks.append(line[len("::add-mask::"):].rstrip("\n"))
                continue
            if line.startswith(("::error", "::warning", "::notice")):
                annotations.append(line.strip())
            log_lines.append(line)
        log = "".join(log_lines)
        for m in sorted((m for m in masks if m), key=len, reverse=True):
            log = log.replace(m, "***")
        outputs = _read_outputs(files["GITHUB_OUTPUT"].read_text())
        for k, v in _read_outputs(files["GITHUB_ENV"].read_text()).items():
            job_env[k] = v
        summary = files["GITHUB_STEP_SUMMARY"].read_text()
        outcome = "success" if proc.returncode == 0 else "failure"
        return StepResult(name, outcome, outputs, summary, log, raw, {**job_env, **step_env}, annotations)

    # -- the official actions, simulated ---------------------------------------------------------

    def _action(self, uses: str, with_: Mapping[str, str], ws: Path, event: Event, run_id: int) -> str:
        action = uses.split("@", 1)[0]
        if action == "actions/checkout":
            return self._checkout(ws, event)
        if action == "actions/setup-python":
            return "(setup-python: the test's Python is used)\n"
        if action == "actions/upload-artifact":
            src = ws / with_["path"]
            if not src.is_dir() or not any(p.is_file() for p in src.rglob("*")):
                if with_.get("if-no-files-found", "warn") == "error":
                    raise _StepFailed(f"upload-artifact: no files at {with_['path']}")
                return "no files\n"
            self.standin.add_artifact(self.repository, run_id, with_["name"], zip_dir(src))
            return f"uploaded {with_['name']}\n"
        if action == "actions/download-artifact":
            files = self.standin.artifact_files(self.repository, run_id, with_["name"])
            if not files:
                raise _StepFailed(f"download-artifact: no artifact {with_['name']} in run {run_id}")
            dest = ws / with_.get("path", ".")
            for name, data in files.items():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).write_bytes(data)
            return f"downloaded {with_['name']}\n"
        raise AssertionError(f"the local runner does not simulate {uses}")

    def _checkout(self, ws: Path, event: Event) -> str:
        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=ws, check=True, capture_output=True, timeout=60)

        git("init", "-q")
        git("remote", "add", "origin", str(self.origin))
        git("fetch", "-q", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/pull/*:refs/remotes/pull/*")
        git("checkout", "-q", "--detach", event.sha)
        return f"checked out {event.sha[:12]}\n"


class _StepFailed(Exception):
    pass


def _needs(spec: Mapping[str, Any]) -> list[str]:
    needs = spec.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _read_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `key=value` lines and `key<<DELIM` ... `DELIM` blocks."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[key] = "\n".join(lines[i + 1 : j])
            i = j + 1
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        i += 1
    return out


def copy_project(src: Path, dest: Path) -> None:
    for sub in ("desired-state", "policies"):
        shutil.copytree(src / sub, dest / sub)


__all__ = ["WORKFLOWS", "Event", "LocalRunner", "RunResult", "copy_project"]

"""Finding the plan that was reviewed on a pull request, and bringing it onto the runner.

Invariants:
* A reviewed plan comes only from a *successful* run of the plan workflow, triggered by
  `pull_request`, for the pull request's current head commit, whose head repository is this
  repository. A fork's run (which could upload anything under any name) is never used.
* The newest such run wins (a re-run replaces an earlier attempt); within it, the newest
  unexpired artifact of the requested name.
* Extraction writes regular files below the output directory only: absolute names, `..`,
  links and duplicate names are refused before anything is written.
"""

from __future__ import annotations

import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from reconciler.errors import ReconcilerError
from reconciler.github.api import Artifact, GitHub, GitHubError, PullRequest, WorkflowRun


class NoReviewedPlanError(ReconcilerError):
    """There is no reviewed plan to apply; the message says why and what to do."""


@dataclass(frozen=True)
class Download:
    pull: PullRequest
    run: WorkflowRun
    artifact: Artifact
    files: tuple[Path, ...]


def merged_pull_for_commit(gh: GitHub, sha: str) -> PullRequest:
    """The pull request whose merge produced `sha` (merge, squash or rebase)."""
    candidates = [p for p in gh.pulls_for_commit(sha) if p.merged and p.merge_commit_sha == sha]
    if not candidates:
        raise NoReviewedPlanError(
            f"commit {sha[:12]} is not the merge commit of a pull request: there is no reviewed plan "
            "for it (was it pushed directly?)"
        )
    return max(candidates, key=lambda p: p.number)


def pick_run(runs: list[WorkflowRun], pull: PullRequest, repository: str, workflow: str) -> WorkflowRun | None:
    ok = [
        r
        for r in runs
        if r.head_sha == pull.head_sha
        and r.event == "pull_request"
        and r.status == "completed"
        and r.conclusion == "success"
        and r.head_repo == repository
        and PurePosixPath(r.path).name == workflow
    ]
    return max(ok, key=lambda r: (r.run_number, r.run_attempt, r.created_at, r.id), default=None)


def pick_artifact(artifacts: list[Artifact], name: str) -> Artifact | None:
    ok = [a for a in artifacts if a.name == name and not a.expired]
    return max(ok, key=lambda a: (a.created_at, a.id), default=None)


def fetch_reviewed(gh: GitHub, number: int, *, name: str, workflow: str, out: Path) -> Download:
    pull = gh.pull(number)
    if pull.head_repo != gh.repository:
        raise NoReviewedPlanError(
            f"pull request #{number} comes from a fork ({pull.head_repo or 'deleted'}): its runs get no "
            "secrets and make no plan, and their artifacts are never trusted"
        )
    runs = gh.workflow_runs(workflow, head_sha=pull.head_sha, event="pull_request", status="success")
    run = pick_run(runs, pull, gh.repository, workflow)
    if run is None:
        raise NoReviewedPlanError(
            f"no successful run of {workflow} for commit {pull.head_sha[:12]}, the head of pull request "
            f"#{number}: the plan check did not pass on the last commit of the pull request"
        )
    artifact = pick_artifact(gh.run_artifacts(run.id, name=name), name)
    if artifact is None:
        raise NoReviewedPlanError(
            f"run {run.id} of {workflow} (pull request #{number}) has no unexpired artifact named {name!r}: "
            "it expired, or the run uploaded none"
        )
    with tempfile.TemporaryFile() as tmp:
        gh.download_artifact(artifact.id, tmp)
        tmp.seek(0)
        files = safe_extract(tmp, out)
    return Download(pull, run, artifact, files)


def safe_extract(source: IO[bytes], out: Path) -> tuple[Path, ...]:
    """Extract a zip (a binary file object) into `out`; returns the files written, sorted."""
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise GitHubError("the artifact is not a valid zip archive") from None
    with archive:
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        seen: set[str] = set()
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise GitHubError(f"the artifact holds a symbolic link ({info.filename}): refused")
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename or not name.parts:
                raise GitHubError(f"the artifact holds an unsafe path ({info.filename!r}): refused")
            if str(name) in seen:
                raise GitHubError(f"the artifact holds {info.filename!r} twice: refused")
            seen.add(str(name))
            plan.append((info, name))
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for info, name in plan:
            dest = out.joinpath(*name.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(dest, "wb") as dst:
                while chunk := src.read(1 << 16):
                    dst.write(chunk)
            written.append(dest)
    return tuple(sorted(written))

"""A repository on GitHub, locally: a bare git remote, a developer's clone, the API stand-in, two
SCIM targets on scim2-server, and the local runner that executes the workflows against them."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli import cli
from tests.github.localrunner import Event, LocalRunner, RunResult
from tests.github.standin import StandIn
from tests.github.workflows import ROOT

REPO = "acme/members"
FORK = "someone/members"
GH_TOKEN = "ghs_RUNNERtoken-" + "5" * 24 + "-do-not-leak"
GH_READ_ONLY = "ghs_FORKRUNNER-" + "9" * 24 + "-do-not-leak"
IDENTITY = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip
Edit = Callable[[Path], None]


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd), **IDENTITY})  # fmt: skip
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def replace(rel: str, old: str, new: str, count: int = 1) -> Edit:
    """An edit: replace `old` by `new` in the project file `rel` (it must be there)."""

    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert text.count(old) >= count, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, count))

    return edit


def set_employee_type(user: str, value: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / "desired-state" / "users.yaml"
        text = path.read_text()
        pattern = re.compile(rf"(userName: {re.escape(user)}\n(?:    .*\n)*?    attributes: \{{.*employeeType: )(\w+)")
        new, n = pattern.subn(lambda m: m.group(1) + value, text)
        assert n == 1, user
        path.write_text(new)

    return edit


def add_user(external_id: str, name: str, country: str, group: str) -> Edit:
    def edit(root: Path) -> None:
        users = root / "desired-state" / "users.yaml"
        users.write_text(
            users.read_text()
            + f'  - externalId: "{external_id}"\n    userName: {name}@example.com\n'
            f"    displayName: {name.title()} Newhire\n    name: {{givenName: {name.title()}, familyName: Newhire}}\n"
            f"    attributes: {{countryCode: {country}, department: Engineering, employeeType: employee}}\n"
        )
        replace("desired-state/groups.yaml", f"    displayName: {group}\n    members:\n",
                f"    displayName: {group}\n    members:\n      - {name}@example.com\n")(root)

    return edit


@dataclass
class World:
    tmp: Path
    standin: StandIn
    targets: dict[str, Any]
    """target name -> scim2 tenant (.base_url, .token)."""
    runner: LocalRunner = field(init=False)
    origin: Path = field(init=False)
    dev: Path = field(init=False)
    pulls: dict[int, str] = field(default_factory=dict)
    """pull request number -> its branch."""

    def __post_init__(self) -> None:
        self.origin = self.tmp / "origin.git"
        self.dev = self.tmp / "dev"
        git(self.tmp, "init", "-q", "--bare", "-b", "main", str(self.origin))
        git(self.tmp, "init", "-q", "-b", "main", str(self.dev))
        git(self.dev, "remote", "add", "origin", str(self.origin))
        (self.dev / ".gitignore").write_text(".reconcile/\n")
        for sub in ("desired-state", "policies"):
            for src in sorted((ROOT / sub).glob("*.yaml")):
                dest = self.dev / sub / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                text = src.read_text()
                # scim2-server speaks RFC 7644 only (Bitwarden's quirks are tested elsewhere);
                # CI keeps the state on a branch: that is what the workflows require.
                text = text.replace("profile: bitwarden", "profile: generic")
                text = text.replace("state: {backend: local}", "state: {backend: git}")
                dest.write_text(text)
        self.commit("the organisation", push="main")
        self.standin.add_token(GH_TOKEN)
        self.standin.add_token(GH_READ_ONLY, write=False)
        self.standin.add_repo(REPO)
        tokens = {f"{n.upper()}_SCIM_TOKEN": t.token for n, t in self.targets.items()}
        self.runner = LocalRunner(
            origin=self.origin, standin=self.standin, repository=REPO, token=GH_TOKEN,
            read_only_token=GH_READ_ONLY, work=self.tmp / "runner",
            vars={f"{n.upper()}_SCIM_URL": t.base_url for n, t in self.targets.items()},
            secrets=tokens, skip_run=lambda script: script.strip() == "python -m pip install --quiet .",
        )  # fmt: skip

    @property
    def scim_env(self) -> dict[str, str]:
        return {**self.runner.vars, **self.runner.secrets}

    # -- git -------------------------------------------------------------------------------------

    def commit(self, message: str, *edits: Edit, push: str | None = None) -> str:
        for edit in edits:
            edit(self.dev)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-q", "-m", message)
        sha = git(self.dev, "rev-parse", "HEAD")
        if push:
            git(self.dev, "push", "-q", "origin", f"HEAD:refs/heads/{push}")
        return sha

    def _test_merge(self, number: int) -> str:
        """refs/pull/N/merge: the head merged into the current main, as GitHub prepares it."""
        branch = self.pulls[number]
        git(self.dev, "fetch", "-q", "origin", "main")
        git(self.dev, "checkout", "-q", "--detach", "FETCH_HEAD")
        git(self.dev, "merge", "-q", "--no-ff", "-m", f"Merge {branch} into main", branch)
        sha = git(self.dev, "rev-parse", "HEAD")
        git(self.dev, "push", "-q", "-f", "origin", f"HEAD:refs/pull/{number}/merge")
        git(self.dev, "checkout", "-q", "main")
        return sha

    def open_pr(self, branch: str, *edits: Edit, fork: str | None = None) -> int:
        git(self.dev, "checkout", "-q", "-b", branch, "main")
        head = self.commit(f"change on {branch}", *edits)
        number = self.standin.add_pull(REPO, head_sha=head, head_repo=fork, head_ref=branch)
        self.pulls[number] = branch
        git(self.dev, "push", "-q", "origin", f"HEAD:refs/pull/{number}/head")
        git(self.dev, "checkout", "-q", "main")
        return number

    def push_to_pr(self, number: int, *edits: Edit) -> None:
        git(self.dev, "checkout", "-q", self.pulls[number])
        head = self.commit("more", *edits)
        self.standin.set_head(REPO, number, head)
        git(self.dev, "checkout", "-q", "main")

    def merge(self, number: int) -> str:
        git(self.dev, "checkout", "-q", "main")
        git(self.dev, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number}", self.pulls[number])
        sha = git(self.dev, "rev-parse", "HEAD")
        git(self.dev, "push", "-q", "origin", "HEAD:refs/heads/main")
        self.standin.merge_pull(REPO, number, sha)
        return sha

    # -- events ----------------------------------------------------------------------------------

    def pr_event(self, number: int) -> Event:
        merge = self._test_merge(number)
        pr = self.standin.repo(REPO).pulls[number]
        head_repo = pr["head"]["repo"]["full_name"] if pr["head"]["repo"] else None
        payload = {
            "action": "synchronize", "number": number,
            "pull_request": {"number": number, "head": {"sha": pr["head"]["sha"], "ref": self.pulls[number],
                                                        "repo": {"full_name": head_repo}},
                             "base": {"ref": "main", "repo": {"full_name": REPO}}},
            "repository": {"full_name": REPO, "visibility": self.standin.repo(REPO).visibility},
        }  # fmt: skip
        fork = head_repo if head_repo != REPO else None
        return Event("pull_request", merge, f"refs/pull/{number}/merge", payload, fork=fork)

    def push_event(self, sha: str) -> Event:
        return Event("push", sha, "refs/heads/main", {"after": sha, "repository": {"full_name": REPO}})

    def dispatch_event(self, **inputs: Any) -> Event:
        sha = git(self.dev, "rev-parse", "main")
        return Event("workflow_dispatch", sha, "refs/heads/main", {"inputs": inputs}, inputs=inputs)

    def run(self, workflow: str, event: Event, expect: str = "success") -> RunResult:
        result = self.runner.run(workflow, event)
        assert result.conclusion == expect, result.describe()
        return result

    # -- the targets, directly -------------------------------------------------------------------

    def bootstrap(self) -> None:
        """Apply main to both targets from the developer's clone (state pushed to the remote)."""
        git(self.dev, "checkout", "-q", "main")
        r = CliRunner().invoke(cli, ["apply", "--auto-approve", "--all", "--root", str(self.dev)],
                               env={**self.scim_env, **IDENTITY})  # fmt: skip
        assert r.exit_code == 0, r.output

    def state_log(self) -> str:
        return git(self.origin, "log", "--format=%B", "reconcile-state")

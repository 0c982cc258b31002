"""The git state store: one file per target (`<target>.json`) on a branch of the project's remote.

Meant for GitHub Actions, where runners are ephemeral and the repository is the only durable
place. Invariants:

* One commit per apply session, made with git plumbing (hash-object, mktree, commit-tree) and
  pushed as `<commit>:refs/heads/<branch>`. The user's working tree, index, HEAD and branches are
  never touched; the only things written into the repository at `root` are objects and one
  private ref, `refs/reconcile/<remote>/<branch>`, which mirrors the fetched branch. Fetches pass
  an empty `--refmap` and write no FETCH_HEAD; pushes go to the remote's push URL, so no
  remote-tracking ref moves either. The network goes through the repository's own remote
  configuration, so the credentials actions/checkout installed are used as they are.
* A push is never forced and never merged. A push that is not a fast-forward (someone else pushed
  since we read the branch) is a StateError conflict: "another apply ran; run plan again".
  A session also refuses to start when the branch moved since this store's `load()`.
* Crash safety through a journal: every `save` atomically writes `<target>.json` into
  `<root>/.reconcile/git-state/` before returning. If a run dies before pushing, the next
  `load()` on this machine finds a journal with the branch's lineage and a higher serial (or a
  journal while the branch has no state at all): the journal wins, and the next session commits
  and pushes it (its commit message says so). A journal that is not ahead of the branch is
  dropped when identical to it, otherwise set aside as `<target>.json.superseded-<time>` with a
  warning; a journal of another lineage is a StateError for a human to look at.
  After a successful push the journal is removed, so a journal exists only for unpushed work.
* Locking: `<target>.lock` in the same directory, exactly as the local store. It guards one
  machine only; across CI runners, a GitHub Actions `concurrency:` group (one per target) must
  serialise apply jobs. The non-fast-forward check is the last line of defence, not a lock.
* If the body of a session raises, whatever was saved is still committed and pushed (it records
  writes that really happened on the target), then the original exception propagates; if that
  push fails too, the journal keeps the state for the next run.
* Nothing secret is logged: git's stderr is included in errors only after credentials embedded
  in URLs are masked, and only named GitHub variables are read from the environment.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from reconciler.errors import StateError
from reconciler.fileio import atomic_write, fsync_dir, remove_leftover_temps
from reconciler.state.local import FileLock, locked, read_state_file
from reconciler.state.model import State
from reconciler.state.store import (
    StateStore,
    StateWriter,
    decode_state,
    encode_state,
    successor,
)

log = logging.getLogger(__name__)

NETWORK_TIMEOUT = 300.0
LOCAL_TIMEOUT = 60.0
DEFAULT_AUTHOR = ("reconcile", "reconcile@localhost")
WORKDIR = Path(".reconcile") / "git-state"

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_NOT_LOADED = object()


def redact(text: str) -> str:
    """Mask credentials embedded in URLs (https://user:token@host/...)."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


# --- commit messages -------------------------------------------------------------------------


def run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run URL, when the runner's variables are all present."""
    server, repo, run = (env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if not (server and repo and run.isdigit()):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run}"


def pull_request_ref(env: Mapping[str, str]) -> str | None:
    """The pull request from RECONCILE_PR_NUMBER: a URL on GitHub, else `#N`."""
    number = env.get("RECONCILE_PR_NUMBER", "").strip()
    if not number.isdigit():
        return None
    server, repo = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    if server and repo:
        return f"{server.rstrip('/')}/{repo}/pull/{number}"
    return f"#{number}"


MAX_ACTION_LINES = 500


def commit_message(
    *,
    target: str,
    message: str,
    plan_checksum: str | None,
    state: State,
    env: Mapping[str, str],
    recovered: bool = False,
    interrupted: str | None = None,
    actions: Sequence[str] = (),
) -> str:
    """Subject naming the target, a short explanation when needed, the actions and their
    outcomes (the branch's history is then the apply log), then trailers."""
    first = message.strip().splitlines()[0].strip() if message.strip() else "apply"
    lines = [f"reconcile {target}: {first}", ""]
    notes = []
    if recovered:
        notes.append("Includes state recovered from the journal of an interrupted apply.")
    if interrupted:
        notes.append(f"The apply ended with an error ({interrupted}); state as far as it got.")
    if notes:
        lines += [*notes, ""]
    if actions:
        shown = list(actions[:MAX_ACTION_LINES])
        if len(actions) > MAX_ACTION_LINES:
            shown.append(f"... and {len(actions) - MAX_ACTION_LINES} more (reconcile audit on the runner has them all)")
        lines += ["Actions:", *(f"  {a}" for a in shown), ""]
    lines += [
        f"Plan-Checksum: {plan_checksum or 'none'}",
        f"Target: {target}",
        f"State-Serial: {state.serial}",
        f"State-Lineage: {state.lineage}",
    ]
    if (url := run_url(env)) is not None:
        lines.append(f"Run: {url}")
    if (pr := pull_request_ref(env)) is not None:
        lines.append(f"Pull-Request: {pr}")
    return "\n".join(lines) + "\n"


# --- journal resolution ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolution:
    base: State | None
    recovered: bool
    journal: Literal["none", "keep", "drop", "set_aside"]


def resolve_journal(branch: State | None, journal: State | None, *, where: str) -> _Resolution:
    """Which state is current: the branch's, or an unpushed journal that is ahead of it."""
    if journal is None:
        return _Resolution(branch, False, "none")
    if branch is None:
        return _Resolution(journal, True, "keep")
    if journal.lineage != branch.lineage:
        raise StateError(
            f"the journal {where} (lineage {journal.lineage}, serial {journal.serial}) is not a "
            f"version of the state on the branch (lineage {branch.lineage}); it was left by an "
            "interrupted apply against another state: inspect it, then move it away"
        )
    if journal.serial > branch.serial:
        return _Resolution(journal, True, "keep")
    if journal == branch:
        return _Resolution(branch, False, "drop")
    return _Resolution(branch, False, "set_aside")


# --- the store -------------------------------------------------------------------------------


class GitStore(StateStore):
    """State on a branch of the repository at `root` (default branch `reconcile-state`)."""

    def __init__(
        self, root: Path, target: str, *, branch: str = "reconcile-state", remote: str = "origin"
    ) -> None:
        self.root = Path(root)
        self.target = target
        self.branch = branch
        self.remote = remote
        self.file_name = f"{target}.json"
        self.workdir = self.root / WORKDIR
        self.journal = self.workdir / self.file_name
        self.lock_file = self.workdir / f"{target}.lock"
        self.private_ref = f"refs/reconcile/{remote}/{branch}"
        self._seen_tip: object = _NOT_LOADED
        self._empty = State(target=target)
        self._repo_checked = False

    def describe(self) -> str:
        return f"git branch {self.branch!r} of remote {self.remote!r} ({self.file_name})"

    # -- reading --

    def load(self) -> State:
        tip = self._fetch()
        resolution = resolve_journal(self._read_branch(tip), self._read_journal(), where=str(self.journal))
        self._report(resolution, tip)
        self._seen_tip = tip
        return resolution.base if resolution.base is not None else self._empty

    def _report(self, resolution: _Resolution, tip: str | None) -> None:
        if resolution.recovered:
            assert resolution.base is not None
            log.warning(
                "using state of target %r from the journal %s (serial %d) of an interrupted apply; "
                "the branch %r is at %s; the next apply session commits and pushes it",
                self.target, self.journal, resolution.base.serial, self.branch, (tip or "nothing")[:12],
            )  # fmt: skip
        elif resolution.journal == "set_aside":
            log.warning(
                "the journal %s is behind branch %r and differs from it; the next apply session "
                "sets it aside",
                self.journal, self.branch,
            )  # fmt: skip

    def _read_branch(self, tip: str | None) -> State | None:
        if tip is None:
            return None
        blob = self._find_blob(tip)
        if blob is None:
            return None
        data = self._run_ok(["cat-file", "blob", blob], what="read the state file")
        return decode_state(
            data,
            target=self.target,
            where=f"{self.file_name} on branch {self.branch!r} (commit {tip[:12]})",
            recovery=(
                f"fix it with a new commit on branch {self.branch!r} (e.g. revert the commit that "
                "broke it); never delete it: it records which accounts the reconciler owns"
            ),
        )

    def _read_journal(self) -> State | None:
        return read_state_file(
            self.journal,
            target=self.target,
            recovery=(
                "it holds the state of an interrupted apply that was never pushed: repair it, or "
                f"move it away if branch {self.branch!r} already has those changes"
            ),
        )

    # -- the session --

    @contextmanager
    def session(self, plan_checksum: str | None, message: str) -> Iterator[StateWriter]:
        self._ensure_workdir()
        with locked(FileLock(self.lock_file, self.target)) as lock:
            remove_leftover_temps(self.journal)
            tip = self._fetch()
            self._refuse_if_moved(tip)
            resolution = resolve_journal(
                self._read_branch(tip), self._read_journal(), where=str(self.journal)
            )
            self._settle_journal(resolution)
            base = resolution.base if resolution.base is not None else self._empty
            writer = _GitWriter(self, lock, resolution.base, base, pending=resolution.recovered)
            try:
                yield writer
            except GeneratorExit:
                raise
            except BaseException as exc:
                writer.close()
                self._finish_after_error(tip, writer, plan_checksum, message, resolution, exc)
                raise
            writer.close()
            if writer.pending:
                self._publish(tip, writer.state, plan_checksum, message, resolution.recovered, None, writer.notes)

    def _refuse_if_moved(self, tip: str | None) -> None:
        if self._seen_tip is not _NOT_LOADED and tip != self._seen_tip:
            raise self._conflict()

    def _settle_journal(self, resolution: _Resolution) -> None:
        if resolution.journal == "drop":
            log.debug("journal %s equals the branch; removing it", self.journal)
            self._remove_journal()
        elif resolution.journal == "set_aside":
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = self.journal.with_name(f"{self.file_name}.superseded-{stamp}")
            os.replace(self.journal, aside)
            log.warning(
                "the journal of an interrupted apply was superseded by branch %r; kept as %s",
                self.branch, aside,
            )  # fmt: skip
        elif resolution.recovered:
            log.warning("committing state recovered from the journal %s", self.journal)

    def _finish_after_error(
        self,
        tip: str | None,
        writer: _GitWriter,
        plan_checksum: str | None,
        message: str,
        resolution: _Resolution,
        exc: BaseException,
    ) -> None:
        if not writer.pending:
            return
        try:
            self._publish(
                tip, writer.state, plan_checksum, message, resolution.recovered, type(exc).__name__,
                writer.notes,
            )
        except StateError as push_error:
            log.error(
                "could not push the state of target %r after the apply failed: %s; the journal %s "
                "keeps it for the next run",
                self.target, push_error, self.journal,
            )  # fmt: skip

    def _write_journal(self, state: State) -> None:
        atomic_write(self.journal, encode_state(state))

    def _remove_journal(self) -> None:
        self.journal.unlink(missing_ok=True)
        fsync_dir(self.journal.parent)

    def _ensure_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ignore = self.workdir / ".gitignore"
        if not ignore.exists():  # keep the user's `git status` clean
            ignore.write_text("# private files of reconcile's git state store\n*\n", encoding="utf-8")

    # -- publishing --

    def _publish(
        self,
        parent: str | None,
        state: State,
        plan_checksum: str | None,
        message: str,
        recovered: bool,
        interrupted: str | None,
        actions: Sequence[str] = (),
    ) -> str:
        blob = self._text(["hash-object", "-w", "--stdin"], what="store the state", stdin=encode_state(state))
        tree = self._text(["mktree", "-z"], what="build the tree", stdin=self._tree_input(parent, blob))
        text = commit_message(
            target=self.target, message=message, plan_checksum=plan_checksum, state=state,
            env=os.environ, recovered=recovered, interrupted=interrupted, actions=actions,
        )  # fmt: skip
        parents = ["-p", parent] if parent else []
        commit = self._text(
            ["commit-tree", tree, *parents, "-F", "-"],
            what="commit the state",
            stdin=text.encode("utf-8"),
            env=self._identity_env(),
        )
        self._push(commit)
        self._run_ok(["update-ref", self.private_ref, commit], what="record the pushed state")
        self._seen_tip = commit
        self._remove_journal()
        log.info("pushed state of target %r serial %d as %s", self.target, state.serial, commit[:12])
        return commit

    def _tree_input(self, parent: str | None, blob: str) -> bytes:
        keep = [e for e in self._tree_entries(parent) if _entry_name(e) != self.file_name.encode()]
        keep.append(b"100644 blob " + blob.encode() + b"\t" + self.file_name.encode())
        return b"".join(e + b"\0" for e in keep)

    def _tree_entries(self, commit: str | None) -> list[bytes]:
        if commit is None:
            return []
        out = self._run_ok(["ls-tree", "-z", commit], what="list the state branch")
        return [e for e in out.split(b"\0") if e]

    def _find_blob(self, commit: str) -> str | None:
        for entry in self._tree_entries(commit):
            if _entry_name(entry) == self.file_name.encode():
                mode_type_sha = entry.split(b"\t", 1)[0].split(b" ")
                if mode_type_sha[1] != b"blob":
                    raise StateError(f"{self.file_name} on branch {self.branch!r} is not a file")
                return mode_type_sha[2].decode()
        return None

    def _push(self, commit: str) -> None:
        # Pushing to the remote's push URL rather than its name keeps git from updating the
        # user's remote-tracking ref; URL-keyed settings (credentials, extraheader) still apply.
        proc = self._git(
            ["push", "--porcelain", "--no-follow-tags", self._push_url(), f"{commit}:refs/heads/{self.branch}"],
            network=True,
        )
        if proc.returncode == 0:
            return
        out = proc.stdout.decode("utf-8", "replace")
        for line in out.splitlines():
            if not line.startswith("!"):
                continue
            if "[rejected]" in line:
                raise self._conflict()
            if "[remote rejected]" in line:
                reason = line.rsplit("[remote rejected]", 1)[1].strip()
                raise StateError(
                    f"remote {self.remote!r} refused the push of state branch {self.branch!r}: "
                    f"{redact(reason)}; allow the reconciler to push that branch. "
                    f"The state is kept in {self.journal}"
                )
        raise StateError(
            f"could not push state branch {self.branch!r} to remote {self.remote!r}: "
            f"{_stderr(proc)}; the state is kept in {self.journal} and the next apply pushes it"
        )

    def _push_url(self) -> str:
        return self._text(["remote", "get-url", "--push", self.remote], what=f"find the push URL of remote {self.remote!r}")

    def _conflict(self) -> StateError:
        return StateError(
            f"state branch {self.branch!r} on remote {self.remote!r} moved since it was read: "
            "another apply ran; run plan again"
        )

    # -- fetching --

    def _fetch(self) -> str | None:
        """The tip of the remote branch (fetched into the private ref), or None if absent."""
        self._check_repo()
        if self._remote_tip() is None:
            return None
        self._run_ok(
            [
                "fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                "--refmap=", "--quiet", self.remote, f"+refs/heads/{self.branch}:{self.private_ref}",
            ],
            what=f"fetch branch {self.branch!r} from remote {self.remote!r}",
            network=True,
        )  # fmt: skip
        return self._text(["rev-parse", "--verify", f"{self.private_ref}^{{commit}}"], what="read the fetched branch")

    def _remote_tip(self) -> str | None:
        ref = f"refs/heads/{self.branch}"
        proc = self._git(["ls-remote", "--exit-code", self.remote, ref], network=True)
        if proc.returncode == 2:
            return None
        if proc.returncode != 0:
            raise StateError(
                f"cannot reach remote {self.remote!r} to read state branch {self.branch!r}: "
                f"{_stderr(proc)}; check the network and the repository's credentials"
            )
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def _check_repo(self) -> None:
        if self._repo_checked:
            return
        proc = self._git(["rev-parse", "--git-dir"])
        if proc.returncode != 0:
            raise StateError(
                f"{self.root} is not a git repository: the git state backend needs one "
                "(or set `state: {backend: local}` in the policy)"
            )
        check = self._git(["check-ref-format", self.private_ref])
        if check.returncode != 0:
            raise StateError(f"state branch {self.branch!r} or remote {self.remote!r} is not a valid name")
        self._repo_checked = True

    # -- running git --

    def _identity_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for key, default in (("name", DEFAULT_AUTHOR[0]), ("email", DEFAULT_AUTHOR[1])):
            if self._git(["config", "--get", f"user.{key}"]).returncode == 0:
                continue
            for role in ("AUTHOR", "COMMITTER"):
                var = f"GIT_{role}_{key.upper()}"
                if not os.environ.get(var):
                    env[var] = default
        return env

    def _text(self, args: Sequence[str], *, what: str, stdin: bytes | None = None,
              env: Mapping[str, str] | None = None) -> str:  # fmt: skip
        return self._run_ok(args, what=what, stdin=stdin, env=env).decode("utf-8").strip()

    def _run_ok(
        self,
        args: Sequence[str],
        *,
        what: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        network: bool = False,
    ) -> bytes:
        proc = self._git(args, stdin=stdin, env=env, network=network)
        if proc.returncode != 0:
            raise StateError(f"git could not {what} (git {args[0]}): {_stderr(proc)}")
        return proc.stdout

    def _git(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        network: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        cmd = ["git", "-C", str(self.root), *args]
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        timeout = NETWORK_TIMEOUT if network else LOCAL_TIMEOUT
        log.debug("git %s", args[0])
        try:
            return subprocess.run(
                cmd, input=stdin, capture_output=True, env=full_env, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise StateError("the git state backend needs the `git` command, which is not installed") from None
        except subprocess.TimeoutExpired:
            raise StateError(f"git {args[0]} did not finish within {timeout:.0f}s ({self.describe()})") from None


def _entry_name(entry: bytes) -> bytes:
    return entry.split(b"\t", 1)[1] if b"\t" in entry else b""


def _stderr(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
    return redact(" ".join(text.split()))


class _GitWriter(StateWriter):
    def __init__(
        self, store: GitStore, lock: FileLock, stored: State | None, base: State, *, pending: bool
    ) -> None:
        self._store = store
        self._lock = lock
        self._stored = stored
        self._base = base
        self._open = True
        self._mutex = threading.Lock()
        self.pending = pending
        """Whether there is state that the branch does not have yet."""
        self.notes: list[str] = []
        """The session's actions and outcomes, for the commit message."""

    @property
    def state(self) -> State:
        return self._stored if self._stored is not None else self._base

    def save(self, state: State) -> State:
        with self._mutex:
            if not self._open:
                raise StateError(f"the state session for {self._store.describe()} is over; not saved")
            new = successor(self._stored, state, target=self._store.target, where=self._store.describe())
            self._lock.verify()
            self._store._write_journal(new)
            self._stored = new
            self.pending = True
        log.debug("journaled state of target %r at serial %d", new.target, new.serial)
        return new

    def note(self, lines: Sequence[str]) -> None:
        with self._mutex:
            self.notes.extend(lines)

    def close(self) -> None:
        with self._mutex:
            self._open = False

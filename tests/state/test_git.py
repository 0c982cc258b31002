"""The git store against a real bare repository and real clones (no network, no mocks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import StateError
from reconciler.state import (
    GitStore,
    ManagedUser,
    State,
    StoreConfig,
    encode_state,
    open_store,
)
from reconciler.state.git import commit_message, redact

REPO = Path(__file__).resolve().parents[2]
TARGET = "bw"
BRANCH = "reconcile-state"
GITHUB_VARS = ("GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "RECONCILE_PR_NUMBER")


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Remote:
    bare: Path
    tmp: Path

    def clone(self, name: str) -> Path:
        path = self.tmp / name
        git(self.tmp, "clone", "--quiet", str(self.bare), str(path))
        return path

    def tip(self, branch: str = BRANCH) -> str | None:
        out = git(self.bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        return out or None

    def file(self, name: str = f"{TARGET}.json") -> Any:
        return json.loads(git(self.bare, "show", f"{BRANCH}:{name}"))

    def log(self) -> list[str]:
        return git(self.bare, "log", "--format=%B%x00", BRANCH).split("\x00")[:-1]


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Remote:
    config = tmp_path / "gitconfig"
    config.write_text("[init]\n\tdefaultBranch = main\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "State Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "state-test@example.org")
    for var in GITHUB_VARS:
        monkeypatch.delenv(var, raising=False)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "--quiet", str(seed))
    (seed / "README.md").write_text("project\n", encoding="utf-8")
    git(seed, "add", "README.md")
    git(seed, "commit", "--quiet", "-m", "initial")
    git(seed, "push", "--quiet", str(bare), "main")
    return Remote(bare, tmp_path)


@pytest.fixture
def project(remote: Remote) -> Path:
    return remote.clone("project")


def with_user(state: State, n: int) -> State:
    users = dict(state.users)
    users[f"u{n}"] = ManagedUser(external_id=f"u{n}", id=f"id-{n}", user_name=f"u{n}@x.org")
    return state.model_copy(update={"users": users})


def push_raw_state(remote: Remote, files: dict[str, str]) -> None:
    """Put files on the state branch from a separate clone, as someone else would."""
    other = remote.tmp / "raw-writer"
    if not other.exists():
        git(remote.tmp, "clone", "--quiet", str(remote.bare), str(other))
    git(other, "checkout", "--quiet", "--orphan", "raw")
    git(other, "rm", "-r", "--quiet", "--cached", ".", check=False)
    for name, text in files.items():
        (other / name).write_text(text, encoding="utf-8")
        git(other, "add", name)
    git(other, "commit", "--quiet", "-m", "raw")
    git(other, "push", "--quiet", "--force", "origin", f"raw:{BRANCH}")


# --- load and one commit per session ---------------------------------------------------------


def test_load_is_empty_when_the_branch_does_not_exist(project: Path, remote: Remote) -> None:
    state = GitStore(project, TARGET).load()
    assert (state.target, state.serial, state.users) == (TARGET, 0, {})
    assert remote.tip() is None


def test_one_commit_per_session_naming_the_plan_checksum(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    loaded = store.load()
    with store.session("sha256:aaa", "apply plan") as writer:
        one = writer.save(with_user(loaded, 1))
        two = writer.save(with_user(one, 2))
        assert remote.tip() is None  # nothing is pushed before the session ends
    assert two.serial == 2
    assert remote.file() == json.loads(encode_state(two))
    assert git(remote.bare, "show", f"{BRANCH}:{TARGET}.json") + "\n" == encode_state(two).decode()
    assert not store.journal.exists()

    with store.session("sha256:bbb", "apply again") as writer:
        writer.save(with_user(writer.state, 3))
    messages = remote.log()
    assert len(messages) == 2
    assert messages[0].startswith("reconcile bw: apply again\n")
    assert "Plan-Checksum: sha256:bbb" in messages[0] and "State-Serial: 3" in messages[0]
    assert "Plan-Checksum: sha256:aaa" in messages[1] and "State-Serial: 2" in messages[1]
    assert GitStore(remote.clone("fresh"), TARGET).load().serial == 3


def test_a_session_without_saves_commits_nothing(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with store.session("sha256:aaa", "apply") as writer:
        writer.save(writer.state)
    tip = remote.tip()
    with store.session("sha256:bbb", "nothing to do"):
        pass
    assert remote.tip() == tip


def test_commit_message_names_the_github_run_and_pull_request(
    project: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/members")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("RECONCILE_PR_NUMBER", "17")
    store = GitStore(project, TARGET)
    with store.session("sha256:ccc", "apply") as writer:
        writer.save(writer.state)
    message = remote.log()[0]
    assert "Run: https://github.com/acme/members/actions/runs/4242" in message
    assert "Pull-Request: https://github.com/acme/members/pull/17" in message


def test_commit_message_without_github() -> None:
    state = State(target="t", serial=3, lineage="L")
    text = commit_message(target="t", message="apply x\nmore", plan_checksum=None, state=state, env={},
                          recovered=True, interrupted="ScimError")  # fmt: skip
    assert text == (
        "reconcile t: apply x\n\n"
        "Includes state recovered from the journal of an interrupted apply.\n"
        "The apply ended with an error (ScimError); state as far as it got.\n\n"
        "Plan-Checksum: none\nTarget: t\nState-Serial: 3\nState-Lineage: L\n"
    )
    listed = commit_message(target="t", message="apply", plan_checksum="c", state=state, env={},
                            actions=[f"ok create_user u{i}@x.org" for i in range(502)])
    assert "\n\nActions:\n  ok create_user u0@x.org\n" in listed
    assert "  ok create_user u499@x.org\n  ... and 2 more (reconcile audit on the runner has them all)\n\n" in listed
    assert listed.endswith("Plan-Checksum: c\nTarget: t\nState-Serial: 3\nState-Lineage: L\n")  # trailers last
    env = {"RECONCILE_PR_NUMBER": "9; rm -rf /", "GITHUB_RUN_ID": "1"}
    assert "Pull-Request" not in commit_message(target="t", message="", plan_checksum="c", state=state, env=env)
    assert "Pull-Request: #9" in commit_message(
        target="t", message="", plan_checksum="c", state=state, env={"RECONCILE_PR_NUMBER": "9"}
    )


def test_other_targets_on_the_branch_are_kept(project: Path, remote: Remote) -> None:
    for target in ("a", "b"):
        store = GitStore(project, target)
        with store.session(None, "apply") as writer:
            writer.save(writer.state)
    with GitStore(project, "a").session(None, "apply") as writer:
        writer.save(writer.state)
    names = git(remote.bare, "ls-tree", "--name-only", BRANCH).splitlines()
    assert names == ["a.json", "b.json"]
    assert remote.file("a.json")["serial"] == 2 and remote.file("b.json")["serial"] == 1


def test_branch_without_this_targets_file_is_empty_state(project: Path, remote: Remote) -> None:
    push_raw_state(remote, {"other.json": "{}"})
    assert GitStore(project, TARGET).load().serial == 0


def test_corrupt_state_on_the_branch_is_an_error(project: Path, remote: Remote) -> None:
    push_raw_state(remote, {f"{TARGET}.json": "{broken"})
    with pytest.raises(StateError, match="bw.json on branch 'reconcile-state' \\(commit .*\\) is corrupt"):
        GitStore(project, TARGET).load()


def test_unreachable_remote_is_an_error(project: Path, remote: Remote) -> None:
    remote.bare.rename(remote.tmp / "gone.git")
    with pytest.raises(StateError, match="cannot reach remote 'origin'"):
        GitStore(project, TARGET).load()


def test_not_a_repository_is_an_error(tmp_path: Path, remote: Remote) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(StateError, match="is not a git repository"):
        GitStore(plain, TARGET).load()


def test_lineage_mismatch_is_refused(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with store.session(None, "apply") as writer:
        stored = writer.save(writer.state)
    tip = remote.tip()
    with store.session(None, "apply") as writer:
        with pytest.raises(StateError, match="it is a different state"):
            writer.save(State(target=TARGET, serial=stored.serial))
    assert remote.tip() == tip


def test_open_store_builds_a_git_store(project: Path) -> None:
    store = open_store(StoreConfig(backend="git", branch="s", remote="origin"), project, TARGET)
    assert isinstance(store, GitStore)
    assert store.describe() == "git branch 's' of remote 'origin' (bw.json)"


# --- races: a conflict, never a merge or a force push ------------------------------------------


def test_push_that_loses_a_race_is_a_conflict_and_the_remote_is_unchanged(remote: Remote) -> None:
    a = GitStore(remote.clone("a"), TARGET)
    b = GitStore(remote.clone("b"), TARGET)
    with a.session(None, "seed") as writer:
        writer.save(writer.state)
    a.load()
    b.load()
    with pytest.raises(StateError) as err:
        with b.session("sha256:bbb", "apply b") as writer_b:
            with a.session("sha256:aaa", "apply a") as writer_a:
                writer_a.save(with_user(writer_a.state, 1))
            winner = remote.tip()
            writer_b.save(with_user(writer_b.state, 2))
    assert str(err.value) == (
        "state branch 'reconcile-state' on remote 'origin' moved since it was read: "
        "another apply ran; run plan again"
    )
    assert remote.tip() == winner
    assert "Plan-Checksum: sha256:aaa" in remote.log()[0]
    assert list(remote.file()["users"]) == ["u1"]
    assert b.journal.exists()  # b's writes are not lost silently


def test_session_refuses_to_start_when_the_branch_moved_since_load(remote: Remote) -> None:
    a = GitStore(remote.clone("a"), TARGET)
    b = GitStore(remote.clone("b"), TARGET)
    a.load()
    with b.session(None, "apply b") as writer:
        writer.save(writer.state)
    with pytest.raises(StateError, match="moved since it was read"):
        with a.session(None, "apply a"):
            pytest.fail("the session must not start")
    assert not a.lock_file.exists()


def test_a_lock_held_on_this_machine_is_refused(project: Path) -> None:
    store = GitStore(project, TARGET)
    with store.session(None, "outer"):
        with pytest.raises(StateError, match=f"locked by pid {os.getpid()}"):
            with GitStore(project, TARGET).session(None, "inner"):
                pass


# --- the journal -----------------------------------------------------------------------------

CRASHER = r"""
import sys, time
from pathlib import Path
from reconciler.state import GitStore, ManagedUser

store = GitStore(Path(sys.argv[1]), "bw")
with store.session("sha256:crashed", "apply that dies") as writer:
    state = writer.state
    for n in (1, 2):
        users = dict(state.users)
        users[f"u{n}"] = ManagedUser(external_id=f"u{n}", id=f"id-{n}", user_name=f"u{n}@x.org")
        state = writer.save(state.model_copy(update={"users": users}))
    print("saved", flush=True)
    time.sleep(120)
"""


def run_and_kill(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(project)], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == b"saved\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_journal_of_a_killed_run_is_recovered_and_pushed(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with store.session("sha256:first", "first") as writer:
        writer.save(writer.state)
    run_and_kill(project)
    assert remote.tip() is not None and remote.file()["serial"] == 1
    assert store.journal.exists() and store.lock_file.exists()

    recovering = GitStore(project, TARGET)
    state = recovering.load()
    assert state.serial == 3 and sorted(state.users) == ["u1", "u2"]
    with recovering.session("sha256:next", "next apply") as writer:
        assert writer.state == state
    assert remote.file() == json.loads(encode_state(state))
    assert "Includes state recovered from the journal" in remote.log()[0]
    assert not recovering.journal.exists() and not recovering.lock_file.exists()


def test_journal_on_an_absent_branch_wins(project: Path, remote: Remote) -> None:
    run_and_kill(project)
    assert remote.tip() is None
    store = GitStore(project, TARGET)
    assert store.load().serial == 2
    with store.session(None, "next") as writer:
        writer.save(writer.state)
    assert remote.file()["serial"] == 3


def test_failed_push_keeps_the_journal_for_the_next_run(project: Path, remote: Remote) -> None:
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho protected >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    store = GitStore(project, TARGET)
    with pytest.raises(StateError, match="remote 'origin' refused the push .*pre-receive hook declined"):
        with store.session("sha256:x", "apply") as writer:
            saved = writer.save(with_user(writer.state, 1))
    assert remote.tip() is None and store.journal.read_bytes() == encode_state(saved)
    hook.unlink()
    with GitStore(project, TARGET).session("sha256:y", "retry") as writer:
        assert writer.state == saved
    assert remote.file()["serial"] == 1 and not store.journal.exists()


def test_state_saved_before_a_failure_is_still_pushed(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with pytest.raises(RuntimeError, match="boom"):
        with store.session("sha256:x", "apply") as writer:
            writer.save(with_user(writer.state, 1))
            raise RuntimeError("boom")
    assert remote.file()["serial"] == 1
    assert "The apply ended with an error (RuntimeError)" in remote.log()[0]
    assert not store.lock_file.exists()


def test_journal_of_another_lineage_is_an_error(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with store.session(None, "apply") as writer:
        writer.save(writer.state)
    store.journal.write_bytes(encode_state(State(target=TARGET, serial=5)))
    with pytest.raises(StateError, match="is not a version of the state on the branch"):
        GitStore(project, TARGET).load()


def test_journal_behind_the_branch_is_set_aside(project: Path, remote: Remote) -> None:
    store = GitStore(project, TARGET)
    with store.session(None, "apply") as writer:
        first = writer.save(writer.state)
    with store.session(None, "apply") as writer:
        writer.save(writer.state)
    store.journal.write_bytes(encode_state(with_user(first, 9)))
    fresh = GitStore(project, TARGET)
    assert fresh.load().serial == 2
    with fresh.session(None, "apply"):
        pass
    assert not fresh.journal.exists()
    aside = list(fresh.workdir.glob(f"{TARGET}.json.superseded-*"))
    assert len(aside) == 1 and "u9" in aside[0].read_text(encoding="utf-8")


# --- the user's repository is left alone -------------------------------------------------------


def repo_snapshot(root: Path) -> dict[str, str]:
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(root, "ls-files", "--stage"),
        "staged": git(root, "diff", "--cached"),
        "unstaged": git(root, "diff"),
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/remotes", "refs/tags"),
        "stash": git(root, "stash", "list"),
    }


def test_working_tree_index_head_and_branches_are_untouched(project: Path, remote: Remote) -> None:
    (project / "README.md").write_text("edited, not staged\n", encoding="utf-8")
    (project / "staged.txt").write_text("staged\n", encoding="utf-8")
    git(project, "add", "staged.txt")
    (project / "untracked.txt").write_text("untracked\n", encoding="utf-8")
    before = repo_snapshot(project)

    store = GitStore(project, TARGET)
    store.load()
    for n in (1, 2):
        with store.session(f"sha256:{n}", "apply") as writer:
            writer.save(with_user(writer.state, n))
    store.load()

    assert repo_snapshot(project) == before
    assert remote.file()["serial"] == 2
    assert not (project / ".git" / "FETCH_HEAD").exists()
    assert git(project, "rev-parse", f"refs/reconcile/origin/{BRANCH}") == remote.tip()


def test_redact_masks_credentials_in_urls() -> None:
    text = "fatal: unable to access 'https://x-access-token:ghs_secret@github.com/acme/m.git/'"
    assert "ghs_secret" not in redact(text)
    assert "https://***@github.com/acme/m.git/" in redact(text)

"""What a pull request changes for each declared user, offline: the report for fork pull requests.

A fork's run gets no secrets, so it cannot read a target. What it can do without them is
validate the files and explain, for each user the pull request affects, every target's decision.

Invariants:
* A user is *affected* when it was added, when its declared entry changed, or when, on any
  target, its in/out-of-scope decision or the groups it gets differ between the base commit
  and the checked-out tree (so a policy or group change counts for the users it moves).
* Removed users (declared at the base, not any more) are listed, never explained.
* The base is read from git objects (`git ls-tree` / `git cat-file`) into a temporary
  directory; the working tree, index and refs are not touched.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reconciler.config.checks import check_project
from reconciler.config.load import Project, load_project
from reconciler.config.models import UserSpec
from reconciler.errors import ReconcilerError, Severity
from reconciler.explain import explain_user, render_explanation
from reconciler.github.bodies import redact_text
from reconciler.resolve import build_graph, flatten, resolve

PROJECT_DIRS = ("desired-state", "policies")
FORK_NOTICE = (
    "This pull request comes from a fork. GitHub gives such runs **no secrets**, so reconcile could "
    "not read the targets and **no plan was made**. The check fails on purpose, so that this "
    "cannot be merged on a green check. To get a plan, a maintainer pushes this branch to the "
    "repository itself; the plan then appears in this comment."
)
INVALID = "**validate:** ❌ the files have errors; see the run log for each one with its file, line and column."
REMOVED_NOTE = "the plan decides what happens to them on each target (disable or delete, as its policy says)."
View = tuple[bool, frozenset[str]]


@dataclass(frozen=True)
class Changes:
    affected: tuple[UserSpec, ...]
    """Users of the new tree the pull request affects, sorted by userName."""
    removed: tuple[tuple[str, str], ...]
    """(externalId, userName) declared at the base only."""
    base_note: str | None = None
    """Why the base could not be compared (then every user counts as affected)."""


def _git(root: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", *args], check=False, cwd=root, capture_output=True, timeout=60)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReconcilerError(f"git {args[0]} failed: {msg[-1] if msg else proc.returncode}")
    return proc.stdout


def export_tree(root: Path, rev: str, dest: Path) -> None:
    """Write desired-state/ and policies/ as they are at `rev` into `dest`."""
    listing = _git(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", *PROJECT_DIRS)
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, obj = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        rel = Path(name.decode("utf-8", "surrogateescape"))
        if rel.is_absolute() or ".." in rel.parts:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git(root, "cat-file", "blob", obj.decode()))
    for d in PROJECT_DIRS:
        (dest / d).mkdir(exist_ok=True)


def _views(project: Project) -> dict[str, dict[str, View]]:
    """target -> externalId -> (in scope, displayNames of the groups it gets)."""
    graph = build_graph(project.desired)
    flat = flatten(graph)
    out: dict[str, dict[str, View]] = {}
    for t in project.targets:
        ts = resolve(project.desired, t, graph)
        per: dict[str, View] = {}
        for uid in graph.users:
            inside = uid in ts.users
            groups = frozenset(
                graph.groups[g].display_name for g in ts.groups if inside and uid in flat.get(g, frozenset())
            )
            per[uid] = (inside, groups)
        out[t.name] = per
    return out


def _ok(project: Project) -> bool:
    diags = check_project(project)
    return not any(d.severity is Severity.ERROR for d in diags)


def compare(base: Project | None, head: Project, *, base_note: str | None = None) -> Changes:
    head_users = {u.external_id: u for u in head.desired.users}
    if base is None:
        return Changes(tuple(sorted(head_users.values(), key=lambda u: u.user_name.lower())), (), base_note)
    base_users = {u.external_id: u for u in base.desired.users}
    before, after = _views(base), _views(head)
    affected = []
    for uid, user in head_users.items():
        old = base_users.get(uid)
        if old is None or old != user:
            affected.append(user)
            continue
        targets = set(before) | set(after)
        if any(before.get(t, {}).get(uid) != after.get(t, {}).get(uid) for t in targets):
            affected.append(user)
    removed = sorted((uid, u.user_name) for uid, u in base_users.items() if uid not in head_users)
    return Changes(tuple(sorted(affected, key=lambda u: u.user_name.lower())), tuple(removed), base_note)


def changes_since(root: Path, base: str, head: Project) -> Changes:
    with tempfile.TemporaryDirectory(prefix="reconcile-base-") as tmp:
        try:
            export_tree(root, base, Path(tmp))
        except ReconcilerError as exc:
            return compare(None, head, base_note=f"the base commit could not be read ({exc})")
        base_project = load_project(Path(tmp))
        if not _ok(base_project):
            return compare(None, head, base_note="the base commit's files do not validate")
        return compare(base_project, head)


def fork_report(root: Path, base: str, *, redact: bool, limit: int) -> tuple[str, bool]:
    """The Markdown body for a fork's pull request, and whether validation passed."""
    head = load_project(root)
    valid = _ok(head)
    lines = [
        "### reconcile: validate and explain only (pull request from a fork)",
        "",
        FORK_NOTICE,
        "",
    ]
    if not valid:
        lines += [INVALID, ""]
        return "\n".join(lines), False
    summary = (
        f"**validate:** ✅ {len(head.desired.users)} users, {len(head.desired.groups)} groups, "
        f"{len(head.targets)} target(s) ({', '.join(t.name for t in head.targets)})."
    )
    lines += [summary, ""]
    changes = changes_since(root, base, head)
    keys = tuple(u.external_id for u in head.desired.users) + tuple(k for k, _ in changes.removed)
    if changes.base_note:
        lines += [f"_Compared with nothing: {changes.base_note}; every user is listed._", ""]
    lines += _explained(head, changes.affected, limit)
    if changes.removed:
        lines += ["", f"**No longer declared** ({len(changes.removed)}): {REMOVED_NOTE}"]
        lines += [f"- `{name}` (`{uid}`)" for uid, name in changes.removed]
    text = "\n".join(lines)
    return (redact_text(text, keys=keys) if redact else text), True


def _explained(head: Project, users: Iterable[UserSpec], limit: int) -> list[str]:
    users = list(users)
    if not users:
        return ["No declared user's decision or groups change on any target."]
    lines = [f"**Users this pull request affects** ({len(users)}):", ""]
    rules = {t.name: t for t in head.targets}
    for user in users[:limit]:
        text = render_explanation(user, explain_user(head, user, list(head.targets)), rules)
        lines += [
            f"<details><summary><code>{user.user_name}</code></summary>",
            "",
            "```",
            text,
            "```",
            "</details>",
            "",
        ]
    if len(users) > limit:
        rest = ", ".join(f"`{u.user_name}`" for u in users[limit:])
        lines.append(f"…and {len(users) - limit} more, not explained here: {rest}")
    return lines

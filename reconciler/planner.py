"""`plan` end to end: load -> resolve -> read live (read-only) -> state -> diff -> safety -> Plan.

The I/O at the ends of the pure pipeline lives here: the read-only SCIM client, the state store,
and `git` for the desired inputs' commit. Nothing here writes to a target.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from reconciler.config.load import Project, Target, expand_env
from reconciler.diff import capabilities_for, compute_actions, iso
from reconciler.errors import ReconcilerError
from reconciler.fingerprint import fingerprint_group, fingerprint_user
from reconciler.live import LiveState
from reconciler.plan import ConnectionInfo, DesiredRef, Plan, StateRef, build_plan
from reconciler.policy import Overrides, check_safety
from reconciler.resolve import build_graph, resolve
from reconciler.state.model import State

LiveReader = Callable[[ConnectionInfo], LiveState]


def utcnow() -> datetime:
    """The clock, overridable for two-phase removal tests (RECONCILE_NOW=2027-01-31T00:00:00Z)."""
    fixed = os.environ.get("RECONCILE_NOW")
    if fixed:
        return datetime.strptime(fixed, "%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def connection_info(target: Target, env: Mapping[str, str] | None = None) -> ConnectionInfo:
    conn = target.policy.connection
    url, missing = expand_env(conn.url, env)
    if missing:
        raise ReconcilerError(
            f"target {target.name}: connection.url needs ${{{missing[0]}}}, which is not set "
            f"({target.where('connection', 'url')}); export it, or run `reconcile validate`"
        )
    return ConnectionInfo(
        url=url,
        token_env=conn.token_env,
        profile=conn.profile,
        users_path=conn.users_path,
        groups_path=conn.groups_path,
        timeout=conn.timeout,
        verify_tls=conn.verify_tls,
        capabilities=dict(conn.capabilities),
    )


def git_info(root: Path) -> tuple[str | None, bool]:
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None, False
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "desired-state", "policies"],
            capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, False


def make_plan(
    project: Project,
    target: Target,
    live: LiveState,
    state: State,
    conn: ConnectionInfo,
    *,
    now: datetime,
    overrides: Overrides,
    commit: tuple[str | None, bool] = (None, False),
) -> Plan:
    """The pure part of `plan`: everything after the reads."""
    graph = build_graph(project.desired)
    ts = resolve(project.desired, target, graph)
    caps = capabilities_for(conn.profile, conn.capabilities)
    diff = compute_actions(ts, live, state, target.policy, caps, now)
    safety = check_safety(
        diff.actions,
        target.policy,
        desired_users=len(ts.users),
        managed_users=diff.managed_users,
        managed_memberships=diff.managed_memberships,
        protected_kept=diff.protected_kept,
        overrides=overrides,
    )
    # Only what an action touches: an unrelated change elsewhere does not make the plan stale.
    ids = {a.id for a in diff.actions if a.id}
    ids |= {m.id for a in diff.actions if a.kind == "change_members" for m in (*a.add, *a.remove) if m.id}
    fingerprints = {f"user:{i}": fingerprint_user(u) for i, u in diff.touched_users.items() if i in ids}
    fingerprints |= {f"group:{i}": fingerprint_group(g) for i, g in diff.touched_groups.items() if i in ids}
    fingerprints |= {f"absent:{k}": v for k, v in diff.absent_keys.items()}
    settings = target.policy.state
    return build_plan(
        created_at=iso(now),
        target=target.name,
        connection=conn,
        state=StateRef(
            backend=settings.backend,
            path=settings.path,
            branch=settings.branch,
            remote=settings.remote,
            lineage=state.lineage,
            serial=state.serial,
        ),
        desired=DesiredRef(digest=project.desired.digest, commit=commit[0], dirty=commit[1]),
        policy_digest=target.digest,
        removal=target.policy.removal.model_dump(mode="json"),
        fingerprints=fingerprints,
        actions=diff.actions,
        warnings=tuple(diff.warnings),
        safety=safety,
        unmanaged={"users": diff.unmanaged_users, "groups": diff.unmanaged_groups},
    )

"""The commands' use cases, one function each: plan a target, apply plan files, plan-and-apply,
inspect and edit state. I/O glue only; the decisions are in the pure modules they call."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.apply import ApplyResult, Outcome, apply_plan
from reconciler.audit import AuditLog
from reconciler.config.checks import check_project
from reconciler.config.load import Project, Target, load_project
from reconciler.config.yamlio import ensure_private_dir
from reconciler.diff import iso
from reconciler.errors import ConfigError, ReconcilerError, ScimError, Severity, StalePlanError
from reconciler.live import LiveState, load_snapshot, save_snapshot
from reconciler.plan import ConnectionInfo, Plan, load_plan, save_plan
from reconciler.planner import connection_info, git_info, make_plan, utcnow
from reconciler.policy import Overrides
from reconciler.render import render
from reconciler.state.model import State
from reconciler.state.store import StateStore, StoreConfig, open_store
from reconciler.target import TargetClient, open_client

log = logging.getLogger(__name__)
Echo = Callable[..., None]


def open_target_store(root: Path, target: Target) -> StateStore:
    ensure_private_dir(root / ".reconcile")
    return open_store(StoreConfig.model_validate(target.policy.state, from_attributes=True), root, target.name)


def _store_for_plan(root: Path, plan: Plan) -> StateStore:
    s = plan.state
    cfg = StoreConfig(backend=s.backend, path=s.path, branch=s.branch, remote=s.remote)
    ensure_private_dir(root / ".reconcile")
    return open_store(cfg, root, plan.target)


def plan_target(
    project: Project,
    target: Target,
    *,
    overrides: Overrides,
    snapshot: Path | None = None,
    save_live: Path | None = None,
) -> Plan:
    conn = connection_info(target)
    state = open_target_store(project.root, target).load()
    if snapshot is not None:
        live = load_snapshot(snapshot)
    else:
        live = read_live(target.name, conn)
        if save_live is not None:
            save_snapshot(live, save_live)
    return make_plan(
        project, target, live, state, conn, now=utcnow(), overrides=overrides, commit=git_info(project.root)
    )


def _located(name: str, url: str, exc: ScimError) -> ReconcilerError:
    """A SCIM failure with the target it happened on: a CI log shows several targets."""
    err = type(exc)(f"target {name} ({url}): {exc.args[0] if exc.args else 'request failed'}",
                    status=exc.status, scim_type=exc.scim_type, detail=exc.detail, method=exc.method, path=exc.path)
    return err


def read_live(name: str, conn: ConnectionInfo) -> LiveState:
    """Everything the target holds, read with a read-only client; a failure names the target."""
    port = TargetClient(open_client(conn, read_only=True))
    try:
        return port.read_all()
    except ScimError as exc:
        raise _located(name, conn.url, exc) from None
    finally:
        port.close()


def _progress(echo: Echo) -> Callable[[Outcome, int, int], None]:
    tty = sys.stderr.isatty()

    def report(o: Outcome, done: int, total: int) -> None:
        mark = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}[o.status]
        line = f"[{done}/{total}] {o.kind} {o.label}: {mark}" + (f" ({o.message})" if o.message else "")
        if tty and o.status == "ok" and done < total:
            echo(f"\r\x1b[2K{line}", err=True, nl=False)
        else:
            echo(("\r\x1b[2K" if tty else "") + line, err=True)

    return report


def render_result(result: ApplyResult) -> str:
    lines = [f"Apply of {result.target} ({result.checksum[:23]}…): state serial {result.state_serial}"]
    counts = result.counts()
    if not counts:
        lines.append("  nothing to do")
    lines.append(f"  {'action':<16}{'impacted':>9}{'ok':>6}{'failed':>8}{'skipped':>9}")
    for kind in sorted(counts):
        c = counts[kind]
        lines.append(f"  {kind:<16}{c['impacted']:>9}{c['ok']:>6}{c['failed']:>8}{c['skipped']:>9}")
    for o in result.outcomes:
        if o.status != "ok":
            lines.append(f"  {o.status.upper()}: {o.kind} {o.label}: {o.message}")
    return "\n".join(lines) + "\n"


def _apply_one(plan: Plan, root: Path, echo: Echo) -> ApplyResult:
    with AuditLog(root, plan, lambda: iso(utcnow())) as audit:
        audit.started()
        if not plan.safety.safe:
            reason = f"the plan for {plan.target} is unsafe and cannot be applied: " + "; ".join(plan.safety.violations)
            audit.refused(reason)
            raise ReconcilerError(reason)
        report = _progress(echo)

        def progress(o: Outcome, done: int, total: int) -> None:
            audit.outcome(o)
            report(o, done, total)

        port = TargetClient(open_client(plan.connection, read_only=False))
        message = f"reconcile apply {plan.target} plan {plan.checksum}"
        try:
            result = apply_plan(
                plan, port, _store_for_plan(root, plan), now=lambda: iso(utcnow()), progress=progress, message=message
            )
        except ScimError as exc:  # the stale check could not read the target: nothing was written
            located = _located(plan.target, plan.connection.url, exc)
            audit.refused(str(located))
            raise located from None
        except StalePlanError as exc:
            audit.refused(str(exc))
            raise
        except BaseException as exc:
            audit.aborted(str(exc) or type(exc).__name__)
            raise
        finally:
            port.close()
        audit.finished(result)
    echo(render_result(result), nl=False)
    return result


def _same_actions(a: Plan, b: Plan) -> bool:
    def strip(p: Plan) -> list[dict[str, object]]:
        out = []
        for x in p.actions:
            d = x.model_dump(mode="json", exclude={"reason", "delete_due"})
            out.append(d)
        return out

    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def apply_files(
    paths: list[Path], *, root: Path, replan_if_stale: bool, out: Callable[[str], Path] | None, echo: Echo
) -> list[ApplyResult]:
    """Apply each plan; `out` names where a re-plan of a target is written (--replan-if-stale)."""
    plans = [load_plan(p) for p in paths]  # refuse every altered file before touching anything
    results = []
    for path, plan in zip(paths, plans):
        try:
            results.append(_apply_one(plan, root, echo))
        except StalePlanError as exc:
            if not replan_if_stale:
                raise
            echo(f"{path}: {exc}; planning again", err=True)
            project = _load_ok(root)
            target = next((t for t in project.targets if t.name == plan.target), None)
            if target is None:
                raise ReconcilerError(f"target {plan.target} is no longer in {root / 'policies'}") from None
            fresh = plan_target(project, target, overrides=Overrides(
                _override_removals(plan), any("--allow-empty" in o for o in plan.safety.overrides)))
            where = out(plan.target) if out is not None else None
            if where is not None:
                save_plan(fresh, where)
            if not _same_actions(plan, fresh):
                echo(render(fresh, "text"), err=True)
                raise ReconcilerError(
                    f"{plan.target}: the new plan's actions differ from the reviewed plan; review the new plan"
                    + (f" ({where})" if where else "")
                ) from None
            echo(f"{plan.target}: the new plan has the reviewed actions; applying it", err=True)
            results.append(_apply_one(fresh, root, echo))
    return results


def _override_removals(plan: Plan) -> int | None:
    for o in plan.safety.overrides:
        if o.startswith("--allow-removals "):
            return int(o.split()[1].rstrip(":"))
    return None


def _load_ok(root: Path) -> Project:
    project = load_project(root)
    diags = check_project(project)
    if any(d.severity is Severity.ERROR for d in diags):
        raise ConfigError(diags)
    return project


def apply_fresh(*, root: Path, target_name: str | None, ask: bool, echo: Echo) -> list[ApplyResult]:
    project = _load_ok(root)
    targets = [t for t in project.targets if target_name in (None, t.name)]
    if target_name and not targets:
        raise ReconcilerError(f"unknown target '{target_name}'")
    results = []
    for t in targets:
        plan = plan_target(project, t, overrides=Overrides())
        echo(render(plan, "text", color=sys.stdout.isatty() and "NO_COLOR" not in os.environ), nl=False)
        if not plan.has_changes:
            continue
        if not plan.safety.safe:
            raise ReconcilerError(f"the plan for {t.name} is unsafe; nothing was applied")
        if ask and not click.confirm(f"Apply these changes to {t.name}?", default=False):
            echo(f"{t.name}: not applied", err=True)
            continue
        results.append(_apply_one(plan, root, echo))
    return results


def render_state(name: str, state: State) -> str:
    lines = [
        f"target {name}: serial {state.serial}, lineage {state.lineage}",
        f"  managed users: {len(state.users)}",
    ]
    for k in sorted(state.users):
        u = state.users[k]
        lines.append(f"    {u.user_name} ({k}) id {u.id} [{u.origin}]")
    lines.append(f"  managed groups: {len(state.groups)}")
    for k in sorted(state.groups):
        g = state.groups[k]
        lines.append(f"    {g.display_name} ({k}) id {g.id}, {len(g.members)} members [{g.origin}]")
    lines.append(f"  removal records: {len(state.removals)}")
    for k in sorted(state.removals):
        r = state.removals[k]
        due = f", delete due {r.delete_due}" if r.delete_due else ""
        lines.append(f"    {r.user_name} ({k}): {r.action} at {r.at}{due}: {r.reason}")
    return "\n".join(lines)


def forget_account(root: Path, target: Target, account: str) -> str:
    store = open_target_store(root, target)
    with store.session(None, f"forget {account}") as writer:
        state = writer.state
        key = next(
            (k for k, u in state.users.items() if account in (k, u.id) or u.user_name.casefold() == account.casefold()),
            None,
        )
        if key is None:
            key = next((k for k, r in state.removals.items() if account in (k, r.id)
                        or r.user_name.casefold() == account.casefold()), None)
        if key is None:
            raise ReconcilerError(f"{account} is not managed on target {target.name} (see `reconcile state show`)")
        users = {k: v for k, v in state.users.items() if k != key}
        removals = {k: v for k, v in state.removals.items() if k != key}
        writer.save(state.model_copy(update={"users": users, "removals": removals}))
    project = load_project(root)
    still = any(u.external_id == key for u in project.desired.users)
    note = (
        f"\nnote: {key} is still declared in desired-state, so the next plan will manage it again; "
        "remove it there to stop managing it" if still else ""
    )
    return f"{target.name}: stopped managing {account} ({key}); the account itself is untouched{note}"


def import_target(
    project: Project, target: Target, *, out: Path | None, merge: bool, include_unmanaged: bool, adopt: bool
) -> str:
    from reconciler.importer import run_import

    conn = connection_info(target)
    store = open_target_store(project.root, target)
    live = read_live(target.name, conn)

    def run(state: State) -> Any:
        return run_import(
            root=project.root, target_name=target.name, live=live, state=state, out=out, merge=merge,
            include_unmanaged=include_unmanaged, adopt=adopt, now=utcnow(), profile=conn.profile,
        )

    if not adopt:
        report = run(store.load())
    else:
        with store.session(None, f"import --adopt {target.name}") as writer:  # state read under the lock
            report = run(writer.state)
            if report.adopted_state is not None:
                writer.save(report.adopted_state)
    return str(report.text) + _out_of_scope_note(project.root, target.name, report.user_keys)


def _out_of_scope_note(root: Path, target_name: str, imported: list[str]) -> str:
    """Imported users carry no `attributes`: a rule that reads them leaves them out, and the first
    plan would remove them. Said now, with the project as the import left it."""
    from reconciler.resolve import resolve

    project = load_project(root)
    if not imported or any(d.severity is Severity.ERROR for d in check_project(project)):
        return ""  # validate says what is wrong; nothing can be resolved meanwhile
    target = next((t for t in project.targets if t.name == target_name), None)
    if target is None:
        return ""
    left_out = resolve(project.desired, target).excluded  # declared, and not matched by the rule
    out = [k for k in imported if k in left_out]  # (a file written outside desired-state is not declared)
    if not out:
        return ""
    shown = ", ".join(out[:5]) + (f" and {len(out) - 5} more" if len(out) > 5 else "")
    return (
        f"\n  warning: {len(out)} of the {len(imported)} imported users do not match the user filter of "
        f"target {target_name} ({shown}); imported users carry no `attributes`, so the next plan would "
        f"{target.policy.removal.action} them: add the attributes its rule reads "
        f"(`reconcile explain USER --target {target_name}` shows why) before planning"
    )

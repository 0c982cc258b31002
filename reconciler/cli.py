"""The command line. The only module that prints and chooses exit codes.

Exit codes: 0 ok / no changes; 1 a ReconcilerError (bad input, SCIM failure, unsafe or stale
plan, failed actions); 2 changes present (only with --detailed-exitcode); 3 an unexpected bug;
130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.config.checks import check_project
from reconciler.config.load import Project, Target, load_project
from reconciler.cli_common import ScrubFilter, echo_diagnostics, handle_errors, root_option
from reconciler.errors import ConfigError, Diagnostic, ReconcilerError, Severity
from reconciler.runtime import no_cycle_collection

log = logging.getLogger("reconciler")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks (secrets stay hidden).")
def cli(debug: bool) -> None:
    """reconcile: membership-as-code for SCIM 2.0."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # each run decides its own verbosity: levels an embedding program (or an earlier run in the
    # same process) left on these loggers must not leak debug lines into the output
    for name in ("reconciler", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    if debug:  # httpx logs URLs only, never headers; keep httpcore's wire chatter out
        logging.getLogger("httpcore").setLevel(logging.INFO)


def load_checked(
    root: Path, *, fail_on_error: bool = True, cache: bool = False
) -> tuple[Project, list[Diagnostic]]:
    project = load_project(root, cache=cache)
    diags = check_project(project)
    if fail_on_error and any(d.severity is Severity.ERROR for d in diags):
        raise ConfigError(diags)
    return project, diags


def pick_targets(project: Project, name: str | None, all_targets: bool = False) -> list[Target]:
    if name is None:
        return list(project.targets)
    for t in project.targets:
        if t.name == name:
            return [t]
    known = ", ".join(t.name for t in project.targets) or "none"
    raise ReconcilerError(f"unknown target '{name}' (targets: {known})")


@cli.command()
@root_option
@handle_errors
def validate(root: Path) -> None:
    """Check desired-state and policy files; report every problem at once."""
    project, diags = load_checked(root, fail_on_error=False)
    diags = sorted(diags, key=Diagnostic.sort_key)
    echo_diagnostics(diags)
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = len(diags) - errors
    if errors:
        click.echo(f"error: {errors} error(s), {warnings} warning(s)", err=True)
        raise SystemExit(1)
    click.echo(
        f"ok: {len(project.desired.users)} users, {len(project.desired.groups)} groups, "
        f"{len(project.targets)} target(s) ({', '.join(t.name for t in project.targets)})"
        + (f"; {warnings} warning(s)" if warnings else "")
    )


@cli.command()
@root_option
@click.argument("user")
@click.option("--target", "target_name", help="Only this target (default: every target).")
@handle_errors
def explain(root: Path, user: str, target_name: str | None) -> None:
    """Show why USER (userName, externalId or a previous key) is in or out of each target.

    With group:NAME (externalId or displayName), show which declared members each target gives
    the group, and through which nested group.
    """
    from reconciler.explain import (
        explain_group,
        explain_user,
        find_group,
        find_user,
        render_explanation,
        render_group_explanation,
    )

    project, _ = load_checked(root)
    if user.startswith("group:"):
        group = find_group(project, user.removeprefix("group:"))
        if group is None:
            raise ReconcilerError(
                f"no declared group '{user.removeprefix('group:')}' (looked up by externalId, displayName and previously)"
            )
        targets = pick_targets(project, target_name)
        via, groups = explain_group(project, group, targets)
        click.echo(render_group_explanation(group, via, groups, {t.name: t for t in targets}))
        return
    spec = find_user(project, user)
    if spec is None:
        raise ReconcilerError(
            f"no declared user '{user}' (looked up by userName, externalId and previously)"
        )
    targets = pick_targets(project, target_name)
    items = explain_user(project, spec, targets)
    click.echo(render_explanation(spec, items, {t.name: t for t in targets}))


@cli.command()
@click.option(
    "--kind",
    type=click.Choice(["desired-state", "policy"]),
    help="Print one schema (default: write both into --out).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Directory for the schema files.",
)
@handle_errors
def schema(kind: str | None, out: Path) -> None:
    """JSON Schema of desired-state and policy files, for editors and CI."""
    from reconciler.config.schema import SCHEMA_FILES, schema_text

    if kind:
        click.echo(schema_text(kind), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for k, name in SCHEMA_FILES.items():
        (out / name).write_text(schema_text(k), encoding="utf-8")
        click.echo(f"wrote {out / name}")


def main(argv: list[str] | None = None) -> int:
    from reconciler.runtime import tune_gc

    tune_gc()
    try:
        # standalone_mode=False: an error handled with ctx.exit(code) comes back as the value
        rc = cli.main(args=argv, prog_name="reconcile", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return rc if isinstance(rc, int) else 0


# --- plan / show / apply / state -------------------------------------------------------------

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="What to print on stdout.",
)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _out_path(out: Path, target: str, several: bool) -> Path:
    text = str(out)
    if "{target}" in text:
        path = Path(text.replace("{target}", target))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if several or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        return out / f"{target}.plan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


@cli.command()
@root_option
@click.option("--target", "target_name", help="Plan this target only.")
@click.option("--all", "all_targets", is_flag=True, help="Plan every target (the default).")
@click.option("--out", type=click.Path(path_type=Path), help="Write the plan file(s) here.")
@format_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--redact", is_flag=True, help="Mask e-mails and names (public pull requests).")
@click.option("--allow-removals", type=click.IntRange(min=0), help="Accept up to N removals (recorded in the plan).")
@click.option("--allow-empty", is_flag=True, help="Accept a desired set of zero users (recorded in the plan).")
@click.option(
    "--snapshot",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Plan against a saved live snapshot instead of reading the target (offline).",
)
@click.option(
    "--save-live",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save what was read from the target as a snapshot (personal data: keep it private).",
)
@handle_errors
@no_cycle_collection()  # bounded, and builds hundreds of thousands of acyclic values
def plan(
    root: Path,
    target_name: str | None,
    all_targets: bool,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    redact: bool,
    allow_removals: int | None,
    allow_empty: bool,
    snapshot: Path | None,
    save_live: Path | None,
) -> None:
    """Compute what apply would change, and write it as a reviewable plan."""
    if target_name and all_targets:
        raise click.UsageError("--target and --all are exclusive")
    from reconciler.policy import Overrides
    from reconciler.render import render
    from reconciler.plan import save_plan
    from reconciler.workflow import plan_target

    project, _ = load_checked(root, cache=True)
    targets = pick_targets(project, target_name)
    if not targets:
        raise ReconcilerError(f"no policy files under {root / 'policies'}: nothing to plan")
    if (snapshot is not None or save_live is not None) and len(targets) > 1:
        raise click.UsageError("--snapshot and --save-live need --target (a snapshot is of one target)")
    unsafe = changes = False
    for n, t in enumerate(targets):
        if n and fmt == "text":
            click.echo("")
        p = plan_target(
            project, t, overrides=Overrides(allow_removals, allow_empty), snapshot=snapshot, save_live=save_live
        )
        if out is not None:
            path = _out_path(out, t.name, len(targets) > 1)
            save_plan(p, path)
            click.echo(f"plan for {t.name} written to {path}", err=True)
        click.echo(render(p, fmt, color=_color() and fmt == "text", redact=redact), nl=False)
        unsafe |= not p.safety.safe
        changes |= p.has_changes
    if unsafe:
        click.echo("error: the plan is unsafe (see above); nothing can be applied", err=True)
        raise SystemExit(1)
    if detailed_exitcode and changes:
        raise SystemExit(2)


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@format_option
@click.option("--redact", is_flag=True, help="Mask e-mails and names.")
@handle_errors
def show(plan_file: Path, fmt: str, redact: bool) -> None:
    """Render a saved plan."""
    from reconciler.plan import load_plan
    from reconciler.render import render

    click.echo(render(load_plan(plan_file), fmt, color=_color() and fmt == "text", redact=redact), nl=False)


@cli.command()
@click.argument("plan_files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@root_option
@click.option("--auto-approve", is_flag=True, help="Plan and apply in one step, without asking.")
@click.option("--target", "target_name", help="With --auto-approve: this target only.")
@click.option("--all", "all_targets", is_flag=True, help="With --auto-approve: every target (the default).")
@click.option(
    "--replan-if-stale",
    is_flag=True,
    help="If a saved plan is stale, plan again and apply only if the actions are the same.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Where to write a new plan made by --replan-if-stale.")
@handle_errors
def apply(
    plan_files: tuple[Path, ...],
    root: Path,
    auto_approve: bool,
    target_name: str | None,
    all_targets: bool,
    replan_if_stale: bool,
    out: Path | None,
) -> None:
    """Execute saved plans exactly, or plan and apply with --auto-approve."""
    from reconciler.workflow import apply_files, apply_fresh

    if plan_files and (auto_approve or target_name or all_targets):
        raise click.UsageError("give plan files, or --auto-approve [--target NAME | --all], not both")
    if plan_files:
        results = apply_files(
            list(plan_files), root=root, replan_if_stale=replan_if_stale, echo=click.echo,
            out=(lambda name: _out_path(out, name, len(plan_files) > 1)) if out is not None else None,
        )
    else:
        if not auto_approve and not sys.stdin.isatty():
            raise click.UsageError(
                "apply needs a plan file, or --auto-approve to plan and apply in one step"
            )
        results = apply_fresh(root=root, target_name=target_name, ask=not auto_approve, echo=click.echo)
    if any(r.failed for r in results):
        raise SystemExit(1)


@cli.group()
def state() -> None:
    """Inspect or edit the state of a target."""


@state.command("show")
@root_option
@click.option("--target", "target_name", help="This target only.")
@handle_errors
def state_show(root: Path, target_name: str | None) -> None:
    """Print the managed accounts, groups and removal records."""
    from reconciler.workflow import open_target_store, render_state

    project, _ = load_checked(root)
    for t in pick_targets(project, target_name):
        click.echo(render_state(t.name, open_target_store(root, t).load()))


@state.command("forget")
@root_option
@click.argument("account")
@click.option("--target", "target_name", required=True, help="The target whose state to edit.")
@handle_errors
def state_forget(root: Path, account: str, target_name: str) -> None:
    """Stop managing ACCOUNT (externalId or userName) without deprovisioning it."""
    from reconciler.workflow import forget_account

    project, _ = load_checked(root)
    (t,) = pick_targets(project, target_name)
    click.echo(forget_account(root, t, account))


@cli.command("audit")
@root_option
@click.option("--target", "target_name", help="This target only (default: every target with a log).")
@click.option("--since", help="From this day or time on (UTC), e.g. 2026-12-01 or 2026-12-01T09:00:00Z.")
@click.option("--key", help="Only the actions on this account or group (externalId, SCIM id or userName).")
@click.option("--json", "as_json", is_flag=True, help="The records as JSON lines, for other tools.")
@handle_errors
def audit_cmd(root: Path, target_name: str | None, since: str | None, key: str | None, as_json: bool) -> None:
    """Show what past applies did: who applied which plan, and each action's outcome."""
    import json
    import re

    from reconciler.audit import AUDIT_DIR, matches, read_audit, render_record

    if since is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?", since):
        raise click.BadParameter("use a UTC day or time: 2026-12-01 or 2026-12-01T09:00:00Z", param_hint="--since")
    directory = root / AUDIT_DIR
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if target_name is not None:
        files = [f for f in files if f.stem == target_name]
    if not files:
        raise ReconcilerError(
            f"no audit log{' for target ' + repr(target_name) if target_name else ''} under {directory}: "
            "it is written by `reconcile apply` in this directory"
        )
    for f in files:
        log = read_audit(f)
        for r in log.records:
            if matches(r, since=since, key=key):  # with --key, only action lines name an account
                click.echo(json.dumps(r, ensure_ascii=False, sort_keys=True) if as_json else render_record(r))
        if log.damaged:
            click.echo(f"{f}: {log.damaged} damaged line(s) skipped (cut short by a crash)", err=True)


@cli.command("test-connection")
@root_option
@click.option("--target", "target_name", help="This target only (default: every target).")
@handle_errors
def test_connection_cmd(root: Path, target_name: str | None) -> None:
    """Check reachability, TLS, auth and the base URL of each target, with GETs only."""
    from reconciler.planner import connection_info
    from reconciler.scim.probe import test_connection
    from reconciler.target import open_client

    project, _ = load_checked(root)
    failed = False
    for t in pick_targets(project, target_name):
        client = open_client(connection_info(t), read_only=True)
        try:
            report = test_connection(client)
        finally:
            client.close()
        click.echo(f"target {t.name}: " + report.render_text())
        failed |= not report.ok
    if failed:
        raise SystemExit(1)


@cli.command("import")
@root_option
@click.option("--target", "target_name", required=True, help="The target to read.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The file to write (default desired-state/imported-<target>.yaml).")
@click.option("--merge", is_flag=True, help="Add what is missing to the existing files; existing text is left exactly as it is.")
@click.option("--include-unmanaged", is_flag=True, help="Also import accounts without an externalId, with generated stable keys.")
@click.option("--adopt", is_flag=True, help="Record every imported account and group as managed in the state.")
@handle_errors
def import_cmd(root: Path, target_name: str, out: Path | None, merge: bool, include_unmanaged: bool, adopt: bool) -> None:
    """Write desired-state YAML from what a target holds now (bootstrap and adoption)."""
    from reconciler.workflow import import_target

    project, _ = load_checked(root)
    (t,) = pick_targets(project, target_name)
    click.echo(import_target(project, t, out=out, merge=merge, include_unmanaged=include_unmanaged, adopt=adopt))


def _register_github() -> None:
    from reconciler.github.commands import github as github_group

    cli.add_command(github_group)


_register_github()

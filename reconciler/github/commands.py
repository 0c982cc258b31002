"""`reconcile github ...`: the GitHub side of the workflows, so that none of it is shell glue.

Every command reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL from the environment
(as a runner sets them; the token only when the step's `env:` passes it). Exit codes follow the
main CLI: 0 ok, 1 a ReconcilerError (message on stderr), 3 a bug. The token never appears in
any output: errors are scrubbed before they are printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli_common import handle_errors, root_option
from reconciler.errors import ReconcilerError
from reconciler.github.api import GitHub, GitHubPermissionError
from reconciler.github.bodies import check_marker, compose, has_marker, redact_text
from reconciler.github.reviewed import fetch_reviewed, merged_pull_for_commit
from reconciler.github.runner import (
    REDACT_SETTING,
    append_summary,
    in_actions,
    mask_lines,
    preflight,
    should_redact,
)

DEFAULT_AUTHOR = "github-actions[bot]"
PLAN_WORKFLOW = "reconcile-plan.yml"




def _client() -> GitHub:
    return GitHub.from_env()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"cannot read {path}: {exc}") from None


def _marker(value: str) -> str:
    try:
        return check_marker(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


body_option = click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Markdown to post (e.g. `reconcile plan --format markdown` output).",
)
author_option = click.option(
    "--author",
    default=DEFAULT_AUTHOR,
    show_default=True,
    help="Only comments/issues by this login are ever updated (the token's identity).",
)
failed_option = click.option(
    "--failed", is_flag=True, help="Put a banner on top: the run failed and the text may be incomplete."
)
summary_option = click.option(
    "--summary", is_flag=True, help="Also append the body to this step's summary ($GITHUB_STEP_SUMMARY)."
)


@click.group("github")
def github() -> None:
    """GitHub Actions glue: plan comments, drift issues, reviewed-plan artifacts.

    Reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL from the environment.
    """


@github.command("visibility")
@click.option(
    "--redact-flag",
    is_flag=True,
    help=f"Print `--redact` when plans must be redacted (not private, or {REDACT_SETTING}=always), else nothing.",
)
@handle_errors
def visibility_cmd(redact_flag: bool) -> None:
    """Print the repository's visibility: public, private or internal."""
    with _client() as gh:
        value = gh.visibility()
    if redact_flag:
        if should_redact(value, os.environ.get(REDACT_SETTING, "")):
            click.echo("--redact")
        return
    click.echo(value)


@github.command("comment")
@click.option("--pr", "number", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option("--marker", default="reconcile-plan", show_default=True, help="Hidden marker naming this comment.")
@body_option
@author_option
@failed_option
@click.option("--note", help="A closing sentence in italics, above the footer.")
@click.option(
    "--best-effort",
    is_flag=True,
    help="If the token may not comment (a fork's read-only token), warn and exit 0.",
)
@summary_option
@handle_errors
def comment_cmd(
    number: int, marker: str, body_file: Path, author: str, failed: bool, note: str | None, best_effort: bool,
    summary: bool,
) -> None:  # fmt: skip
    """Create the pull request's comment with MARKER, or update it in place."""
    marker = _marker(marker)
    body = compose(marker, _read(body_file), os.environ, failed=failed, note=note)
    if summary:
        append_summary(os.environ, body)
    with _client() as gh:
        try:
            mine = [c for c in gh.comments(number) if c.author == author and has_marker(c.body, marker)]
            if mine:
                current = max(mine, key=lambda c: c.id)
                if current.body == body:
                    click.echo(f"unchanged {current.url}")
                    return
                done = gh.update_comment(current.id, body)
                click.echo(f"updated {done.url}")
            else:
                done = gh.create_comment(number, body)
                click.echo(f"created {done.url}")
        except GitHubPermissionError as exc:
            if not best_effort:
                raise
            text = (
                f"could not comment on pull request #{number} ({exc}); pull requests from forks get a "
                "read-only token. The same text is in the job summary."
            )
            click.echo(f"::warning::{text}" if in_actions(os.environ) else f"warning: {text}", err=True)


@github.command("issue")
@click.option(
    "--label", required=True, help="Label of the issue; one open issue per label (found by its hidden marker)."
)
@click.option("--title", help="Issue title (needed to open one).")
@body_option
@author_option
@failed_option
@click.option(
    "--close-if-clean",
    is_flag=True,
    help="The check came back clean: close the open issue, if any, with the body as a last comment.",
)
@summary_option
@handle_errors
def issue_cmd(
    label: str, title: str | None, body_file: Path, author: str, failed: bool, close_if_clean: bool, summary: bool
) -> None:
    """Open or update the one open issue with LABEL; or close it when clean again."""
    if not title and not close_if_clean:
        raise click.UsageError("--title is needed to open or update the issue")
    marker = _marker(f"reconcile-issue:{label}")
    body = compose(marker, _read(body_file), os.environ, failed=failed)
    if summary:
        append_summary(os.environ, body)
    with _client() as gh:
        # Found by who opened it and the hidden marker, not by the label: labels are for people,
        # and one set by a token that may not create labels can be dropped silently.
        mine = sorted(
            (i for i in gh.issues(creator=author) if i.author == author and has_marker(i.body, marker)),
            key=lambda i: i.number,
        )
        if close_if_clean:
            if not mine:
                click.echo(f"no open issue labelled {label}: nothing to close")
                return
            for issue in mine:
                gh.create_comment(issue.number, compose(marker, "✅ Clean again.\n\n" + _read(body_file), os.environ))
                gh.update_issue(issue.number, state="closed", state_reason="completed")
                click.echo(f"closed {issue.url}")
            return
        assert title is not None
        if mine:
            current = mine[0]
            if current.body != body or current.title != title:
                current = gh.update_issue(current.number, title=title, body=body)
            click.echo(f"updated {current.url}")
        else:
            created = gh.create_issue(title=title, body=body, labels=[label])
            click.echo(f"opened {created.url}")


@github.command("pr-for-commit")
@click.argument("sha")
@handle_errors
def pr_for_commit_cmd(sha: str) -> None:
    """Print the number of the merged pull request whose merge commit is SHA (exit 1 if none)."""
    with _client() as gh:
        click.echo(str(merged_pull_for_commit(gh, sha.strip()).number))


@github.command("artifact")
@click.option("--pr", "number", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option("--name", required=True, help="Artifact name, e.g. reconcile-plans.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to unzip into.")
@click.option("--workflow", default=PLAN_WORKFLOW, show_default=True, help="File name of the plan workflow.")
@handle_errors
def artifact_cmd(number: int, name: str, out: Path, workflow: str) -> None:
    """Download the artifact NAME of the newest successful plan run for the PR's head commit."""
    with _client() as gh:
        got = fetch_reviewed(gh, number, name=name, workflow=workflow, out=out)
    click.echo(
        f"pull request #{got.pull.number}: artifact {got.artifact.name} of run {got.run.id} "
        f"(commit {got.run.head_sha[:12]}), {len(got.files)} file(s) in {out}",
        err=True,
    )
    for f in got.files:
        click.echo(str(f))


@github.command("preflight")
@root_option
@handle_errors
def preflight_cmd(root: Path) -> None:
    """Check every target can run in this job (token set, state in git); mask the tokens."""
    report = preflight(root, os.environ)
    if in_actions(os.environ):
        for line in mask_lines(report.tokens):
            click.echo(line)
    if report.problems:
        for p in report.problems:
            click.echo(f"error: {p}", err=True)
        raise ReconcilerError(f"preflight found {len(report.problems)} problem(s); nothing was planned or applied")
    branches = ", ".join(report.branches)
    click.echo(f"preflight ok: {len(report.targets)} target(s) ({', '.join(report.targets)}); state on git branch {branches}")


@github.command("explain-changes")
@click.option("--base", required=True, help="The base commit to compare with (e.g. HEAD^1 of a PR merge commit).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write the Markdown.")
@root_option
@click.option("--redact", is_flag=True, help="Mask e-mails and externalIds.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Users explained at most.")
@handle_errors
def explain_changes_cmd(base: str, out: Path, root: Path, redact: bool, limit: int) -> None:
    """Validate, then explain every user the change affects (offline: for fork pull requests)."""
    from reconciler.github.changes import fork_report

    text, valid = fork_report(root, base, redact=redact, limit=limit)
    out.write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote {out} ({'valid' if valid else 'invalid'} configuration)", err=True)


@github.command("summary")
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The text to append (Markdown, or command output with --code).",
)
@click.option("--title", help="A heading above the text.")
@click.option("--code", is_flag=True, help="Show the text as a code block (command output).")
@click.option("--redact", is_flag=True, help="Mask e-mail addresses.")
@handle_errors
def summary_cmd(body_file: Path, title: str | None, code: bool, redact: bool) -> None:
    """Append a file to this step's summary ($GITHUB_STEP_SUMMARY)."""
    text = _read(body_file).rstrip("\n")
    if redact:
        text = redact_text(text)
    if code:
        text = "```text\n" + text.replace("```", "``\u200b`") + "\n```"
    if title:
        text = f"### {title}\n\n{text}"
    path = append_summary(os.environ, text)
    click.echo(f"appended to {path}", err=True)

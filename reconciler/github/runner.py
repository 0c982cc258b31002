"""What a GitHub Actions job needs besides the API: preflight checks, masking, redaction policy,
and the step summary.

Invariants:
* `::add-mask::` lines (which carry a secret by necessity) are produced only when
  `GITHUB_ACTIONS=true`, i.e. when the runner consumes them instead of showing them.
  `GITHUB_TOKEN` is never among them: the runner masks it by itself.
* Redaction is on when the repository is not private (public, or internal to an enterprise),
  or when the repository variable says `always`; an unknown setting is an error, not a guess.
* Preflight refuses a target whose state would live on the runner's disk (the `local` backend):
  a runner is thrown away after the job, and the state with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config.checks import check_project
from reconciler.config.load import load_project
from reconciler.errors import ConfigError, ReconcilerError, Severity
from reconciler.github.bodies import SUMMARY_LIMIT, fit, run_link

REDACT_SETTING = "RECONCILE_REDACT"
REDACT_VALUES = ("", "auto", "always")


def should_redact(visibility: str, setting: str) -> bool:
    value = setting.strip().lower()
    if value not in REDACT_VALUES:
        raise ReconcilerError(
            f"{REDACT_SETTING}={setting!r} is not a known setting: use 'always', or leave it empty "
            "(then plans are redacted when the repository is not private)"
        )
    return value == "always" or visibility != "private"


def in_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS", "").lower() == "true"


def mask_lines(values: list[str]) -> list[str]:
    """`::add-mask::` lines for each value, its stripped form and each of its lines."""
    out: list[str] = []
    for value in values:
        variants = {value, value.strip(), *value.splitlines()}
        for v in sorted(x.strip() for x in variants):
            line = f"::add-mask::{v}"
            if v and line not in out:
                out.append(line)
    return out


@dataclass
class Preflight:
    targets: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)


def preflight(root: Path, env: Mapping[str, str]) -> Preflight:
    """Check that every target can run here: valid files, its token set, its state in git."""
    project = load_project(root)
    diags = check_project(project, env)
    if any(d.severity is Severity.ERROR for d in diags):
        raise ConfigError(diags)
    report = Preflight()
    for t in project.targets:
        report.targets.append(t.name)
        name = t.policy.connection.token_env
        value = env.get(name, "")
        if not value.strip():
            report.problems.append(
                f"target {t.name}: the secret {name} is empty in this step: add it to the job's "
                f"environment (Settings → Environments) and map it in the step, "
                f"`{name}: ${{{{ secrets.{name} }}}}`"
            )
        else:
            report.tokens.append(value)
        state = t.policy.state
        if state.backend != "git":
            report.problems.append(
                f"target {t.name}: its state backend is {state.backend!r}, which keeps the state on the "
                f"runner's disk and loses it when the job ends; set `state: {{backend: git}}` "
                f"({t.where('state')})"
            )
        elif state.branch not in report.branches:
            report.branches.append(state.branch)
    if not project.targets:
        report.problems.append(f"no policy files under {root / 'policies'}: nothing to plan or apply")
    return report


def append_summary(env: Mapping[str, str], text: str) -> Path:
    """Append Markdown to the step summary (the run page shows it); at most 1 MiB per step."""
    path = env.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        raise ReconcilerError("GITHUB_STEP_SUMMARY is not set: this command writes the summary of a GitHub Actions step")
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    room = max(SUMMARY_LIMIT - used - 2, 0)
    chunk = fit(text.rstrip("\n"), room, where=run_link(env)) + "\n\n"
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(chunk)
    return target

"""Markdown for pull-request comments and job summaries: destructive actions first, a summary
table, collapsible details, redaction, and safe truncation under 60,000 characters."""

from __future__ import annotations

from typing import Any

from reconciler.plan import Plan
from reconciler.render.common import Redactor, field_lines, is_destructive, plan_warnings, summary_line, title

LIMIT = 60_000
MARKER = "<!-- reconcile-plan -->"


def render_markdown(plan: Plan, *, redact: bool = False, limit: int = LIMIT) -> str:
    r = Redactor(redact)
    s = plan.summary
    status = "✅ safe to apply" if plan.safety.safe else "⛔ **unsafe: cannot be applied**"
    if not plan.actions:
        status = "✅ no changes"
    head = [
        f"<!-- reconcile-plan:{plan.target} -->",
        f"### reconcile plan: `{plan.target}` ({plan.connection.profile}) — {status}",
        "",
        "| | create | update | disable | delete | restore |",
        "|---|---:|---:|---:|---:|---:|",
        f"| users | {s['create_user']} | {s['update_user'] + s['adopt_user']} | {s['disable_user']} "
        f"| {s['delete_user']} | {s['restore_user']} |",
        f"| groups | {s['create_group']} | {s['update_group']} | – | {s['delete_group']} | – |",
        "",
        f"Memberships: {s['change_members']} groups change (+{s['members_added']} −{s['members_removed']}).",
        "",
    ]
    if plan.safety.violations:
        head.append("**Safety violations:**")
        head.extend(f"- ⛔ {v}" for v in plan.safety.violations)
        head.append("")
    for o in plan.safety.overrides:
        head.append(f"- ⚠️ override given at plan time: {o}")
    warnings = plan_warnings(plan, r)
    if warnings:
        head.append("**Warnings:**")
        head.extend(f"- ⚠️ {w}" for w in warnings)
        head.append("")
    destructive = [a for a in plan.actions if is_destructive(a)]
    others = [a for a in plan.actions if not is_destructive(a)]
    tail = [
        "",
        f"`{summary_line(plan)}`",
        "",
        f"<sub>plan checksum `{plan.checksum[:23]}…` · desired `{plan.desired.digest[:19]}…`"
        + (f" at `{plan.desired.commit[:12]}`" if plan.desired.commit else "")
        + f" · state serial {plan.state.serial}"
        + (" · redacted" if redact else "")
        + "</sub>",
    ]
    body: list[str] = []
    budget = limit - sum(len(x) + 1 for x in head + tail) - 400
    shown = 0
    for section, items, open_ in (
        ("Destructive changes", destructive, True),
        ("Other changes", others, False),
    ):
        if not items:
            continue
        chunk = [f"<details{' open' if open_ else ''}><summary><b>{section}</b> ({len(items)})</summary>", "", "```diff"]
        for a in items:
            block = _block(a, r)
            size = sum(len(x) + 1 for x in block)
            if budget - size < 0:
                break
            budget -= size
            chunk.extend(block)
            shown += 1
        chunk.extend(["```", "</details>", ""])
        body.extend(chunk)
    if shown < len(plan.actions):
        body.append(
            f"> ✂️ {len(plan.actions) - shown} of {len(plan.actions)} actions not shown (comment size "
            "limit); the full plan is in the workflow artifact and `reconcile show`."
        )
    return "\n".join(head + body + tail) + "\n"


def _block(a: Any, r: Redactor) -> list[str]:
    head = title(a, r)
    sign = {"+": "+", "-": "-", "!": "-", ">": "+"}.get(head[0], "!")
    lines = [f"{sign} {head[2:]}"]
    if a.reason:
        lines.append(f"#   reason: {r.email(a.reason)}")
    lines.extend(f"#   {x}" for x in field_lines(a, r))
    return lines

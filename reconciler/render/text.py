"""Terraform-like text for terminals and logs."""

from __future__ import annotations

from typing import Any

from reconciler.plan import Plan
from reconciler.render.common import Redactor, field_lines, plan_warnings, summary_line, title

_COLORS = {"+": "32", "~": "33", "=": "36", ">": "36", "!": "33", "-": "31"}


def _paint(text: str, symbol: str, color: bool) -> str:
    if not color:
        return text
    return f"\x1b[{_COLORS.get(symbol, '0')}m{text}\x1b[0m"


def render_text(plan: Plan, *, color: bool = False, redact: bool = False) -> str:
    r = Redactor(redact)
    d = plan.desired
    commit = f"commit {d.commit[:12]}{' (dirty)' if d.dirty else ''}" if d.commit else "not a git checkout"
    lines = [
        f'reconcile plan for target "{plan.target}" (profile {plan.connection.profile})',
        f"desired {d.digest[:19]}… ({commit}); state serial {plan.state.serial}; "
        f"checksum {plan.checksum[:19]}…",
        "",
    ]
    if not plan.actions:
        lines.append("No changes. The target matches the desired state.")
    for a in plan.actions:
        lines.extend(_block(a, r, color))
    warnings = plan_warnings(plan, r)
    if warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"  ! {w}" for w in warnings)
    lines.append("")
    unmanaged = plan.unmanaged
    if unmanaged.get("users") or unmanaged.get("groups"):
        lines.append(
            f"Not owned by reconcile (unmanaged): {unmanaged.get('users', 0)} accounts, "
            f"{unmanaged.get('groups', 0)} groups"
        )
    lines.extend(_safety(plan))
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def _block(a: Any, r: Redactor, color: bool) -> list[str]:
    head = title(a, r)
    out = ["  " + _paint(head, head[0], color)]
    if a.reason:
        out.append(f"      reason: {r.email(a.reason)}")
    out.extend(f"      {line}" for line in field_lines(a, r))
    return out


def _safety(plan: Plan) -> list[str]:
    s = plan.safety
    out: list[str] = []
    if not s.safe:
        out.append("UNSAFE: this plan cannot be applied:")
        out.extend(f"  x {v}" for v in s.violations)
    for o in s.overrides:
        out.append(f"Override given at plan time: {o}")
    for n in s.notes:
        out.append(f"Note: {n}")
    return out

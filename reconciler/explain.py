"""`explain`: why a user is in or out of each target's scope, and which groups it gets. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.config.load import Project, Target
from reconciler.config.models import UserSpec
from reconciler.config.policy import Condition
from reconciler.resolve import build_graph, flatten, resolve, rule_context, user_key
from reconciler.rules import ConditionTrace, GroupTrace, trace


@dataclass(frozen=True)
class TargetExplanation:
    target: str
    in_scope: bool
    trace: GroupTrace
    groups: tuple[str, ...]
    """displayNames of the groups the user gets on this target."""
    held_groups: tuple[str, ...]
    """Groups that list the user but that it does not get (it is out of scope)."""
    unselected_groups: tuple[str, ...]
    """Groups that list the user but that the target does not take (rule.groups)."""


def find_user(project: Project, query: str) -> UserSpec | None:
    for u in project.desired.users:
        if u.external_id == query:
            return u
    for u in project.desired.users:
        if user_key(u.user_name) == user_key(query):
            return u
    for u in project.desired.users:
        if query in u.previously or user_key(query) in {user_key(p) for p in u.previously}:
            return u
    return None


def explain_user(project: Project, user: UserSpec, targets: list[Target]) -> list[TargetExplanation]:
    graph = build_graph(project.desired)
    flat = flatten(graph)
    ctx = rule_context(graph, flat)
    listed = sorted(
        (gid for gid, members in flat.items() if user.external_id in members),
        key=lambda g: graph.groups[g].display_name.lower(),
    )
    out = []
    for t in targets:
        ts = resolve(project.desired, t, graph)
        tr = trace(t.policy.rule.user_filter, user, ctx)
        inside = user.external_id in ts.users
        gets = tuple(graph.groups[g].display_name for g in listed if g in ts.groups and inside)
        held = tuple(graph.groups[g].display_name for g in listed if g in ts.groups and not inside)
        unselected = tuple(graph.groups[g].display_name for g in listed if g not in ts.groups)
        out.append(TargetExplanation(t.name, inside, tr, gets, held, unselected))
    return out


def render_explanation(user: UserSpec, items: list[TargetExplanation], policy_rules: dict[str, Target]) -> str:
    lines = [f"{user.user_name} (externalId {user.external_id})"]
    for e in items:
        rule = policy_rules[e.target].policy.rule
        verdict = "IN scope" if e.in_scope else "OUT of scope"
        lines.append("")
        lines.append(f"target {e.target}: {verdict}")
        if rule.user_filter is None:
            lines.append("  rule: no user_filter, every declared user is in scope")
        else:
            lines.extend(_trace_lines(e.trace, 1))
            lines.append("  decision: " + _decision(e))
        if e.groups:
            lines.append("  groups: " + ", ".join(e.groups))
        elif e.in_scope:
            lines.append("  groups: none")
        if e.held_groups:
            lines.append(
                "  listed in (kept while disabled, not granted): " + ", ".join(e.held_groups)
            )
        if e.unselected_groups:
            lines.append("  listed in, but not selected by this target: " + ", ".join(e.unselected_groups))
    return "\n".join(lines)


def _decision(e: TargetExplanation) -> str:
    t = e.trace
    if e.in_scope:
        return f"in scope: the '{t.match}' filter matched"
    if t.match == "all":
        failed = [c for c in t.children if not c.result]
        return f"out of scope: {len(failed)} of {len(t.children)} required condition(s) failed"
    return "out of scope: no condition of the 'any' filter matched"


def _trace_lines(t: GroupTrace, depth: int) -> list[str]:
    pad = "  " * depth
    mark = "✓" if t.result else "✗"
    lines = [f"{pad}{mark} match {t.match} ({sum(c.result for c in t.children)}/{len(t.children)} true)"]
    for child in t.children:
        if isinstance(child, GroupTrace):
            lines.extend(_trace_lines(child, depth + 1))
        else:
            lines.append(f"{pad}  {_condition_line(child)}")
    return lines


def _condition_line(c: ConditionTrace) -> str:
    mark = "✓" if c.result else "✗"
    cond: Condition = c.condition
    value = "" if cond.value is None else " " + json.dumps(cond.value, ensure_ascii=False)
    cs = " (case-sensitive)" if cond.case_sensitive else ""
    actual = ", ".join(json.dumps(v, ensure_ascii=False, default=str) for v in c.actual) or "absent"
    return f"{mark} {cond.attribute or 'user'} {cond.operator}{value}{cs}    actual: {actual}"

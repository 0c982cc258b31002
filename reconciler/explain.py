"""`explain`: why a user is in or out of each target's scope and which groups it gets; for a
group, which of its declared members each target gives it, and through which nested group. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.config.load import Project, Target
from reconciler.config.models import GroupSpec, UserSpec
from reconciler.config.policy import Condition
from reconciler.resolve import GroupGraph, build_graph, flatten, resolve, rule_context, user_key
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


# --- groups --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupExplanation:
    target: str
    selected: bool
    members: tuple[str, ...]
    """userNames of the declared members in the target's scope: what the group holds there."""
    left_out: tuple[str, ...]
    """userNames of declared members the user filter leaves out (kept while only disabled)."""


def find_group(project: Project, query: str) -> GroupSpec | None:
    """By externalId, then displayName (any case), then an earlier name or key."""
    wanted = query.casefold()
    for finder in (
        lambda g: g.external_id == query,
        lambda g: g.display_name.casefold() == wanted,
        lambda g: any(p == query or p.casefold() == wanted for p in g.previously),
    ):
        for g in project.desired.groups:
            if finder(g):
                return g
    return None


def explain_group(project: Project, group: GroupSpec, targets: list[Target]) -> tuple[dict[str, str | None], list[GroupExplanation]]:
    """Where each declared member comes from (None: listed directly; else the displayName of the
    nested group that lists it), and what each target gives the group."""
    graph = build_graph(project.desired)
    via = _via(graph, group.external_id)
    name = {uid: graph.users[uid].user_name for uid in via}
    out = []
    for t in targets:
        tg = resolve(project.desired, t, graph).groups.get(group.external_id)
        if tg is None:
            out.append(GroupExplanation(t.name, False, (), ()))
            continue
        out.append(GroupExplanation(
            t.name, True, tuple(sorted(name[u] for u in tg.members)), tuple(sorted(name[u] for u in tg.held))
        ))
    return {name[u]: v for u, v in via.items()}, out


def _via(graph: GroupGraph, root: str) -> dict[str, str | None]:
    """Breadth first from `root`: each member with the nearest group that lists it directly."""
    out: dict[str, str | None] = {u: None for u in graph.direct_users.get(root, frozenset())}
    seen, level = {root}, list(graph.nested.get(root, ()))
    while level:
        following: list[str] = []
        for g in sorted(level):
            if g in seen:
                continue
            seen.add(g)
            for u in sorted(graph.direct_users.get(g, frozenset())):
                out.setdefault(u, graph.groups[g].display_name)
            following.extend(graph.nested.get(g, ()))
        level = following
    return out


def render_group_explanation(
    group: GroupSpec, via: dict[str, str | None], items: list[GroupExplanation], targets: dict[str, Target]
) -> str:
    nested = sum(1 for v in via.values() if v is not None)
    lines = [
        f"group {group.display_name} (externalId {group.external_id}), membership {group.membership}",
        f"  declared members: {len(via)}" + (f" ({len(via) - nested} listed directly, {nested} through nested groups)"
                                             if nested else ""),
    ]
    for e in items:
        choice = targets[e.target].policy.rule.groups
        rule = "rule.groups: all" if choice == "all" else "rule.groups: " + ", ".join(choice)
        lines.append("")
        if not e.selected:
            lines.append(f"target {e.target}: not selected ({rule}); the target does not get this group")
            continue
        lines.append(f"target {e.target}: selected ({rule})")
        lines.append(f"  members there: {len(e.members)}")
        lines.extend(f"    {u}" + (f"  (through {via[u]})" if via.get(u) else "") for u in e.members)
        if e.left_out:
            lines.append(f"  left out by the user filter: {len(e.left_out)} (kept while only disabled, never added; "
                         "`reconcile explain USER` shows why)")
            lines.extend(f"    {u}" for u in e.left_out)
    return "\n".join(lines)

"""DesiredState + Target -> TargetSet: rule evaluation, group selection, nesting. Pure.

Group member references are resolved once here (`build_graph`): a userName (any case), an
externalId, or `group:<externalId or displayName>` for a nested group. Nested groups are
flattened; a cycle is reported by `find_cycles` and never expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.config.load import DesiredState, Target
from reconciler.config.models import GroupSpec, UserSpec
from reconciler.rules import RuleContext, compile_filter, uses_groups


def user_key(user_name: str) -> str:
    """The one normalisation of a userName / e-mail used for matching (case-insensitive)."""
    return user_name.strip().casefold()


@dataclass(frozen=True)
class MemberRef:
    group: str
    index: int
    text: str
    user: str | None = None
    """Resolved user externalId."""
    nested: str | None = None
    """Resolved nested group externalId."""


@dataclass(frozen=True)
class GroupGraph:
    users: Mapping[str, UserSpec]
    groups: Mapping[str, GroupSpec]
    refs: tuple[MemberRef, ...]
    """Member entries that are not plain resolved users: nested groups and unresolved names."""
    direct_users: Mapping[str, frozenset[str]]
    nested: Mapping[str, tuple[str, ...]]
    group_ids: Mapping[str, str]
    """externalId and lower-cased displayName -> externalId."""
    user_names: Mapping[str, str] = field(default_factory=dict)
    """user_key(userName) -> externalId of the first user with it."""

    def unresolved(self) -> list[MemberRef]:
        return [r for r in self.refs if r.user is None and r.nested is None]


def build_graph(desired: DesiredState) -> GroupGraph:
    """The resolved membership graph (computed once per DesiredState, then cached)."""
    cached = desired.cache.get("graph")
    if not isinstance(cached, GroupGraph):
        cached = desired.cache["graph"] = _build_graph(desired)
    return cached


def _build_graph(desired: DesiredState) -> GroupGraph:
    users: dict[str, UserSpec] = {}
    by_name: dict[str, str] = {}
    for u in desired.users:
        users.setdefault(u.external_id, u)
        by_name.setdefault(user_key(u.user_name), u.external_id)
    groups: dict[str, GroupSpec] = {}
    group_ids: dict[str, str] = {}
    for g in desired.groups:
        groups.setdefault(g.external_id, g)
    for g in groups.values():
        group_ids.setdefault(g.display_name.lower(), g.external_id)
    for g in groups.values():
        group_ids[g.external_id] = g.external_id
    refs: list[MemberRef] = []
    direct: dict[str, set[str]] = {gid: set() for gid in groups}
    nested: dict[str, list[str]] = {gid: [] for gid in groups}
    for gid, g in groups.items():
        for i, text in enumerate(g.members):
            if text.startswith("group:"):
                name = text[len("group:") :].strip()
                hit = group_ids.get(name) or group_ids.get(name.lower())
                refs.append(MemberRef(gid, i, text, nested=hit))
                if hit is not None and hit not in nested[gid]:
                    nested[gid].append(hit)
            else:
                uid = text if text in users else by_name.get(user_key(text))
                if uid is not None:
                    direct[gid].add(uid)
                else:
                    refs.append(MemberRef(gid, i, text))
    return GroupGraph(
        users,
        groups,
        tuple(refs),
        {k: frozenset(v) for k, v in direct.items()},
        {k: tuple(v) for k, v in nested.items()},
        group_ids,
        by_name,
    )


def find_cycles(graph: GroupGraph) -> list[tuple[str, ...]]:
    """Every nesting cycle once, as a path that starts and ends with the same group."""
    cycles: list[tuple[str, ...]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(g: str) -> None:
        state[g] = 1
        stack.append(g)
        for child in graph.nested.get(g, ()):
            if state.get(child) == 1:
                cycle = tuple(stack[stack.index(child) :]) + (child,)
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.add(key)
                    cycles.append(cycle)
            elif child not in state:
                visit(child)
        stack.pop()
        state[g] = 2

    for g in sorted(graph.groups):
        if g not in state:
            visit(g)
    return cycles


def flatten(graph: GroupGraph) -> dict[str, frozenset[str]]:
    """Group externalId -> every user externalId in it, through nested groups (cycles cut)."""
    out: dict[str, frozenset[str]] = {}
    for root in graph.groups:
        if not graph.nested.get(root):
            out[root] = graph.direct_users.get(root, frozenset())
            continue
        seen = {root}
        stack = [root]
        users: set[str] = set()
        while stack:
            g = stack.pop()
            users |= graph.direct_users.get(g, frozenset())
            for child in graph.nested.get(g, ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        out[root] = frozenset(users)
    return out


def rule_context(graph: GroupGraph, flat: Mapping[str, frozenset[str]]) -> RuleContext:
    user_groups: dict[str, set[str]] = {}
    for gid, members in flat.items():
        for uid in members:
            user_groups.setdefault(uid, set()).add(gid)
    return RuleContext(
        group_ids=graph.group_ids,
        user_groups={k: frozenset(v) for k, v in user_groups.items()},
        group_names={gid: g.display_name for gid, g in graph.groups.items()},
    )


@dataclass(frozen=True)
class TargetGroup:
    spec: GroupSpec
    members: frozenset[str]
    """User externalIds in scope of the target (flattened through nested groups)."""
    held: frozenset[str] = frozenset()
    """Desired members that are out of the target's scope: kept while they are only disabled."""


@dataclass(frozen=True)
class TargetSet:
    target: str
    users: Mapping[str, UserSpec]
    """externalId -> user, for every user in scope."""
    groups: Mapping[str, TargetGroup]
    """externalId -> group, for every group the target gets."""
    excluded: Mapping[str, UserSpec] = field(default_factory=dict)
    """Declared users that the rule leaves out (a removal reason differs from 'undeclared')."""


def resolve(desired: DesiredState, target: Target, graph: GroupGraph | None = None) -> TargetSet:
    graph = graph or build_graph(desired)
    flat = flatten(graph)
    user_filter = target.policy.rule.user_filter
    # memberships per user are only needed by member_of / groups conditions
    ctx = rule_context(graph, flat) if uses_groups(user_filter) else RuleContext({}, {}, {})
    in_scope: dict[str, UserSpec] = {}
    excluded: dict[str, UserSpec] = {}
    holds = compile_filter(user_filter)
    for uid, user in graph.users.items():
        if holds(user, ctx):
            in_scope[uid] = user
        else:
            excluded[uid] = user
    selected = select_groups(graph, target)
    groups = {
        gid: TargetGroup(
            graph.groups[gid],
            frozenset(u for u in flat[gid] if u in in_scope),
            frozenset(u for u in flat[gid] if u not in in_scope),
        )
        for gid in selected
    }
    return TargetSet(target.name, in_scope, groups, excluded)


def select_groups(graph: GroupGraph, target: Target) -> list[str]:
    choice = target.policy.rule.groups
    if choice == "all":
        return sorted(graph.groups)
    out: list[str] = []
    for name in choice:
        gid = graph.group_ids.get(name) or graph.group_ids.get(name.lower())
        if gid is not None and gid not in out:
            out.append(gid)
    return sorted(out)

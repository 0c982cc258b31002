"""Cross-file checks over a loaded Project: uniqueness, references, cycles, rule sanity. Pure.

These run after every file parsed on its own; each problem names both places where it helps.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping

from email_validator import EmailNotValidError, validate_email

from reconciler.config.load import DesiredState, Project, Target, did_you_mean, expand_env
from reconciler.config.policy import ConditionGroup, ORDER_OPERATORS
from reconciler.errors import Diagnostic, DiagnosticBag, SourceRef
from reconciler.resolve import GroupGraph, build_graph, find_cycles, user_key
from reconciler.rules import KNOWN_PATHS, SCALAR_PATHS, comparable, is_known_path


def check_project(project: Project, env: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """All diagnostics for a project: those from loading plus the cross-file ones."""
    bag = DiagnosticBag(list(project.diagnostics))
    graph = build_graph(project.desired)
    _check_users(project.desired, graph, bag)
    _check_groups(project.desired, graph, bag)
    for target in project.targets:
        _check_target(target, project.desired, graph, bag, os.environ if env is None else env)
    return bag.items


def _check_users(desired: DesiredState, graph: GroupGraph, bag: DiagnosticBag) -> None:
    sources = desired.user_sources  # looked up only to report a problem: clean users cost nothing
    for i, u in enumerate(desired.users):
        if "@" in u.user_name and not _plain_email(u.user_name):
            _check_email(u.user_name, functools.partial(sources[i].where, "userName"), bag)
        if u.emails:
            for j, e in enumerate(u.emails):
                if not _plain_email(e.value):
                    _check_email(e.value, functools.partial(sources[i].where, "emails", j, "value"), bag)
            if sum(1 for e in u.emails if e.primary) > 1:
                bag.error("more than one e-mail is marked primary", sources[i].where("emails"))
    # The graph kept the first user of each externalId and userName: as many keys as users
    # means no duplicates, and with no `previously:` either there is nothing more to check.
    n = len(desired.users)
    if len(graph.users) == n and len(graph.user_names) == n and not any(u.previously for u in desired.users):
        return
    by_id: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for i, u in enumerate(desired.users):
        if u.external_id in by_id:
            first = sources[by_id[u.external_id]].where("externalId")
            bag.error(
                f"duplicate externalId '{u.external_id}' (also at {first})",
                sources[i].where("externalId"),
                "externalIds are unique identities: give each user its own",
            )
        else:
            by_id[u.external_id] = i
        key = user_key(u.user_name)
        if key in by_name:
            first = sources[by_name[key]].where("userName")
            bag.error(
                f"duplicate userName '{u.user_name}' (also at {first}; userNames ignore case)",
                sources[i].where("userName"),
            )
        else:
            by_name[key] = i
    for i, u in enumerate(desired.users):
        if not u.previously:
            continue
        src = sources[i]
        for j, old in enumerate(u.previously):
            owner = by_id.get(old)
            if owner is None:
                owner = by_name.get(user_key(old))
            if owner is not None and owner != i:
                other = desired.users[owner]
                bag.error(
                    f"previously '{old}' is the current key of another user ({other.external_id})",
                    src.where("previously", j),
                    "a previous key must no longer be in use",
                )


_PLAIN_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _plain_email(value: str) -> bool:
    """The common ASCII case, valid at a glance; anything else gets the full validator."""
    return len(value) <= 254 and _PLAIN_EMAIL.match(value) is not None


def _check_email(value: str, where: Callable[[], SourceRef], bag: DiagnosticBag) -> None:
    """`where` is only called for a bad address: positions cost a second parse of the file."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        bag.error(f"invalid e-mail address '{value}': {exc}", where())


def _check_groups(desired: DesiredState, graph: GroupGraph, bag: DiagnosticBag) -> None:
    first_at: dict[str, int] = {}
    names: dict[str, int] = {}
    sources = desired.group_sources
    for i, g in enumerate(desired.groups):
        if g.external_id in first_at:
            other = sources[first_at[g.external_id]].where("externalId")
            bag.error(f"duplicate group externalId '{g.external_id}' (also at {other})",
                      sources[i].where("externalId"))
            continue
        first_at[g.external_id] = i
        lname = g.display_name.lower()
        if lname in names:
            other = sources[names[lname]].where("displayName")
            bag.warning(
                f"group displayName '{g.display_name}' is used twice (also at {other})",
                sources[i].where("displayName"),
                "selecting or nesting this group by name is ambiguous; use its externalId",
            )
        else:
            names[lname] = i
    user_choices = [u.user_name for u in desired.users] + [u.external_id for u in desired.users]
    group_choices = [g.external_id for g in desired.groups]
    # After a load error a reference may point at the entry that failed: reporting it would
    # only add noise. Fix the load errors first; these checks run again then.
    unresolved = graph.unresolved() if desired.complete else []
    for ref in unresolved:
        i = first_at[ref.group]
        where = desired.group_sources[i].where("members", ref.index)
        if ref.text.startswith("group:"):
            name = ref.text[len("group:") :].strip()
            bag.error(
                f"nested group '{name}' does not exist",
                where,
                did_you_mean(name, group_choices) or "nest by the group's externalId: group:<externalId>",
            )
        else:
            bag.error(
                f"member '{ref.text}' is not a declared user (userName or externalId)",
                where,
                did_you_mean(ref.text, user_choices)
                or "declare the user in desired-state, or prefix 'group:' for a nested group",
            )
    for ref in graph.refs:
        if ref.nested == ref.group:
            i = first_at[ref.group]
            bag.error(
                f"group '{ref.group}' lists itself as a member",
                desired.group_sources[i].where("members", ref.index),
            )
    for cycle in find_cycles(graph):
        if len(cycle) == 2:
            continue  # self-membership, reported above
        i = first_at[cycle[0]]
        bag.error(
            "nested groups form a cycle: " + " -> ".join(cycle),
            desired.group_sources[i].where("members"),
            "remove one of the group: entries in the cycle",
        )


def _check_target(
    target: Target,
    desired: DesiredState,
    graph: GroupGraph,
    bag: DiagnosticBag,
    env: Mapping[str, str],
) -> None:
    policy = target.policy
    conn = policy.connection
    _, missing = expand_env(conn.url, env)
    for name in missing:
        bag.warning(
            f"connection.url uses ${{{name}}}, which is not set in the environment",
            target.where("connection", "url"),
            f"export {name}=... before plan or apply",
        )
    if not env.get(conn.token_env):
        bag.warning(
            f"token variable {conn.token_env} is not set",
            target.where("connection", "token_env"),
            f"export {conn.token_env} (from your secret store) before plan or apply",
        )
    if conn.capabilities:
        from reconciler.errors import ConfigError
        from reconciler.scim.profiles import get_profile

        try:
            get_profile(conn.profile, conn.capabilities)
        except ConfigError as exc:
            for d in exc.diagnostics():
                bag.error(d.message, target.where("connection", "capabilities"), d.hint)
    groups = policy.rule.groups
    if groups != "all" and desired.complete:
        for i, name in enumerate(groups):
            if graph.group_ids.get(name) is None and graph.group_ids.get(name.lower()) is None:
                bag.error(
                    f"selected group '{name}' is not declared in desired-state",
                    target.where("rule", "groups", i),
                    did_you_mean(name, [g.display_name for g in desired.groups] + list(graph.groups))
                    or "use the group's displayName or externalId",
                )
    if policy.rule.user_filter is not None:
        _check_conditions(policy.rule.user_filter, ("rule", "user_filter"), target, desired, graph, bag)
    if policy.removal.delete_after and policy.removal.action == "delete":
        bag.warning(
            "removal.delete_after has no effect with action: delete (accounts are deleted at once)",
            target.where("removal", "delete_after"),
            "use action: disable with delete_after for two-phase removal",
        )
    if policy.removal.action == "delete" and not policy.operations.delete:
        bag.warning(
            "removal.action is delete but operations.delete is false: removals will be skipped",
            target.where("operations", "delete"),
        )


def _check_conditions(
    group: ConditionGroup,
    path: tuple[str | int, ...],
    target: Target,
    desired: DesiredState,
    graph: GroupGraph,
    bag: DiagnosticBag,
) -> None:
    for i, c in enumerate(group.conditions):
        here = path + ("conditions", i)
        if isinstance(c, ConditionGroup):
            _check_conditions(c, here, target, desired, graph, bag)
            continue
        if c.operator == "member_of":
            value = str(c.value)
            if desired.complete and graph.group_ids.get(value) is None and graph.group_ids.get(value.lower()) is None:
                bag.error(
                    f"member_of: group '{value}' is not declared in desired-state",
                    target.where(*here, "value"),
                    did_you_mean(value, list(graph.groups)),
                )
            continue
        if c.attribute is None or not is_known_path(c.attribute):
            bag.error(
                f"unknown attribute '{c.attribute}'",
                target.where(*here, "attribute"),
                did_you_mean(c.attribute or "", list(SCALAR_PATHS))
                or "attributes: " + ", ".join(KNOWN_PATHS),
            )
            continue
        if c.attribute.startswith("attributes."):
            name = c.attribute[len("attributes.") :]
            if desired.users and not any(name in u.attributes for u in desired.users):
                close = did_you_mean(name, {k for u in desired.users for k in u.attributes})
                bag.warning(
                    f"no declared user has attribute '{name}'",
                    target.where(*here, "attribute"),
                    close or "check the spelling; attribute names are case-sensitive",
                )
        if c.operator in ORDER_OPERATORS and not comparable(c.value):
            bag.error(
                f"operator '{c.operator}' needs a number or an ISO date (YYYY-MM-DD), got {c.value!r}",
                target.where(*here, "value"),
            )

"""Safety rails on a computed plan, before anything can be applied. Pure.

A violation makes the plan unsafe (exit 1, not applicable) unless overridden at plan time; every
override is written into the plan so that reviewers see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.config.policy import Policy


class SafetyReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    safe: bool
    violations: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    user_removals: int = 0
    user_removal_limit: int | None = None
    membership_removals: int = 0
    membership_removal_limit: int | None = None
    managed_users: int = 0
    managed_memberships: int = 0


@dataclass(frozen=True)
class Overrides:
    allow_removals: int | None = None
    allow_empty: bool = False


def check_safety(
    actions: list[Any],
    policy: Policy,
    *,
    desired_users: int,
    managed_users: int,
    managed_memberships: int,
    protected_kept: list[str],
    overrides: Overrides,
) -> SafetyReport:
    violations: list[str] = []
    used: list[str] = []
    notes = [f"protected, left alone: {p}" for p in sorted(set(protected_kept))]
    user_removals = sum(
        1
        for a in actions
        if a.kind == "delete_user" or (a.kind == "disable_user" and getattr(a, "removal", True))
    )
    member_removals = sum(len(a.remove) for a in actions if a.kind == "change_members")
    ulimit = policy.safety.max_user_removals
    mlimit = policy.safety.max_membership_removals
    u_allowed = ulimit.allowed(managed_users) if ulimit is not None else None
    m_allowed = mlimit.allowed(managed_memberships) if mlimit is not None else None
    n = overrides.allow_removals
    if u_allowed is not None and user_removals > u_allowed:
        if n is not None and user_removals <= n:
            used.append(f"--allow-removals {n}: {user_removals} user removals (limit {ulimit} = {u_allowed})")
        else:
            violations.append(
                f"{user_removals} user removals exceed max_user_removals {ulimit} "
                f"(= {u_allowed} of {managed_users} managed users); review, then re-plan with "
                f"--allow-removals {user_removals}"
            )
    if m_allowed is not None and member_removals > m_allowed:
        if n is not None and member_removals <= n:
            used.append(
                f"--allow-removals {n}: {member_removals} membership removals (limit {mlimit} = {m_allowed})"
            )
        else:
            violations.append(
                f"{member_removals} membership removals exceed max_membership_removals {mlimit} "
                f"(= {m_allowed} of {managed_memberships} managed memberships); review, then re-plan "
                f"with --allow-removals {member_removals}"
            )
    if desired_users == 0 and managed_users > 0:
        if overrides.allow_empty:
            used.append(f"--allow-empty: the desired set is empty while {managed_users} accounts are managed")
        else:
            violations.append(
                f"the desired set resolves to zero users while the target has {managed_users} managed "
                "accounts (a broken rule or an emptied file?); re-plan with --allow-empty if intended"
            )
    return SafetyReport(
        safe=not violations,
        violations=tuple(violations),
        overrides=tuple(used),
        notes=tuple(notes),
        user_removals=user_removals,
        user_removal_limit=u_allowed,
        membership_removals=member_removals,
        membership_removal_limit=m_allowed,
        managed_users=managed_users,
        managed_memberships=managed_memberships,
    )

"""compute_actions: TargetSet x LiveState x State -> actions and warnings. Pure set math.

Identity: a desired user matches a live account by (1) the state's record of the account it
manages, (2) externalId (case-sensitive), (3) a `previously:` key, then (4) e-mail/userName
(case-insensitive) when the policy allows adoption. Only managed accounts — created or adopted
(state), or carrying a declared externalId — can become removals; the others follow `unmanaged:`.
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.actions import (
    AdoptUser,
    ChangeMembers,
    CreateGroup,
    CreateUser,
    DeleteGroup,
    DeleteUser,
    DisableUser,
    FieldChange,
    Member,
    RestoreUser,
    UpdateGroup,
    UpdateUser,
    sort_actions,
)
from reconciler.config.models import UserSpec
from reconciler.config.policy import Policy
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.resolve import TargetSet, user_key
from reconciler.state.model import State


@dataclass(frozen=True)
class Capabilities:
    """What the diff needs to know about the target's profile."""

    profile: str = "generic"
    members_readable: bool = True
    user_writable: frozenset[str] = frozenset(
        {"userName", "displayName", "name.givenName", "name.familyName", "emails", "externalId", "active"}
    )
    sends_invitations: bool = False


BITWARDEN = Capabilities("bitwarden", False, frozenset({"externalId", "active"}), True)
GENERIC = Capabilities()


def capabilities_for(profile: str, overrides: Mapping[str, Any] | None = None) -> Capabilities:
    """The diff's view of a profile, with the policy's capability overrides applied."""
    base = BITWARDEN if profile == "bitwarden" else GENERIC
    if not overrides:
        return base
    from reconciler.scim.profiles import get_profile

    p = get_profile(profile, overrides)
    return Capabilities(base.profile, p.members_readable, frozenset(p.user_writable_fields), base.sends_invitations)


@dataclass
class DiffResult:
    actions: list[Any]
    warnings: list[str] = field(default_factory=list)
    unmanaged_users: int = 0
    unmanaged_groups: int = 0
    managed_users: int = 0
    managed_memberships: int = 0
    protected_kept: list[str] = field(default_factory=list)
    touched_users: dict[str, LiveUser] = field(default_factory=dict)
    touched_groups: dict[str, LiveGroup] = field(default_factory=dict)
    absent_keys: dict[str, str] = field(default_factory=dict)
    """externalId -> userName of every user the plan creates (apply checks they are still absent)."""


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


_by_id = operator.attrgetter("id")


class _Index:
    """The live accounts by id, by externalId, and (built on first use) by userName/e-mail."""

    def __init__(self, users: Iterable[LiveUser]) -> None:
        self.by_id: dict[str, LiveUser] = {}
        self.by_ext: dict[str, LiveUser] = {}
        self.duplicates: list[str] = []
        by_ext = self.by_ext
        for u in sorted(users, key=_by_id):
            self.by_id[u.id] = u
            if u.external_id:
                if u.external_id in by_ext:
                    self.duplicates.append(u.external_id)
                else:
                    by_ext[u.external_id] = u

    @functools.cached_property
    def by_name(self) -> dict[str, LiveUser]:
        """Only needed when a desired user does not match by state or externalId (a rename,
        an adoption, a conflict): in a plan of a target in sync it is never built."""
        by_name: dict[str, LiveUser] = {}
        for u in self.by_id.values():
            by_name.setdefault(user_key(u.user_name), u)
            for name in u.emails:
                if name != u.user_name:  # usually the first e-mail is the userName
                    by_name.setdefault(user_key(name), u)
        return by_name


def desired_fields(u: UserSpec, key: str | None = None) -> dict[str, Any]:
    """The SCIM view of a desired user, as stored in a plan's `after`."""
    out: dict[str, Any] = {
        "externalId": key or u.external_id,
        "userName": u.user_name,
        "emails": u.email_values(),
        "active": u.active is not False,
    }
    if u.display_name is not None:
        out["displayName"] = u.display_name
    if u.name is not None:
        if u.name.given_name is not None:
            out["name.givenName"] = u.name.given_name
        if u.name.family_name is not None:
            out["name.familyName"] = u.name.family_name
    return out


def live_fields(u: LiveUser) -> dict[str, Any]:
    out: dict[str, Any] = {
        "externalId": u.external_id,
        "userName": u.user_name,
        "emails": list(u.emails),
        "active": u.active,
    }
    if u.display_name is not None:
        out["displayName"] = u.display_name
    if u.given_name is not None:
        out["name.givenName"] = u.given_name
    if u.family_name is not None:
        out["name.familyName"] = u.family_name
    return out


def same_value(path: str, a: Any, b: Any) -> bool:
    if path == "userName":
        return user_key(str(a)) == user_key(str(b))
    if path == "emails":
        if a == b:
            return True
        fa = [user_key(x) for x in a or []]
        fb = [user_key(x) for x in b or []]
        return fa[:1] == fb[:1] and sorted(fa[1:]) == sorted(fb[1:])
    return bool(a == b)


def compute_actions(
    ts: TargetSet,
    live: LiveState,
    state: State,
    policy: Policy,
    caps: Capabilities,
    now: datetime,
) -> DiffResult:
    res = DiffResult(actions=[])
    idx = _Index(live.users)
    for dup in sorted(set(idx.duplicates)):
        res.warnings.append(f"externalId '{dup}' is used by more than one account on the target")
    protected = {user_key(p) for p in policy.safety.protected} | set(policy.safety.protected)
    state_by_id = {m.id: k for k, m in state.users.items()}

    # --- match desired users to live accounts -------------------------------------------
    matched: dict[str, LiveUser] = {}  # desired externalId -> live account
    claimed: set[str] = set()
    adoptions: dict[str, LiveUser] = {}
    renames: dict[str, str] = {}
    conflicts: set[str] = set()  # an account holds the userName, adoption is off: not created
    declared_keys = set(ts.users) | set(ts.excluded)
    in_scope = sorted(ts.users)
    for ext in in_scope:
        u = ts.users[ext]
        hit = _match(u, idx, state, claimed)
        how = "managed"
        if hit is None:
            hit, how = _match_previous(u, idx, state, claimed)
        if hit is None and policy.adopt:
            cand = idx.by_name.get(user_key(u.user_name)) or idx.by_name.get(user_key(u.primary_email()))
            if cand is not None and cand.id not in claimed and (
                cand.external_id is None or cand.external_id not in declared_keys
            ):
                hit, how = cand, "adopt"
        if hit is None:
            cand = idx.by_name.get(user_key(u.user_name))
            if cand is not None and cand.id not in claimed:
                res.warnings.append(
                    f"{u.user_name}: an account with this userName exists on the target "
                    f"(externalId {cand.external_id!r}) but adoption is off; not created"
                )
                conflicts.add(ext)
                continue
        if hit is not None:
            claimed.add(hit.id)
            matched[ext] = hit
            if how == "adopt":
                adoptions[ext] = hit
            elif how == "rename":
                renames[ext] = hit.external_id or ""
    # --- users ---------------------------------------------------------------------------
    held_ids: dict[str, str] = {}  # live id -> desired externalId of out-of-scope declared users
    for ext in in_scope:
        u = ts.users[ext]
        acct = matched.get(ext)
        if acct is None:
            if ext not in conflicts:
                _plan_create(u, state, policy, caps, res)
            continue
        res.touched_users[acct.id] = acct
        if ext in adoptions:
            res.actions.append(
                AdoptUser(
                    key=ext,
                    id=acct.id,
                    reason="an existing account matches by e-mail/userName",
                    before={"externalId": acct.external_id, "userName": acct.user_name},
                    after={"externalId": ext, "userName": acct.user_name},
                    set_external_id="externalId" in caps.user_writable,
                )
            )
        if not acct.active or u.active is False:  # enabled and meant to be: no status change
            _plan_status(u, acct, state, policy, res)
        # An account adopted into the state without writing to the target (import --adopt) keeps
        # its empty externalId: ownership is the state's record, and nothing needs to change.
        rec = state.users.get(ext)
        adopted_in_state = rec is not None and rec.origin == "adopted" and acct.external_id is None
        skip_external_id = ext in adoptions or adopted_in_state
        if not _unchanged(u, acct, skip_external_id):  # the common case, decided without field maps
            _plan_update(u, acct, caps, policy, res, skip_external_id=skip_external_id, renamed=ext in renames)
    res.managed_users = sum(1 for ext in matched if ext not in adoptions)
    # --- accounts no longer in scope ------------------------------------------------------
    declared = {u.external_id: u for u in ts.excluded.values()}
    for acct in idx.by_id.values():  # in id order: the index is built sorted
        if acct.id in claimed:
            continue
        key = state_by_id.get(acct.id)
        if key is None and acct.external_id is not None and acct.external_id in declared:
            key = acct.external_id
        is_protected = user_key(acct.user_name) in protected or (acct.external_id or "") in protected
        if key is None:
            res.unmanaged_users += 1
            if policy.unmanaged != "ignore" and not is_protected:
                _plan_removal(acct, acct.external_id or acct.id, policy.unmanaged, "unmanaged account "
                              f"(policy unmanaged: {policy.unmanaged})", state, policy, res, now, managed=False)
            continue
        res.managed_users += 1
        if key in declared:
            held_ids[acct.id] = key
            why = f"no longer matches the user filter of target '{ts.target}'"
        else:
            why = "no longer declared in desired-state"
        if is_protected:
            if acct.active:
                res.protected_kept.append(acct.user_name)
            continue
        _plan_removal(acct, key, policy.removal.action, why, state, policy, res, now, managed=True)
    # --- groups ----------------------------------------------------------------------------
    groups_of = _plan_groups(ts, live, state, policy, caps, matched, held_ids, idx, protected, res)
    res.actions = sort_actions(
        [
            a.model_copy(update={"groups": tuple(sorted(groups_of.get(a.id or "", ())))})
            if a.kind in ("disable_user", "delete_user")
            else a
            for a in res.actions
        ]
    )
    return res


def _match(u: UserSpec, idx: _Index, state: State, claimed: set[str]) -> LiveUser | None:
    rec = state.users.get(u.external_id)
    if rec is not None and rec.id in idx.by_id and rec.id not in claimed:
        return idx.by_id[rec.id]
    hit = idx.by_ext.get(u.external_id)
    if hit is not None and hit.id not in claimed:
        return hit
    return None


def _match_previous(
    u: UserSpec, idx: _Index, state: State, claimed: set[str]
) -> tuple[LiveUser | None, str]:
    for old in u.previously:
        rec = state.users.get(old)
        if rec is not None and rec.id in idx.by_id and rec.id not in claimed:
            return idx.by_id[rec.id], "rename"
        hit = idx.by_ext.get(old)
        if hit is None:
            hit = idx.by_name.get(user_key(old))
        if hit is not None and hit.id not in claimed:
            return hit, "rename"
    return None, ""


def _plan_create(u: UserSpec, state: State, policy: Policy, caps: Capabilities, res: DiffResult) -> None:
    if not policy.operations.create:
        res.warnings.append(f"{u.user_name}: would be created, but operations.create is false")
        return
    removal = state.removals.get(u.external_id)
    recreated = removal.at if removal is not None and removal.action == "delete" else None
    reason = "declared and in scope"
    if recreated:
        reason = f"re-create: the previous account was deleted on {recreated[:10]}"
    elif u.external_id in state.users:
        reason = "re-create: the managed account is gone from the target"
    res.absent_keys[u.external_id] = u.user_name
    res.actions.append(
        CreateUser(key=u.external_id, reason=reason, after=desired_fields(u), recreated_after_delete=recreated)
    )


def _plan_status(u: UserSpec, acct: LiveUser, state: State, policy: Policy, res: DiffResult) -> None:
    removal = state.removals.get(u.external_id)
    if removal is not None and removal.pending and acct.active:
        removal = None  # a write-ahead record whose write never happened
    if acct.active and u.active is False:
        if policy.operations.disable:
            res.actions.append(
                DisableUser(key=u.external_id, id=acct.id, reason="active: false in desired-state",
                            before={"userName": acct.user_name, "active": True},
                            after={"userName": acct.user_name, "active": False}, removal=False)
            )
        return
    if acct.active or u.active is False:
        return
    # The account is disabled on the target and the user is in scope.
    if u.active is True:
        why = "active: true is enforced (disabled outside reconcile)"
    elif removal is not None and removal.action == "disable":
        why = f"back in scope (disabled on {removal.at[:10]}: {removal.reason})"
    else:
        res.warnings.append(
            f"{acct.user_name}: disabled outside reconcile; left disabled "
            "(set active: true in desired-state to re-enable)"
        )
        return
    if policy.operations.restore:
        res.actions.append(
            RestoreUser(key=u.external_id, id=acct.id, reason=why,
                        before={"userName": acct.user_name, "active": False},
                        after={"userName": acct.user_name, "active": True})
        )


def _unchanged(u: UserSpec, acct: LiveUser, skip_external_id: bool) -> bool:
    if not skip_external_id and acct.external_id != u.external_id:
        return False
    if acct.user_name != u.user_name and user_key(acct.user_name) != user_key(u.user_name):
        return False
    if u.display_name is not None and acct.display_name != u.display_name:
        return False
    if u.name is not None and (
        (u.name.given_name is not None and acct.given_name != u.name.given_name)
        or (u.name.family_name is not None and acct.family_name != u.name.family_name)
    ):
        return False
    if u.emails is None:
        if not acct.emails:
            return True  # nothing declared, nothing there (e.g. a service account without e-mail)
        if len(acct.emails) == 1 and acct.emails[0] == u.user_name:
            return True  # the common case: the userName is the one e-mail
    return same_value("emails", list(acct.emails), u.email_values())


def _plan_update(
    u: UserSpec,
    acct: LiveUser,
    caps: Capabilities,
    policy: Policy,
    res: DiffResult,
    *,
    skip_external_id: bool,
    renamed: bool,
) -> None:
    """The update of an account that `_unchanged` found different (or a warning if it cannot be)."""
    want = desired_fields(u)
    have = live_fields(acct)
    changes: list[FieldChange] = []
    for path in ("externalId", "userName", "displayName", "name.givenName", "name.familyName", "emails"):
        if path not in want or (path == "externalId" and skip_external_id):
            continue
        if path == "emails" and u.emails is None and not acct.emails:
            continue  # no e-mail declared and none on the target: nothing to converge
        if same_value(path, have.get(path), want[path]):
            continue
        if path in caps.user_writable:
            changes.append(FieldChange(path=path, before=have.get(path), after=want[path]))
        elif path == "emails" and not same_value("userName", have.get("userName"), want["userName"]):
            continue  # the userName warning already says the address differs
        elif have.get(path) is not None:
            res.warnings.append(
                f"{u.user_name}: {path} differs on {caps.profile} ({have.get(path)!r} there, "
                f"{want[path]!r} declared) and cannot be changed through SCIM"
            )
    if not changes:
        return
    if not policy.operations.update:
        res.warnings.append(f"{u.user_name}: {len(changes)} field(s) differ, but operations.update is false")
        return
    reason = "renamed (previously: " + (acct.external_id or acct.user_name) + ")" if renamed else "fields differ"
    res.actions.append(
        UpdateUser(
            key=u.external_id,
            id=acct.id,
            reason=reason,
            before={c.path: c.before for c in changes} | {"userName": acct.user_name},
            after={c.path: c.after for c in changes} | {"userName": want["userName"]},
            changes=tuple(changes),
        )
    )


def _plan_removal(
    acct: LiveUser,
    key: str,
    action: str,
    why: str,
    state: State,
    policy: Policy,
    res: DiffResult,
    now: datetime,
    *,
    managed: bool,
) -> None:
    record = state.removals.get(key)
    if record is not None and record.pending and acct.active:
        record = None  # a write-ahead record whose write never happened
    before = {"userName": acct.user_name, "externalId": acct.external_id, "active": acct.active}
    res.touched_users[acct.id] = acct
    if action == "delete":
        if not policy.operations.delete:
            res.warnings.append(f"{acct.user_name}: would be deleted, but operations.delete is false")
            return
        res.actions.append(DeleteUser(key=key, id=acct.id, reason=why, before=before, managed=managed))
        return
    # disable (possibly two-phase)
    if not acct.active:
        if record is not None and record.pending and record.action == "delete":
            if policy.operations.delete:  # the account outlived a delete that was sent: again
                res.actions.append(DeleteUser(key=key, id=acct.id, before=before, managed=managed,
                                              reason="a previous delete did not complete"))
            return
        if record is not None and record.delete_due and parse_iso(record.delete_due) <= now:
            if policy.operations.delete:
                res.actions.append(
                    DeleteUser(key=key, id=acct.id, before=before, managed=managed,
                               reason=f"disabled on {record.at[:10]}; delete_after "
                               f"{policy.removal.delete_after} has passed")
                )
        return
    if not policy.operations.disable:
        res.warnings.append(f"{acct.user_name}: would be disabled, but operations.disable is false")
        return
    delta: timedelta | None = policy.removal.delete_after_delta() if managed else None
    due = iso(now + delta) if delta else None
    res.actions.append(
        DisableUser(key=key, id=acct.id, reason=why, before=before, managed=managed,
                    after={"userName": acct.user_name, "active": False}, delete_due=due)
    )


def _plan_groups(
    ts: TargetSet,
    live: LiveState,
    state: State,
    policy: Policy,
    caps: Capabilities,
    matched: Mapping[str, LiveUser],
    held_ids: Mapping[str, str],
    idx: _Index,
    protected: set[str],
    res: DiffResult,
) -> dict[str, set[str]]:
    """Plans group actions; returns, for each user being disabled or deleted, the keys of the
    managed groups it is in now."""
    groups_of: dict[str, set[str]] = defaultdict(set)
    by_id = {g.id: g for g in live.groups}
    by_ext: dict[str, LiveGroup] = {}
    by_name: dict[str, list[LiveGroup]] = defaultdict(list)
    for lg in sorted(live.groups, key=lambda x: x.id):
        if lg.external_id:
            by_ext.setdefault(lg.external_id, lg)
        by_name[lg.display_name.casefold()].append(lg)
    state_group_ids = {m.id: k for k, m in state.groups.items()}
    state_user_ids = {m.id: k for k, m in state.users.items()}
    claimed: set[str] = set()
    removed_ids = {a.id for a in res.actions if a.kind == "delete_user"}
    disabled_ids = {a.id for a in res.actions if a.kind == "disable_user"}
    leaving = removed_ids | disabled_ids
    ext_of_id = {acct.id: ext for ext, acct in matched.items()} | dict(held_ids)
    held_by_ext = {ext: i for i, ext in held_ids.items()}
    for gext in sorted(ts.groups):
        tg = ts.groups[gext]
        g = _match_group(gext, tg.spec.previously, tg.spec.display_name, state, by_id, by_ext, by_name,
                         claimed, policy.adopt)
        desired_ids: dict[str, str] = {}  # live id -> user key (Members are built only for changes)
        pending: list[Member] = []
        for uext in tg.members:
            acct = matched.get(uext)
            if acct is None:
                if uext in res.absent_keys:
                    pending.append(Member(key=uext, label=ts.users[uext].user_name))
                continue
            desired_ids[acct.id] = uext
        keep: set[str] = set()
        for uext in sorted(tg.held):
            # A declared member that left the rule keeps its membership while it is only
            # disabled, so that a restore brings it back; it is never newly added.
            acct_id = held_by_ext.get(uext)
            if acct_id is not None and acct_id not in removed_ids:
                acct = idx.by_id[acct_id]
                if not acct.active or acct_id in disabled_ids:
                    keep.add(acct_id)
        if g is None:
            if not policy.operations.create:
                res.warnings.append(f"group {tg.spec.display_name}: would be created, but operations.create is false")
                continue
            res.actions.append(
                CreateGroup(key=gext, reason="declared and selected for this target",
                            after={"displayName": tg.spec.display_name, "externalId": gext})
            )
            adds = sorted((Member(key=k, id=i, label=matched[k].user_name) for i, k in desired_ids.items()),
                          key=lambda m: m.key) + sorted(pending, key=lambda m: m.key)
            if adds:
                res.actions.append(
                    ChangeMembers(key=gext, reason="members of a new group",
                                  after={"displayName": tg.spec.display_name}, add=tuple(adds))
                )
            continue
        claimed.add(g.id)
        res.touched_groups[g.id] = g
        rec = state.groups.get(gext)
        # adopted into the state (import --adopt) without an externalId on the target: ownership
        # is the state's record, as for users; nothing needs writing
        keep_ext = rec is not None and rec.origin == "adopted" and rec.id == g.id and not g.external_id
        _plan_group_update(gext, tg.spec.display_name, g, policy, res, keep_external_id=keep_ext)
        current = _current_members(gext, g, state, caps)
        if current is None:
            res.warnings.append(
                f"group {g.display_name}: members cannot be read from {caps.profile} and are not in "
                "the state yet; members will only be added (existing extra members are not removed)"
            )
            current_set: set[str] = set()
        else:
            current_set = set(current)
            res.managed_memberships += len(current_set)
        for mid in current_set & leaving:  # the groups recorded with a disable or delete
            groups_of[mid].add(gext)
        adds = [Member(key=k, id=i, label=matched[k].user_name)
                for i, k in desired_ids.items() if i not in current_set] + pending
        removes: list[Member] = []
        extra = current_set - set(desired_ids) - keep
        if tg.spec.membership == "additive":
            # only memberships reconcile made (the state's record) are taken back; members
            # added outside reconcile stay
            extra &= set(rec.members) if rec is not None and rec.id == g.id else set()
        for mid in sorted(extra):
            acct = idx.by_id.get(mid)
            if acct is None or mid in removed_ids:
                continue  # dangling id, or the account is deleted by this plan (links go with it)
            key = ext_of_id.get(mid) or state_user_ids.get(mid)
            if key is None and policy.unmanaged == "ignore":
                continue  # an account we do not manage: left where a human put it
            if user_key(acct.user_name) in protected or (acct.external_id or "") in protected:
                res.protected_kept.append(f"{acct.user_name} in {g.display_name}")
                continue
            removes.append(Member(key=key or acct.id, id=mid, label=acct.user_name))
        removes.sort(key=lambda m: m.key)
        adds.sort(key=lambda m: m.key)
        if adds or removes:
            res.actions.append(
                ChangeMembers(key=gext, id=g.id, reason=_MEMBERSHIP_REASON[tg.spec.membership],
                              before={"displayName": g.display_name}, after={"displayName": tg.spec.display_name},
                              add=tuple(adds), remove=tuple(removes))
            )
    # managed groups that are no longer wanted
    for g in sorted(live.groups, key=lambda x: x.id):
        if g.id in claimed:
            continue
        key = state_group_ids.get(g.id)
        if key is None:
            res.unmanaged_groups += 1
            continue
        if not policy.operations.delete:
            res.warnings.append(f"group {g.display_name}: would be deleted, but operations.delete is false")
            continue
        res.touched_groups[g.id] = g
        res.actions.append(
            DeleteGroup(key=key, id=g.id, reason="no longer declared or selected for this target",
                        before={"displayName": g.display_name, "externalId": g.external_id})
        )
    return groups_of


def _match_group(
    gext: str,
    previously: tuple[str, ...],
    name: str,
    state: State,
    by_id: Mapping[str, LiveGroup],
    by_ext: Mapping[str, LiveGroup],
    by_name: Mapping[str, list[LiveGroup]],
    claimed: set[str],
    adopt: bool,
) -> LiveGroup | None:
    rec = state.groups.get(gext)
    if rec is not None and rec.id in by_id and rec.id not in claimed:
        return by_id[rec.id]
    hit = by_ext.get(gext)
    if hit is not None and hit.id not in claimed:
        return hit
    for old in previously:
        rec = state.groups.get(old)
        if rec is not None and rec.id in by_id and rec.id not in claimed:
            return by_id[rec.id]
        hit = by_ext.get(old)
        if hit is None:
            cands = [g for g in by_name.get(old.casefold(), []) if g.id not in claimed]
            hit = cands[0] if len(cands) == 1 else None
        if hit is not None and hit.id not in claimed:
            return hit
    if adopt:
        cands = [g for g in by_name.get(name.casefold(), []) if g.id not in claimed and not g.external_id]
        if len(cands) == 1:
            return cands[0]
    return None


def _plan_group_update(
    gext: str, name: str, g: LiveGroup, policy: Policy, res: DiffResult, *, keep_external_id: bool = False
) -> None:
    changes = []
    if g.display_name != name:
        changes.append(FieldChange(path="displayName", before=g.display_name, after=name))
    if g.external_id != gext and not keep_external_id:
        changes.append(FieldChange(path="externalId", before=g.external_id, after=gext))
    if not changes:
        return
    if not policy.operations.update:
        res.warnings.append(f"group {g.display_name}: differs, but operations.update is false")
        return
    res.actions.append(
        UpdateGroup(key=gext, id=g.id, reason="renamed" if changes[0].path == "displayName" else "adopted",
                    before={c.path: c.before for c in changes}, after={c.path: c.after for c in changes},
                    changes=tuple(changes))
    )


_MEMBERSHIP_REASON = {
    "authoritative": "membership differs from desired-state",
    "additive": "membership differs from desired-state (additive: members added outside reconcile stay)",
}


def _current_members(gext: str, g: LiveGroup, state: State, caps: Capabilities) -> list[str] | None:
    if caps.members_readable and g.members is not None:
        return list(g.members)
    rec = state.groups.get(gext)
    if rec is not None and rec.id == g.id:
        return list(rec.members)
    return None

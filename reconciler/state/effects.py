"""How one successful action changes the state. Pure: apply calls it after every write.

The state must let the next plan converge after a crash at any moment: ownership and removal
records are written here, the moment the target has accepted the change.
"""

from __future__ import annotations

from typing import Any

from reconciler.state.model import ManagedGroup, ManagedUser, RemovalRecord, State


def state_after(
    state: State,
    action: Any,
    *,
    scim_id: str | None,
    now: str,
    member_ids: dict[str, str] | None = None,
) -> State:
    """The state once `action` succeeded. `scim_id` is the id of the object (new for creates);
    `member_ids` maps user keys created earlier in the run to their new ids."""
    users = dict(state.users)
    groups = dict(state.groups)
    removals = dict(state.removals)
    kind = action.kind
    key = action.key
    after = action.after or {}
    before = action.before or {}
    if kind in ("create_user", "adopt_user"):
        assert scim_id is not None
        _drop_user_id(users, scim_id)
        users[key] = ManagedUser(
            external_id=key,
            id=scim_id,
            user_name=after.get("userName") or before.get("userName") or key,
            origin="created" if kind == "create_user" else "adopted",
        )
        if kind == "create_user":
            removals.pop(key, None)
    elif kind == "update_user":
        assert scim_id is not None
        _drop_user_id(users, scim_id)
        users[key] = ManagedUser(
            external_id=key, id=scim_id, user_name=after.get("userName") or key, origin="created"
        ) if key not in state.users else state.users[key].model_copy(
            update={"user_name": after.get("userName") or state.users[key].user_name}
        )
    elif kind == "restore_user":
        removals.pop(key, None)
        if key not in users and scim_id is not None:
            users[key] = ManagedUser(external_id=key, id=scim_id, user_name=after.get("userName") or key)
    elif kind == "disable_user":
        if action.managed and scim_id is not None and key not in users:
            users[key] = ManagedUser(external_id=key, id=scim_id, user_name=before.get("userName") or key)
        removals[key] = RemovalRecord(
            external_id=key,
            id=scim_id or "",
            user_name=before.get("userName") or key,
            action="disable",
            at=now,
            reason=action.reason,
            previous_active=bool(before.get("active", True)),
            previous_groups=tuple(action.groups),
            delete_due=action.delete_due,
        )
    elif kind == "delete_user":
        users.pop(key, None)
        if scim_id is not None:
            _drop_user_id(users, scim_id)
            for gk, g in list(groups.items()):
                if scim_id in g.members:
                    groups[gk] = g.model_copy(update={"members": tuple(m for m in g.members if m != scim_id)})
        prior = removals.get(key)
        removals[key] = RemovalRecord(
            external_id=key,
            id=scim_id or "",
            user_name=before.get("userName") or key,
            action="delete",
            at=now,
            reason=action.reason,
            previous_active=prior.previous_active if prior else bool(before.get("active", True)),
            previous_groups=prior.previous_groups if prior else tuple(action.groups),
        )
    elif kind in ("create_group", "update_group"):
        assert scim_id is not None
        for gk in [gk for gk, g in groups.items() if g.id == scim_id and gk != key]:
            groups.pop(gk)
        current = groups.get(key)
        name = after.get("displayName") or (current.display_name if current else key)
        groups[key] = (
            current.model_copy(update={"display_name": name, "id": scim_id})
            if current is not None
            else ManagedGroup(
                external_id=key, id=scim_id, display_name=name,
                origin="created" if kind == "create_group" else "adopted",
            )
        )
    elif kind == "delete_group":
        groups.pop(key, None)
    elif kind == "change_members":
        assert scim_id is not None
        ids = member_ids or {}
        current = groups.get(key)
        members = set(current.members) if current is not None and current.id == scim_id else set()
        members |= {m.id or ids[m.key] for m in action.add if (m.id or ids.get(m.key))}
        members -= {m.id for m in action.remove if m.id}
        name = (after.get("displayName") or (current.display_name if current else key))
        groups[key] = ManagedGroup(
            external_id=key,
            id=scim_id,
            display_name=name,
            members=tuple(sorted(members)),
            origin=current.origin if current is not None else "adopted",
        )
    return state.model_copy(update={"users": users, "groups": groups, "removals": removals})


def _drop_user_id(users: dict[str, ManagedUser], scim_id: str) -> None:
    for k in [k for k, m in users.items() if m.id == scim_id]:
        users.pop(k)

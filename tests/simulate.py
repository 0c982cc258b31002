"""A pure simulation of a generic RFC 7644 target: apply a plan's actions to a LiveState.

Used by property tests (plan, simulate, plan again: nothing left to do). It mirrors what
scim2-server does with the requests apply sends; it is not a substitute for the real server.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.state.effects import state_after
from reconciler.state.model import State


def simulate(live: LiveState, state: State, actions: list[Any], now: str) -> tuple[LiveState, State]:
    users = {u.id: u for u in live.users}
    groups = {g.id: g for g in live.groups}
    new_ids: dict[str, str] = {}
    for a in actions:
        scim_id = a.id
        if a.kind == "create_user":
            scim_id = f"sim-{a.key}"
            f = a.after
            users[scim_id] = LiveUser(
                id=scim_id, external_id=f["externalId"], user_name=f["userName"], emails=tuple(f["emails"]),
                display_name=f.get("displayName"), given_name=f.get("name.givenName"),
                family_name=f.get("name.familyName"), active=f["active"],
            )
            new_ids[a.key] = scim_id
        elif a.kind == "update_user":
            u = users[a.id]
            upd = {
                {"externalId": "external_id", "userName": "user_name", "displayName": "display_name",
                 "name.givenName": "given_name", "name.familyName": "family_name", "emails": "emails"}[c.path]:
                tuple(c.after) if c.path == "emails" else c.after
                for c in a.changes
            }
            users[a.id] = replace(u, **upd)
        elif a.kind == "adopt_user":
            users[a.id] = replace(users[a.id], external_id=a.key)
        elif a.kind in ("disable_user", "restore_user"):
            users[a.id] = replace(users[a.id], active=a.kind == "restore_user")
        elif a.kind == "delete_user":
            del users[a.id]
            for gid, g in groups.items():
                if g.members and a.id in g.members:
                    groups[gid] = replace(g, members=tuple(m for m in g.members if m != a.id))
        elif a.kind == "create_group":
            scim_id = f"simg-{a.key}"
            groups[scim_id] = LiveGroup(id=scim_id, external_id=a.key, display_name=a.after["displayName"], members=())
            new_ids["group:" + a.key] = scim_id
        elif a.kind == "update_group":
            upd = {{"displayName": "display_name", "externalId": "external_id"}[c.path]: c.after for c in a.changes}
            groups[a.id] = replace(groups[a.id], **upd)
        elif a.kind == "delete_group":
            del groups[a.id]
        elif a.kind == "change_members":
            scim_id = a.id or new_ids["group:" + a.key]
            g = groups[scim_id]
            members = set(g.members or ())
            members |= {m.id or new_ids[m.key] for m in a.add}
            members -= {m.id for m in a.remove}
            groups[scim_id] = replace(g, members=tuple(sorted(members)))
        if a.kind == "create_group":
            scim_id = new_ids["group:" + a.key]
        state = state_after(state, a, scim_id=scim_id, now=now, member_ids=new_ids)
    return (
        live.model_copy(update={"users": tuple(users.values()), "groups": tuple(groups.values())}),
        state,
    )

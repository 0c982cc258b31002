"""Property: plan, apply the plan's actions (pure simulation), plan again: no actions left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.load import DesiredState, Located, Sources, Target
from reconciler.config.models import GroupSpec, UserSpec
from reconciler.config.policy import Policy
from reconciler.diff import GENERIC, compute_actions
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.resolve import resolve
from reconciler.state.model import State
from tests.simulate import simulate

NOW = datetime(2026, 12, 4, 12, 0, 0)
POOL = [f"p{i}" for i in range(8)]


def desired_user(name: str, dept: str, display: str | None, active: bool | None) -> UserSpec:
    return UserSpec.validate(
        {"externalId": f"ext-{name}", "userName": f"{name}@example.com", "displayName": display,
         "active": active, "attributes": {"dept": dept}}
    )


@st.composite
def worlds(draw: Any) -> tuple[DesiredState, Target, LiveState]:
    names = draw(st.lists(st.sampled_from(POOL), unique=True, max_size=8))
    users = [
        desired_user(n, draw(st.sampled_from(["eng", "ops"])), draw(st.sampled_from([None, "A", "B"])),
                     draw(st.sampled_from([None, None, True, False])))
        for n in names
    ]
    groups = []
    for gi in range(draw(st.integers(0, 3))):
        members = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
        groups.append(GroupSpec.validate(
            {"externalId": f"g{gi}", "displayName": f"Group {gi}", "members": [f"{m}@example.com" for m in members],
             "membership": draw(st.sampled_from(["authoritative", "additive"]))}
        ))
    live_users = []
    for i, n in enumerate(draw(st.lists(st.sampled_from(POOL), unique=True, max_size=8))):
        ext = draw(st.sampled_from([f"ext-{n}", None, f"other-{n}"]))
        live_users.append(LiveUser(id=f"id-{n}", external_id=ext, user_name=f"{n}@example.com",
                                   emails=(f"{n}@example.com",), display_name=draw(st.sampled_from([None, "A"])),
                                   active=draw(st.booleans())))
    live_groups = []
    for gi in range(draw(st.integers(0, 3))):
        ids = [u.id for u in live_users]
        members = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
        live_groups.append(LiveGroup(id=f"gid{gi}", external_id=draw(st.sampled_from([f"g{gi}", None])),
                                     display_name=f"Group {gi}", members=tuple(sorted(members))))
    policy = Policy.model_validate({
        "connection": {"url": "http://x", "token_env": "T"},
        "rule": {"user_filter": draw(st.sampled_from([
            None, {"conditions": [{"attribute": "attributes.dept", "operator": "equals", "value": "eng"}]}]))},
        "removal": {"action": draw(st.sampled_from(["disable", "delete"]))},
        "unmanaged": draw(st.sampled_from(["ignore", "disable", "delete"])),
        "safety": {"max_user_removals": "100%", "max_membership_removals": "100%"},
    })
    desired = DesiredState(tuple(users), tuple(groups), Sources(), Sources(), "d", ())
    target = Target("t", policy, Located(None, ()))  # type: ignore[arg-type]
    return desired, target, LiveState(users=tuple(live_users), groups=tuple(live_groups))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_second_plan_is_empty(world: tuple[DesiredState, Target, LiveState]) -> None:
    desired, target, live = world
    ts = resolve(desired, target)
    state = State(target="t")
    first = compute_actions(ts, live, state, target.policy, GENERIC, NOW)
    live2, state2 = simulate(live, state, first.actions, "2026-12-04T12:00:00Z")
    second = compute_actions(ts, live2, state2, target.policy, GENERIC, NOW)
    assert [(a.kind, a.key) for a in second.actions] == [], (
        [a.model_dump() for a in first.actions], [a.model_dump() for a in second.actions]
    )
    # with no state yet, reconcile has added no one: an additive group loses no member
    additive = {g.external_id for g in desired.groups if g.membership == "additive"}
    assert not [a.key for a in first.actions if a.kind == "change_members" and a.key in additive and a.remove]

"""A full lifecycle through a fault-injecting loopback proxy, on scim2-server and on the Bitwarden
test server: 10% 500/503 answers, a 429 with Retry-After every 20th request, 2% dropped
connections and 2% writes performed whose answer is lost. Each step converges in at most two
applies; no account is duplicated or lost; the server ends equal to the desired state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lifecycle.project import Project
from tests.servers.faultproxy import Fault, FaultProxy

IN_ALL = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops, sales]}]}"
NO_SALES = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
USERS = [(f"u-{n:02d}", f"user{n:02d}", ("eng", "ops", "sales")[n % 3]) for n in range(30)]
ENG = [f"user{n:02d}@example.com" for n in range(0, 30, 2)]


@pytest.fixture(params=["generic", "bitwarden"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Project, FaultProxy, Any]]:
    if request.param == "generic":
        server = request.getfixturevalue("scim2_tenant")
        upstream, base, token = server.server_url, server.base_url, server.token
    else:
        server = request.getfixturevalue("bitwarden_server")
        base, token = server.base_url, server.token
        upstream = base.split("/v2/")[0]
    with FaultProxy(upstream) as proxy:
        project = Project(tmp_path, {"APP_URL": proxy.rebase(base), "APP_TOKEN": token}, request.param)
        project.write(users=USERS, groups=groups(ENG))
        yield project, proxy, (base, token, request.param)


def groups(eng: list[str]) -> str:
    return ("groups:\n"
            f"  - {{externalId: g-eng, displayName: Engineering, members: [{', '.join(eng)}]}}\n"
            "  - {externalId: g-ops, displayName: Ops, members: [user01@example.com, user04@example.com]}\n")


def arm(proxy: FaultProxy, seed: int) -> None:
    proxy.clear()
    proxy.every(20, Fault.too_many(retry_after="1"))
    proxy.random_faults(seed=seed, rates={"500": 0.05, "503": 0.05, "drop": 0.02, "forward_then_drop": 0.02})


def converge(project: Project) -> int:
    """plan + apply until a plan is empty; returns the number of applies (must be <= 2)."""
    for applies in range(3):
        plan = project.plan()
        if not plan["actions"]:
            return applies
        project.apply(expect=(0, 1))
    plan = project.plan()
    assert plan["actions"] == [], [a["kind"] + " " + a["key"] for a in plan["actions"]]
    return 3


def truth(base: str, token: str) -> list[dict[str, Any]]:
    r = httpx.get(base + "/Users", params={"startIndex": 1, "count": 1000}, headers={"Authorization": f"Bearer {token}"})
    body = r.json()
    return list(body.get("Resources", body.get("resources", [])))


def test_lifecycle_converges_under_faults(setup: tuple[Project, FaultProxy, Any]) -> None:
    project, proxy, (base, token, profile) = setup
    steps = [(IN_ALL, None), (NO_SALES, None), (IN_ALL, "groups")]
    for seed, (rule, change) in enumerate(steps):
        arm(proxy, seed)
        project.rule = rule
        project.write(users=USERS, groups=groups(ENG[:5] if change == "groups" else ENG))
        applies = converge(project)
        assert applies <= 2, f"step {seed} needed {applies} applies"
    faults = [e for e in proxy.log if e.fault]
    assert len(faults) >= 10, f"the proxy injected only {len(faults)} faults: too few to prove anything"
    assert any(e.fault == "forward_then_drop" for e in faults)
    proxy.clear()
    users = truth(base, token)
    ext = [u["externalId"] for u in users if u.get("externalId")]
    assert sorted(ext) == sorted(u[0] for u in USERS)  # nobody duplicated, nobody lost
    active = {u["externalId"] for u in users if u.get("active", True)}
    assert active == {u[0] for u in USERS}
    state = json.loads((project.root / ".reconcile" / "state" / "app.json").read_text())
    assert set(state["users"]) == {u[0] for u in USERS}
    assert state["groups"]["g-eng"]["members"] == sorted(
        u["id"] for u in users if u["externalId"] in {f"u-{n:02d}" for n in range(0, 10, 2)})

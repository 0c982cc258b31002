"""P1, P2 and P4: plan and apply against real servers, each beside its floor in the same run.

P1  plan of 10,000 users / 500 groups (50 members each) on scim2-server, in sync (a drift check),
    against a bare httpx script reading the same pages.
P2  apply of 2,000 creates and 500 group membership changes on scim2-server, against a bare
    httpx script sending exactly the minimal requests with the same concurrency (4); the
    request count against the minimum (one POST per user, one PATCH per changed group).
P4  bootstrap of 300 users / 10 groups on the Bitwarden test server: requests issued against the
    minimum; then a second plan: zero actions and zero writes in the server's request log.

    .venv/bin/python benchmarks/plan_apply.py [--p1-users 10000] [--p2-users 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.apply import apply_plan  # noqa: E402
from reconciler.config.load import load_project  # noqa: E402
from reconciler.diff import iso  # noqa: E402
from reconciler.planner import connection_info, make_plan  # noqa: E402
from reconciler.policy import Overrides  # noqa: E402
from reconciler.state.local import LocalStore  # noqa: E402
from reconciler.target import TargetClient, open_client  # noqa: E402
from tests.scim.helpers import bulk_create_users, create_group  # noqa: E402
from tests.servers.scim2_fixture import start_scim2_server, stop_process  # noqa: E402

TOKEN = "bench-" + "t" * 16
os.environ.setdefault("BENCH_TOKEN", TOKEN)
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_body(i: int) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "externalId": f"u{i:05d}", "userName": f"user{i:05d}@example.com",
            "displayName": f"User {i}", "emails": [{"value": f"user{i:05d}@example.com", "primary": True, "type": "work"}],
            "active": True}


def write_project(root: Path, url: str, n_users: int, groups: dict[int, list[int]], profile: str = "generic") -> None:
    (root / "desired-state").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    (root / "desired-state" / "users.yaml").write_text("users:\n" + "".join(
        f"  - {{externalId: u{i:05d}, userName: user{i:05d}@example.com, displayName: User {i}}}\n" for i in range(n_users)))
    (root / "desired-state" / "groups.yaml").write_text("groups:\n" + "".join(
        f"  - {{externalId: g{g:03d}, displayName: Group {g}, members: [{', '.join(f'u{m:05d}' for m in ms)}]}}\n"
        for g, ms in groups.items()))
    (root / "policies" / "app.yaml").write_text(
        f"target: app\nconnection: {{url: '{url}', token_env: BENCH_TOKEN, profile: {profile}}}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def bare_read(base: str, path: str, params: dict[str, str] | None = None) -> int:
    seen: set[str] = set()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300) as http:
        start = 1
        while True:
            doc = json.loads(http.get(path, params={"startIndex": start, "count": 1000, **(params or {})}).content)
            res = doc.get("Resources", [])
            seen.update(r["id"] for r in res)
            if len(seen) >= doc["totalResults"] or not res:
                return len(seen)
            start += len(res)


def plan_in_process(root: Path) -> Any:
    project = load_project(root, cache=True)  # as `reconcile plan` does
    t = project.targets[0]
    conn = connection_info(t)
    port = TargetClient(open_client(conn, read_only=True))
    try:
        live = port.read_all()
    finally:
        port.close()
    return make_plan(project, t, live, LocalStore(root, "app").load(), conn,
                     now=datetime(2026, 12, 4), overrides=Overrides())


def p1(server: Any, n_users: int, rounds: int) -> list[str]:
    base = server.tenant_url("p1")
    bulk_create_users(base, TOKEN, [user_body(i) for i in range(n_users)])
    groups = {g: [(g * 50 + k) % n_users for k in range(50)] for g in range(500)}
    ids = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300) as http:
        start = 1
        while True:
            doc = http.get("/Users", params={"startIndex": start, "count": 1000}).json()
            for r in doc["Resources"]:
                ids[r["externalId"]] = r["id"]
            start += len(doc["Resources"])
            if start > doc["totalResults"]:
                break
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda g: create_group(base, TOKEN, f"Group {g}", f"g{g:03d}", [ids[f"u{m:05d}"] for m in groups[g]]), groups))
    root = Path(tempfile.mkdtemp())
    os.environ["BENCH_TOKEN"] = TOKEN
    write_project(root, base, n_users, groups)
    floor, ours, cpu = [], [], []
    for _ in range(rounds):
        w, _, _ = timed(lambda: (bare_read(base, "/Users"), bare_read(base, "/Groups")))
        floor.append(w)
        w, c, plan = timed(lambda: plan_in_process(root))
        assert not plan.actions, [a.kind for a in plan.actions][:5]
        ours.append(w)
        cpu.append(c)
    f, o = min(floor), min(ours)
    # the first round parses the YAML (cold), the next ones read it from the parse cache
    return [f"P1 plan {n_users} users / 500 groups x 50 (in sync) | floor {f:.2f} s | reconcile plan {o:.2f} s "
            f"(CPU {min(cpu):.2f} s, incl. YAML load) | ratio {o / f:.2f}x | first round, YAML parsed: "
            f"{ours[0]:.2f} s (CPU {cpu[0]:.2f} s), {ours[0] / f:.2f}x"]


def p2(server: Any, n_users: int, n_groups: int, rounds: int) -> list[str]:
    lines = []
    floor_w, ours_w, counts = [], [], {}
    groups = {g: [(g * 4 + k) % n_users for k in range(4)] for g in range(n_groups)}
    for r in range(rounds):
        # floor: fresh tenant, the same empty groups, then exactly the minimal writes, 4 at a time
        base = server.tenant_url(f"p2floor{r}")
        gids = _empty_groups(base, n_groups)

        def floor_run() -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
                              timeout=300, limits=httpx.Limits(max_connections=8)) as http, ThreadPoolExecutor(4) as pool:
                made = dict(pool.map(lambda i: (i, http.post("/Users", json=user_body(i)).json()["id"]), range(n_users)))
                list(pool.map(lambda g: http.patch(f"/Groups/{gids[g]}", json={"schemas": [PATCH_SCHEMA], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": made[m]} for m in groups[g]]}]}), groups))

        w, _, _ = timed(floor_run)
        floor_w.append(w)
        # reconcile: fresh tenant with the same groups (managed by externalId), plan then apply
        base = server.tenant_url(f"p2ours{r}")
        _empty_groups(base, n_groups)
        root = Path(tempfile.mkdtemp())
        write_project(root, base, n_users, groups)
        plan = plan_in_process(root)
        assert plan.summary["create_user"] == n_users and plan.summary["change_members"] == n_groups
        port = TargetClient(open_client(plan.connection, read_only=False))
        try:
            w, _, result = timed(lambda: apply_plan(plan, port, LocalStore(root, "app"), now=lambda: iso(datetime(2026, 12, 4))))
            counts = dict(port.client.request_counts)
        finally:
            port.close()
        assert not result.failed
        ours_w.append(w)
        again = plan_in_process(root)
        assert not again.actions
    writes = {k: v for k, v in counts.items() if k != "GET"}
    f, o = min(floor_w), min(ours_w)
    lines.append(f"P2 apply {n_users} creates + {n_groups} membership changes | floor {f:.2f} s | reconcile apply {o:.2f} s | ratio {o / f:.2f}x")
    lines.append(f"   requests: writes {writes} (minimum: POST {n_users}, PATCH {n_groups}); "
                 f"reads for the stale check: GET {counts.get('GET', 0)}")
    return lines


def _empty_groups(base: str, n: int) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda g: create_group(base, TOKEN, f"Group {g}", f"g{g:03d}", []), range(n)))


def p4(n_users: int, n_groups: int) -> list[str]:
    from tests.servers.bitwarden import BitwardenServer

    server = BitwardenServer(token=TOKEN)
    try:
        org = server.create_org(token=TOKEN)
        root = Path(tempfile.mkdtemp())
        groups = {g: [(g * 30 + k) % n_users for k in range(30)] for g in range(n_groups)}
        write_project(root, org.base_url, n_users, groups, profile="bitwarden")
        org.clear_log()
        plan = plan_in_process(root)
        plan_reads = len(org.log())
        org.clear_log()
        port = TargetClient(open_client(plan.connection, read_only=False))
        try:
            w, _, result = timed(lambda: apply_plan(plan, port, LocalStore(root, "app"), now=lambda: iso(datetime(2026, 12, 4))))
        finally:
            port.close()
        assert not result.failed
        log = org.log()
        writes = [e for e in log if e["write"]]
        reads = [e for e in log if e["method"] == "GET"]
        minimal = n_users + n_groups + n_groups
        org.clear_log()
        again = plan_in_process(root)
        second_writes = len(org.writes())
        return [
            f"P4 Bitwarden bootstrap {n_users} users / {n_groups} groups x 30: plan {plan_reads} GETs; apply {w:.2f} s, "
            f"{len(writes)} writes (minimum {minimal}: {n_users} POST /Users, {n_groups} POST /Groups, {n_groups} PATCH), "
            f"{len(reads)} GETs (stale check and read-backs)",
            f"   second plan: {len(again.actions)} actions, {second_writes} writes; membership writes "
            f"(org-wide resyncs) {org.counters.get('membership_writes')}",
        ]
    finally:
        server.close()


def main() -> int:
    from reconciler.runtime import tune_gc

    tune_gc()  # as the `reconcile` command does
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--p1-users", type=int, default=10_000)
    ap.add_argument("--p2-users", type=int, default=2_000)
    ap.add_argument("--p2-groups", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default="p1,p2,p4")
    args = ap.parse_args()
    print(f"# {datetime.now().isoformat(timespec='seconds')} · {platform.node()} · {os.cpu_count()} cores · "
          f"Python {platform.python_version()}")
    out: list[str] = []
    server = start_scim2_server(TOKEN)
    try:
        if "p1" in args.only:
            out += p1(server, args.p1_users, args.rounds)
        if "p2" in args.only:
            out += p2(server, args.p2_users, args.p2_groups, args.rounds)
    finally:
        stop_process(server.process)
    if "p4" in args.only:
        out += p4(300, 10)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Read speed of the SCIM client on scim2-server: fetch_live against a bare httpx loop.

Starts scim2-server 0.8.3 on a free loopback port, seeds one tenant with N users (Bulk) and
optionally G groups of M members, then alternates, R times each:

- bare:       httpx.Client, GET /Users?startIndex=…&count=1000 until totalResults, json.loads
              (and the same for /Groups when there are groups): the floor for the same pages;
- list_users: ScimClient.list_users() (paging checks, de-duplication, pydantic wire models);
- fetch_live: the whole read-only read the planner does (discovery, users and groups,
              conversion to a sorted LiveState).

Wall time is dominated by the server (scim-servers.md: a page of 1,000 users ≈ 0.7 s of its
CPU), so the client's own CPU time (this process) is reported separately.

    .venv/bin/python benchmarks/read_speed.py [--users 10000] [--groups 0] [--members 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.live import fetch_live  # noqa: E402
from reconciler.scim import ScimClient  # noqa: E402
from tests.scim.helpers import bulk_create_users, create_group, user_body  # noqa: E402
from tests.servers.scim2_fixture import start_scim2_server, stop_process  # noqa: E402

TOKEN = "bench-token"


def bare_read(base_url: str, path: str) -> int:
    seen: set[str] = set()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300) as http:
        start = 1
        while True:
            doc = json.loads(http.get(path, params={"startIndex": start, "count": 1000}).content)
            resources = doc.get("Resources", [])
            seen.update(r["id"] for r in resources)
            if len(seen) >= doc["totalResults"] or not resources:
                return len(seen)
            start += len(resources)


def measure(fn: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=0)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    server = start_scim2_server(TOKEN)
    try:
        base = server.tenant_url("bench")
        t0 = time.perf_counter()
        ids = bulk_create_users(base, TOKEN, [user_body(i) for i in range(args.users)])
        for g in range(args.groups):
            members = [ids[(g * 31 + k * 7) % len(ids)] for k in range(args.members)]
            create_group(base, TOKEN, f"Group {g}", f"grp-{g}", sorted(set(members)))
        print(f"seeded {args.users} users and {args.groups} groups in {time.perf_counter() - t0:.1f} s")

        def bare() -> int:
            n = bare_read(base, "/Users")
            if args.groups:
                bare_read(base, "/Groups")
            return n

        def ours_list() -> int:
            with ScimClient(base, TOKEN, read_only=True) as client:
                return len(client.list_users())

        def ours_live() -> int:
            with ScimClient(base, TOKEN, read_only=True) as client:
                return len(fetch_live(client).users)

        runs: dict[str, list[tuple[float, float, int]]] = {"bare httpx": [], "list_users": [], "fetch_live": []}
        for _ in range(args.rounds):
            for name, fn in (("bare httpx", bare), ("list_users", ours_list), ("fetch_live", ours_live)):
                runs[name].append(measure(fn))
    finally:
        stop_process(server.process)

    what = f"{args.users} users" + (f" + {args.groups} groups x {args.members}" if args.groups else "")
    print(f"\nread of {what} on scim2-server 0.8.3, loopback, {args.rounds} rounds (median, best)")
    print(f"{'reader':<12} {'wall s':>14} {'users/s':>10} {'client CPU s':>14}")
    base_wall = statistics.median(w for w, _, _ in runs["bare httpx"])
    for name, rows in runs.items():
        assert all(n == args.users for _, _, n in rows), f"{name} read an incomplete set"
        walls = [w for w, _, _ in rows]
        cpus = [c for _, c, _ in rows]
        med = statistics.median(walls)
        print(f"{name:<12} {med:>7.2f} ({min(walls):>4.2f}) {args.users / med:>10.0f} "
              f"{statistics.median(cpus):>7.2f} ({min(cpus):>4.2f})   x{med / base_wall:.2f}")


if __name__ == "__main__":
    main()

"""Import speed for 10,000 accounts: the pure part (reconciler.importer.run_import on a LiveState),
the read through fetch_live on scim2-server beside a bare httpx read of the same pages, and the
`reconcile import` command end to end. Prints a table (best of --rounds).

    .venv/bin/python benchmarks/import_speed.py [--users 10000] [--groups 500] [--members 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from click.testing import CliRunner  # noqa: E402

from benchmarks.plan_apply import TOKEN, bare_read, user_body  # noqa: E402
from reconciler.cli import cli  # noqa: E402
from reconciler.importer import run_import  # noqa: E402
from reconciler.live import LiveGroup, LiveState, LiveUser, fetch_live  # noqa: E402
from reconciler.scim import ScimClient  # noqa: E402
from reconciler.state.model import State  # noqa: E402
from tests.scim.helpers import bulk_create_users, create_group  # noqa: E402
from tests.servers.scim2_fixture import start_scim2_server, stop_process  # noqa: E402

NOW = datetime(2026, 12, 4, 13, 4, 50)


def best(rounds: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall time and its CPU time over `rounds` runs, and the last result."""
    runs = []
    result = None
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - w, time.process_time() - c))
    wall, cpu = min(runs)
    return wall, cpu, result


def synthetic(n_users: int, n_groups: int, n_members: int) -> LiveState:
    rnd = random.Random(1)
    users = tuple(
        LiveUser(id=f"id{i:06d}", external_id=None if i % 10 == 0 else f"u{i:05d}", user_name=f"user{i:05d}@example.com",
                 emails=(f"user{i:05d}@example.com",), display_name=f"User {i}", given_name="User",
                 family_name=str(i), active=i % 13 != 0)
        for i in range(n_users)
    )
    ids = [u.id for u in users]
    groups = tuple(
        LiveGroup(id=f"g{g:04d}", external_id=f"grp{g:04d}", display_name=f"Group {g}",
                  members=tuple(sorted(rnd.sample(ids, min(n_members, len(ids))))))
        for g in range(n_groups)
    )
    return LiveState(users=users, groups=groups)


def fresh_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="import-bench-"))
    (root / "desired-state").mkdir()
    (root / "policies").mkdir()
    return root


def pure_import(live: LiveState, *, merge: bool = False, root: Path | None = None, adopt: bool = True) -> Any:
    root = root or fresh_root()
    return run_import(root=root, target_name="app", live=live, state=State(target="app"), out=None, merge=merge,
                      include_unmanaged=True, adopt=adopt, now=NOW, profile="generic")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--members", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []

    live = synthetic(args.users, args.groups, args.members)
    wall, cpu, report = best(args.rounds, lambda: pure_import(live))
    size = sum(p.stat().st_size for p in report.files_written)
    rows.append((f"run_import, pure ({args.users} users, {args.groups} groups x {args.members}, --adopt)",
                 f"{wall:.2f} s", f"CPU {cpu:.2f} s, {size / 1e6:.2f} MB of YAML"))
    root = Path(report.files_written[0]).parent.parent
    wall, cpu, _ = best(args.rounds, lambda: pure_import(live, merge=True, root=root))
    rows.append(("run_import --merge, everything already declared", f"{wall:.2f} s", f"CPU {cpu:.2f} s"))
    small = fresh_root()
    hand = small / "desired-state" / "people.yaml"
    hand_text = "# by hand\nusers:\n  - {externalId: x1, userName: x1@example.com}  # kept\ngroups:\n  - {externalId: gx, displayName: X}\n"

    def merge_into_small() -> Any:
        hand.write_text(hand_text)
        return pure_import(live, merge=True, root=small)

    wall, cpu, _ = best(args.rounds, merge_into_small)
    rows.append(("run_import --merge of everything into a small hand-written file", f"{wall:.2f} s", f"CPU {cpu:.2f} s"))

    server = start_scim2_server(TOKEN)
    try:
        base = server.tenant_url("imp")
        ids = bulk_create_users(base, TOKEN, [user_body(i) for i in range(args.users)])
        rnd = random.Random(2)
        for g in range(args.groups):
            create_group(base, TOKEN, f"Group {g}", f"g{g:04d}", rnd.sample(ids, min(args.members, len(ids))))
        wall, cpu, _ = best(args.rounds, lambda: (bare_read(base, "/Users"), bare_read(base, "/Groups")))
        rows.append(("floor: bare httpx read of the same pages (scim2-server)", f"{wall:.2f} s", f"CPU {cpu:.2f} s"))
        floor = wall

        def read() -> LiveState:
            with ScimClient(base, TOKEN, read_only=True) as client:
                return fetch_live(client)

        wall, cpu, served = best(args.rounds, read)
        rows.append(("fetch_live (read-only client)", f"{wall:.2f} s", f"CPU {cpu:.2f} s; {wall / floor:.2f}x the floor"))
        w2, c2, _ = best(args.rounds, lambda: pure_import(served))
        rows.append(("fetch_live + run_import (--adopt)", f"{wall + w2:.2f} s",
                     f"CPU {cpu + c2:.2f} s; {(wall + w2) / floor:.2f}x the floor"))

        def command() -> None:
            cli_root = fresh_root()
            (cli_root / "policies" / "app.yaml").write_text(
                f"target: app\nconnection: {{url: '{base}', token_env: BENCH_TOKEN}}\n")
            r = CliRunner().invoke(cli, ["import", "--target", "app", "--root", str(cli_root)],
                                   env={**os.environ, "BENCH_TOKEN": TOKEN})
            assert r.exit_code == 0, r.output
            shutil.rmtree(cli_root)

        wall, cpu, _ = best(args.rounds, command)
        rows.append(("`reconcile import` command, end to end (as cli.py wires it)", f"{wall:.2f} s",
                     f"CPU {cpu:.2f} s; {wall / floor:.2f}x the floor"))
    finally:
        stop_process(server.process)

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'wall':>8}  notes")
    for what, wall_text, notes in rows:
        print(f"{what:<{width}}  {wall_text:>8}  {notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

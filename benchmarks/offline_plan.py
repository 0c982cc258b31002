"""P3: offline plan from a saved snapshot, 10,000 and 100,000 users with 10,000 groups.

Each size runs in a fresh subprocess (so that peak RSS is its own): it writes the desired-state
YAML and a live snapshot (every user exists, 2% need an update, 1% left the rule, groups of
~10 members with a few changes), then times load + resolve + diff + plan build (CPU seconds)
and reports the peak RSS: the median of three runs, cold (YAML parsed) and warm (from the parse
cache). Prints a table and t(100k)/t(10k), then the `reconcile plan --snapshot` command end to end.

    .venv/bin/python benchmarks/offline_plan.py [--sizes 10000,100000] [--groups 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(root: Path, n_users: int, n_groups: int) -> Path:
    (root / "desired-state").mkdir(parents=True)
    (root / "policies").mkdir()
    users, live_users = [], []
    for i in range(n_users):
        dept = "sales" if i % 100 == 0 else "eng"
        users.append(
            f"  - {{externalId: u{i:06d}, userName: user{i:06d}@example.com, displayName: User {i}, "
            f"attributes: {{dept: {dept}, level: {i % 9}}}}}\n"
        )
        live_users.append({"id": f"id{i:06d}", "external_id": f"u{i:06d}", "user_name": f"user{i:06d}@example.com",
                           "emails": [f"user{i:06d}@example.com"],
                           "display_name": f"User {i}" if i % 50 else f"Old {i}", "active": True})
    (root / "desired-state" / "users.yaml").write_text("users:\n" + "".join(users))
    groups, live_groups = [], []
    for g in range(n_groups):
        members = [(g * 7 + k * 13) % n_users for k in range(10)]
        groups.append(f"  - {{externalId: g{g:05d}, displayName: Group {g}, members: [{', '.join(f'u{m:06d}' for m in members)}]}}\n")
        live = [f"id{m:06d}" for m in members[:-1]] + ([f"id{(g * 3) % n_users:06d}"] if g % 10 == 0 else [])
        live_groups.append({"id": f"gid{g:05d}", "external_id": f"g{g:05d}", "display_name": f"Group {g}", "members": sorted(set(live))})
    (root / "desired-state" / "groups.yaml").write_text("groups:\n" + "".join(groups))
    (root / "policies" / "app.yaml").write_text(
        "connection: {url: 'http://127.0.0.1:9/v2', token_env: APP_TOKEN}\n"
        "rule: {user_filter: {conditions: [{attribute: attributes.dept, operator: equals, value: eng}]}}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n"
    )
    snap = root / "live.json"
    snap.write_text(json.dumps({"format": "reconcile-live-snapshot", "format_version": 1,
                                "live": {"users": live_users, "groups": live_groups, "members_readable": True, "source": "snapshot"}}))
    return snap


def measure(root: str) -> None:
    from datetime import datetime

    from reconciler.config.checks import check_project
    from reconciler.config.load import load_project
    from reconciler.live import load_snapshot
    from reconciler.planner import connection_info, make_plan
    from reconciler.policy import Overrides
    from reconciler.runtime import no_cycle_collection, tune_gc
    from reconciler.state.model import State

    tune_gc()  # as the `reconcile` command does, and `plan` pauses cycle collection
    with no_cycle_collection():
        t0 = time.process_time()
        project = load_project(Path(root), cache=True)
        diags = check_project(project, env={"APP_TOKEN": "x"})
        t_load = time.process_time() - t0
        live = load_snapshot(Path(root) / "live.json")
        t_snap = time.process_time() - t0 - t_load
        target = project.targets[0]
        plan = make_plan(project, target, live, State(target="app"), connection_info(target, env={}),
                         now=datetime(2026, 12, 4), overrides=Overrides())
        total = time.process_time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load_validate": t_load, "snapshot": t_snap, "total": total, "rss_mb": rss,
                      "actions": len(plan.actions), "errors": sum(d.severity.value == "error" for d in diags)}))


ROUNDS = 3


def _cli(root: str) -> dict[str, float]:
    """`reconcile plan --snapshot` end to end, as a user runs it: interpreter start, imports,
    load, validate, plan, the text rendering and the plan file. CPU and peak RSS of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "reconciler", "plan", "--root", root, "--target", "app",
                    "--snapshot", str(Path(root) / "live.json"), "--out", str(Path(root) / "plan.json")],
                   env={**os.environ, "APP_TOKEN": "x"}, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"total": cpu, "rss_mb": after.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--groups", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--measure")
    args = ap.parse_args()
    if args.measure:
        measure(args.measure)
        return 0
    rows = []
    cli_rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), n, args.groups)
            for run in ("cold", "warm"):  # warm: the unchanged YAML comes from the parse cache
                runs = []
                for _ in range(args.rounds):
                    if run == "cold":
                        shutil.rmtree(Path(tmp) / ".reconcile", ignore_errors=True)
                    out = subprocess.run([sys.executable, __file__, "--measure", tmp], capture_output=True, text=True, check=True)
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                rows.append((f"{n} {run}", _median(runs)))
            shutil.rmtree(Path(tmp) / ".reconcile", ignore_errors=True)
            cli_rows.append((f"{n} cold", _cli(tmp)))
            cli_rows.append((f"{n} warm", _cli(tmp)))
    print(f"P3 offline plan ({args.groups} groups), {os.cpu_count()} cores, median of {args.rounds} runs "
          "(each in a fresh process; peak RSS: the largest of the runs)")
    print(f"{'users':>12} {'load+validate s':>16} {'snapshot s':>11} {'total CPU s':>12} {'peak RSS MB':>12} {'actions':>8}")
    for n, r in rows:
        print(f"{n:>12} {r['load_validate']:>16.2f} {r['snapshot']:>11.2f} {r['total']:>12.2f} {r['rss_mb']:>12.0f} {r['actions']:>8}")
    if len(rows) == 4:
        for k, run in ((0, "cold"), (1, "warm")):
            print(f"t({rows[2 + k][0]})/t({rows[k][0]}) = {rows[2 + k][1]['total'] / rows[k][1]['total']:.2f} ({run})")
    print("`reconcile plan --snapshot` end to end (interpreter, imports, rendering and plan file included), one run:")
    for n, r in cli_rows:
        print(f"{n:>12} CPU {r['total']:.2f} s, peak RSS {r['rss_mb']:.0f} MB")
    return 0


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["rss_mb"] = max(r["rss_mb"] for r in runs)
    out["actions"] = runs[0]["actions"]
    return out


if __name__ == "__main__":
    sys.exit(main())

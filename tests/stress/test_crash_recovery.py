"""Crash recovery: kill -9 the apply process at 20 seeded random points of a large apply.

Each time the state file must still parse, and the next plan + apply must converge: no duplicate
accounts, server truth equal to the desired state, a final plan with zero actions.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from reconciler.state.model import State

N_USERS = 240
N_GROUPS = 12


def write_project(root: Path, url: str, variant: int) -> None:
    (root / "desired-state").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(exist_ok=True)
    # variant flips who is in scope and who is in which group, so every apply has work to do
    users = [f"  - {{externalId: u{i:04d}, userName: user{i:04d}@example.com, displayName: 'User {i}', "
             f"attributes: {{keep: {'yes' if (i + variant) % 3 else 'no'}}}}}\n" for i in range(N_USERS)]
    (root / "desired-state" / "users.yaml").write_text("users:\n" + "".join(users))
    groups = []
    for g in range(N_GROUPS):
        members = [f"u{i:04d}" for i in range(N_USERS) if (i * 7 + g + variant) % 5 == 0]
        groups.append(f"  - {{externalId: g{g:02d}, displayName: 'Group {g}', members: [{', '.join(members)}]}}\n")
    (root / "desired-state" / "groups.yaml").write_text("groups:\n" + "".join(groups))
    (root / "policies" / "app.yaml").write_text(
        f"connection: {{url: '{url}', token_env: APP_TOKEN}}\n"
        "rule: {user_filter: {conditions: [{attribute: attributes.keep, operator: equals, value: 'yes'}]}}\n"
        "removal: {action: disable}\n"
        "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n"
    )


def cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args, "--root", str(root)],
                          env=env, capture_output=True, text=True, timeout=300)


def test_kill_minus_nine_at_random_points(tmp_path: Path, scim2_tenant: Any) -> None:
    env = {**os.environ, "APP_TOKEN": scim2_tenant.token}
    rng = random.Random(20261204)
    state_file = tmp_path / ".reconcile" / "state" / "app.json"
    durations: list[float] = []
    kills = 0
    for round_ in range(20):
        write_project(tmp_path, scim2_tenant.base_url, round_ % 2)
        r = cli(tmp_path, env, "plan", "--out", str(tmp_path / "plan.json"))
        assert r.returncode == 0, r.stderr
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", str(tmp_path / "plan.json"),
                                 "--root", str(tmp_path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        began = time.monotonic()
        budget = (sum(durations) / len(durations)) if durations else 1.5
        # a point inside the apply: after start-up, before the typical end
        time.sleep(rng.uniform(0.3, max(0.4, 0.8 * budget)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if proc.returncode == 0:
            durations.append(time.monotonic() - began)
        if state_file.exists():
            State.model_validate_json(state_file.read_text())  # parses, whatever the moment
    assert kills >= 10, f"only {kills} of 20 applies were killed mid-run"
    # converge: at most two plan+apply rounds, then nothing left to do
    write_project(tmp_path, scim2_tenant.base_url, 0)
    for _ in range(2):
        r = cli(tmp_path, env, "plan", "--out", str(tmp_path / "plan.json"), "--detailed-exitcode")
        if r.returncode == 0:
            break
        assert r.returncode == 2, r.stderr
        a = cli(tmp_path, env, "apply", str(tmp_path / "plan.json"))
        assert a.returncode == 0, a.stdout + a.stderr
    final = cli(tmp_path, env, "plan", "--detailed-exitcode", "--format", "json")
    assert final.returncode == 0, final.stdout[-3000:]
    users = httpx.get(scim2_tenant.base_url + "/Users", params={"count": 1000},
                      headers={"Authorization": f"Bearer {scim2_tenant.token}"}).json()["Resources"]
    ext_ids = [u["externalId"] for u in users]
    assert len(ext_ids) == len(set(ext_ids))  # no duplicate account, whatever the kills
    wanted = {f"u{i:04d}" for i in range(N_USERS) if i % 3}
    active = {u["externalId"] for u in users if u.get("active", True)}
    assert active == wanted  # every user in scope exists and is enabled; nobody else is enabled
    assert set(ext_ids) >= wanted
    json.loads(state_file.read_text())

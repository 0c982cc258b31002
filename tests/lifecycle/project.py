"""A small project on disk for lifecycle tests, pointed at a test server, and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import cli

USERS = [
    ("u-ann", "ann", "eng"), ("u-ben", "ben", "eng"), ("u-cat", "cat", "ops"),
    ("u-dan", "dan", "sales"), ("u-eve", "eve", "eng"),
]


def users_yaml(users: list[tuple[str, str, str]], extra: Mapping[str, str] | None = None) -> str:
    lines = ["users:"]
    for ext, name, dept in users:
        lines.append(f"  - externalId: {ext}")
        lines.append(f"    userName: {name}@example.com")
        lines.append(f"    displayName: {name.title()} Example")
        lines.append(f"    attributes: {{dept: {dept}}}")
        if extra and ext in extra:
            lines.append(f"    {extra[ext]}")
    return "\n".join(lines) + "\n"


GROUPS = """groups:
  - externalId: g-eng
    displayName: Engineering
    members: [ann@example.com, ben@example.com, eve@example.com, dan@example.com]
  - externalId: g-ops
    displayName: Ops
    members: [cat@example.com, ann@example.com]
"""


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    profile: str
    rule: str = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops, sales]}]}"
    removal: str = "{action: disable}"
    extra_policy: str = ""
    capabilities: str = ""
    calls: list[list[str]] = field(default_factory=list)

    def write(self, users: list[tuple[str, str, str]] = USERS, groups: str = GROUPS,
              extra: Mapping[str, str] | None = None) -> None:
        (self.root / "desired-state").mkdir(parents=True, exist_ok=True)
        (self.root / "policies").mkdir(exist_ok=True)
        (self.root / "desired-state" / "users.yaml").write_text(users_yaml(users, extra))
        (self.root / "desired-state" / "groups.yaml").write_text(groups)
        (self.root / "policies" / "app.yaml").write_text(
            "target: app\n"
            "connection: {url: '${APP_URL}', token_env: APP_TOKEN, profile: " + self.profile
            + (f", capabilities: {self.capabilities}" if self.capabilities else "") + "}\n"
            f"rule: {{user_filter: {self.rule}}}\n"
            f"removal: {self.removal}\n"
            "safety: {max_user_removals: 100%, max_membership_removals: 100%}\n" + self.extra_policy
        )

    def run(self, *args: str, expect: int | tuple[int, ...] = 0) -> Result:
        argv = [a.replace("{root}", str(self.root)) for a in args]
        self.calls.append(argv)
        r = CliRunner().invoke(cli, argv, env=self.env, catch_exceptions=False)
        expected = (expect,) if isinstance(expect, int) else expect
        assert r.exit_code in expected, f"{argv} -> {r.exit_code}\n{r.output}"
        return r

    def plan(self, *extra: str, expect: int | tuple[int, ...] = (0, 2)) -> dict[str, Any]:
        out = self.root / "plan.json"
        self.run("plan", "--root", "{root}", "--out", str(out), "--detailed-exitcode", *extra, expect=expect)
        return json.loads(out.read_text())

    def apply(self, expect: int = 0) -> Result:
        return self.run("apply", str(self.root / "plan.json"), "--root", "{root}", expect=expect)

    def converge(self) -> dict[str, Any]:
        """plan + apply, then a second plan that must have no actions."""
        self.plan()
        self.apply()
        again = self.plan(expect=0)
        assert again["actions"] == [], [a["kind"] + " " + a["key"] for a in again["actions"]]
        return again


def kinds(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["key"]) for a in plan["actions"]]

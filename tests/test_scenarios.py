"""Golden scenarios: desired-state + policy + live snapshot + state -> the exact plan.

Each tests/scenarios/<case>/ holds the inputs (desired-state/, policies/app.yaml, live.json,
state.json, args.json) and the expected plan.json, plan.txt and plan.md. After an intended
change: pytest tests/test_scenarios.py --update-goldens, then review the diff like a plan.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.config.checks import check_project
from reconciler.config.load import load_project
from reconciler.errors import PlanFormatError, Severity
from reconciler.live import LiveState
from reconciler.plan import Plan, dumps, load_plan
from reconciler.planner import connection_info, make_plan
from reconciler.policy import Overrides
from reconciler.render import render
from reconciler.state.model import State

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CASES = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())


def plan_for(case: str) -> Plan:
    root = SCENARIOS / case
    project = load_project(root)
    errors = [d.render() for d in check_project(project, env={"APP_TOKEN": "x"}) if d.severity is Severity.ERROR]
    assert errors == []
    target = project.targets[0]
    args = json.loads((root / "args.json").read_text())
    live = LiveState.model_validate_json((root / "live.json").read_text())
    state = State.model_validate_json((root / "state.json").read_text())
    return make_plan(
        project,
        target,
        live,
        state,
        connection_info(target, env={}),
        now=datetime.strptime(args["now"], "%Y-%m-%dT%H:%M:%SZ"),
        overrides=Overrides(args.get("allow_removals"), bool(args.get("allow_empty"))),
        commit=("0123456789abcdef0123456789abcdef01234567", False),
    )


def test_there_are_enough_scenarios() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_scenario(case: str, request: pytest.FixtureRequest) -> None:
    plan = plan_for(case)
    outputs = {
        "plan.json": dumps(plan),
        "plan.txt": render(plan, "text"),
        "plan.md": render(plan, "markdown"),
    }
    for name, text in outputs.items():
        golden = SCENARIOS / case / name
        if request.config.getoption("--update-goldens"):
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{case}/{name} differs"


@pytest.mark.parametrize("case", CASES[:5])
def test_plan_is_deterministic_and_round_trips(case: str, tmp_path: Path) -> None:
    a, b = plan_for(case), plan_for(case)
    assert dumps(a) == dumps(b)
    path = tmp_path / "plan.json"
    path.write_text(dumps(a))
    assert load_plan(path) == a


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "is not a plan file (a plan has format_version and actions)"),
        ('{"users": {}}', "is not a plan file"),
        ("[1, 2]", "is not a plan file"),
        ("\x00\x01", "is not a plan file (invalid JSON"),
        ('{"format_version": 7, "actions": []}', "plan format_version 7 is not supported"),
        ('{"format_version": 1, "actions": []}', "invalid plan ("),
    ],
)
def test_a_file_that_is_not_a_usable_plan_is_refused_with_a_reason(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(PlanFormatError, match=re.escape(message)):
        load_plan(path)

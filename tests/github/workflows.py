"""Reading the repository's workflow files: jobs, steps, and the `reconcile` command lines in them."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
OURS = ("reconcile-plan.yml", "reconcile-apply.yml", "reconcile-drift.yml", "ci.yml")

# `reconcile` in command position: line start, after `$(`, `!`, `;`, `&&`, `||`, `|` or a `case` label.
_COMMAND = re.compile(r"(?:^|\$\(|!\s|[;&|]\s*|\)\s)\s*(reconcile\s[^;|&)>\n]*)", re.MULTILINE)
# What the shell would make of the optional-flag idiom `${var:+"$var"}`: the flag, when set.
_OPTIONAL = re.compile(r'\$\{(\w+):\+"\$\1"\}')
OPTIONAL_VALUES = {"redact": "--redact", "REDACT_FLAG": "--redact", "failed": "--failed"}


def load(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def triggers(wf: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 readers turn the key `on` into True; ruamel's safe loader (1.2) keeps "on".
    on = wf["on"] if "on" in wf else wf.get(True)  # type: ignore[call-overload]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {k: None for k in on}
    return dict(on or {})


@dataclass(frozen=True)
class Step:
    workflow: str
    job: str
    index: int
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.data.get("id") or self.index)

    @property
    def run(self) -> str:
        return str(self.data.get("run") or "")


def steps(name: str) -> Iterator[Step]:
    wf = load(name)
    for job_id, job in (wf.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            yield Step(name, job_id, i, step)


@dataclass(frozen=True)
class CommandLine:
    step: Step
    text: str
    """The fragment as written, e.g. `reconcile github comment --pr "$PR_NUMBER" ...`."""

    def argv(self) -> list[str]:
        """The words after `reconcile`, with the optional-flag idiom expanded to its flag."""
        text = _OPTIONAL.sub(lambda m: OPTIONAL_VALUES.get(m.group(1), "--" + m.group(1)), self.text)
        return shlex.split(text)[1:]


def command_lines(name: str) -> list[CommandLine]:
    return [CommandLine(s, m.group(1).strip()) for s in steps(name) for m in _COMMAND.finditer(s.run)]
